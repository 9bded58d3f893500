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

    @JvmStatic external fun nativeFree(handle: Long)

    @JvmStatic external fun nativeEstimate(
        handle: Long, rgba: ByteArray, width: Int, height: Int, stride: Int, box: FloatArray?,
    ): FloatArray

    @JvmStatic external fun nativeBuildInfo(): String
}

/**
 * Head pose estimation with an ncnn model exported by `pyhpe export --format ncnn`.
 *
 * @param paramPath the .ncnn.param file (copy it from the app's assets to filesDir first)
 * @param binPath the .ncnn.bin file
 * @param inputSize the export's input side ("input_size" in its .ncnn.json sidecar)
 * @param matrixOutput true for exports made with --output-matrix
 * @param threads CPU threads for ncnn
 * @param fp16 ncnn's fp16 storage/arithmetic (faster on ARMv8.2, less accurate: docs/deployment.md)
 */
class HeadPoseEstimator(
    paramPath: String,
    binPath: String,
    inputSize: Int = 224,
    matrixOutput: Boolean = false,
    threads: Int = 2,
    fp16: Boolean = false,
) : Closeable {
    private var handle: Long = NativeBridge.nativeLoad(paramPath, binPath, inputSize, matrixOutput, threads, fp16)

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
    }
}
