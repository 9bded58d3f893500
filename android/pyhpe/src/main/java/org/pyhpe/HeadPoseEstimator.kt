package org.pyhpe

import android.graphics.Bitmap
import android.graphics.RectF
import java.io.Closeable
import java.nio.ByteBuffer

/** Head pose of one face: 6D, rotation matrix (head -> camera, row-major), Euler degrees. */
data class HeadPose(
    val sixd: FloatArray,
    val rotation: FloatArray,
    val pitch: Float,
    val yaw: Float,
    val roll: Float,
)

/** The JNI functions of libpyhpe_jni.so (android/pyhpe/src/main/cpp/pyhpe_jni.cpp). */
internal object NativeBridge {
    init {
        System.loadLibrary("pyhpe_jni")
    }

    @JvmStatic external fun nativeLoad(
        param: String, bin: String, inputSize: Int, matrixOutput: Boolean, threads: Int, fp16: Boolean,
    ): Long

    @JvmStatic external fun nativeLoadFromSidecar(
        param: String, bin: String, sidecar: String, threads: Int, fp16: Boolean,
    ): Long

    @JvmStatic external fun nativeFree(handle: Long)

    @JvmStatic external fun nativeEstimate(
        handle: Long, rgba: ByteArray, width: Int, height: Int, stride: Int, box: FloatArray?,
    ): FloatArray

    @JvmStatic external fun nativeBuildInfo(): String
}

/**
 * Head pose estimation with an ncnn model exported by `pyhpe export --format ncnn`.
 *
 * The model's options (input size, blobs, output kind, crop margin and resize, normalisation)
 * come from the export's sidecar, `<stem>.ncnn.json` beside `<stem>.ncnn.param` (copy it from the
 * app's assets with the model). The second constructor gives them by hand instead.
 *
 * @param paramPath the .ncnn.param file (copy it from the app's assets to filesDir first)
 * @param binPath the .ncnn.bin file
 * @param sidecarPath the export's .ncnn.json sidecar (default: the one beside [paramPath])
 * @param threads CPU threads for ncnn
 * @param fp16 ncnn's fp16 storage/arithmetic (faster on ARMv8.2, less accurate: docs/deployment.md)
 * @throws java.io.IOException when a file is missing; IllegalStateException for a malformed sidecar
 *   or model (the message says which field or file)
 */
class HeadPoseEstimator private constructor(private var handle: Long) : Closeable {
    constructor(
        paramPath: String,
        binPath: String,
        sidecarPath: String = sidecarFor(paramPath),
        threads: Int = 2,
        fp16: Boolean = false,
    ) : this(NativeBridge.nativeLoadFromSidecar(paramPath, binPath, sidecarPath, threads, fp16))

    /**
     * Options by hand, without a sidecar: 6DRepNet's crop (margin 0.2, resize 256/224) and
     * ImageNet normalisation.
     *
     * @param inputSize the export's input side ("input_size" in its sidecar's card)
     * @param matrixOutput true for exports whose graph returns the 3x3 matrix (output "R")
     */
    constructor(
        paramPath: String,
        binPath: String,
        inputSize: Int,
        matrixOutput: Boolean = false,
        threads: Int = 2,
        fp16: Boolean = false,
    ) : this(NativeBridge.nativeLoad(paramPath, binPath, inputSize, matrixOutput, threads, fp16))

    /** Pose of the face in [box] (pixels, x0 y0 x1 y1) of [bitmap] (converted to ARGB_8888 if needed). */
    fun estimate(bitmap: Bitmap, box: RectF): HeadPose {
        check(handle != 0L) { "HeadPoseEstimator is closed" }
        val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        val buffer = ByteBuffer.allocate(argb.rowBytes * argb.height)
        argb.copyPixelsToBuffer(buffer) // RGBA byte order in memory
        val out = NativeBridge.nativeEstimate(
            handle, buffer.array(), argb.width, argb.height, argb.rowBytes,
            floatArrayOf(box.left, box.top, box.right, box.bottom),
        )
        return HeadPose(out.copyOfRange(0, 6), out.copyOfRange(6, 15), out[15], out[16], out[17])
    }

    override fun close() {
        if (handle != 0L) {
            NativeBridge.nativeFree(handle)
            handle = 0L
        }
    }

    companion object {
        /** ncnn version and the CPU features ncnn detected. */
        fun buildInfo(): String = NativeBridge.nativeBuildInfo()

        /** The sidecar `pyhpe export` writes beside a model: x.ncnn.param -> x.ncnn.json. */
        fun sidecarFor(paramPath: String): String =
            if (paramPath.endsWith(".param")) paramPath.removeSuffix(".param") + ".json" else "$paramPath.json"
    }
}
