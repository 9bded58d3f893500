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

/**
 * 6DoF pose of one face (a TRGv2 model): rotation and translation of the head in the camera frame
 * (x_cam = R v + t, OpenCV axes: x right, y down, z forward; metres), its dense face and landmarks.
 *
 * @property rotation R (head -> camera), row-major 3x3
 * @property translation t, metres
 * @property correction the network's (s, τ̃x, τ̃y) that t was made of (Eq. 3)
 * @property intrinsics the camera used (fx, fy, cx, cy): the given one, or f = W + H at the image centre
 * @property cropMap (sx, tx, sy, ty): an image pixel (x, y) is the crop pixel (sx x + tx, sy y + ty)
 * @property vertices V x 3 head-frame vertices (metres), flattened
 * @property landmarks 68 x 2 landmarks in crop pixels, flattened ([landmarksInImage] maps them back)
 */
data class HeadPose6DoF(
    val sixd: FloatArray,
    val rotation: FloatArray,
    val pitch: Float,
    val yaw: Float,
    val roll: Float,
    val translation: FloatArray,
    val correction: FloatArray,
    val intrinsics: FloatArray,
    val cropMap: FloatArray,
    val vertices: FloatArray,
    val landmarks: FloatArray,
) {
    /** The number of vertices V. */
    val numVertices: Int get() = vertices.size / 3

    /** The landmarks in image pixels (68 x 2, flattened): the inverse of [cropMap]. */
    fun landmarksInImage(): FloatArray = FloatArray(landmarks.size) { i ->
        if (i % 2 == 0) (landmarks[i] - cropMap[1]) / cropMap[0] else (landmarks[i] - cropMap[3]) / cropMap[2]
    }

    companion object {
        /** The array of NativeBridge.nativeEstimate6DoF (layout in pyhpe_jni.cpp) as a result. */
        internal fun fromNative(out: FloatArray): HeadPose6DoF {
            val v = out[32].toInt()
            return HeadPose6DoF(
                out.copyOfRange(0, 6), out.copyOfRange(6, 15), out[15], out[16], out[17],
                out.copyOfRange(18, 21), out.copyOfRange(21, 24), out.copyOfRange(24, 28), out.copyOfRange(28, 32),
                out.copyOfRange(33, 33 + 3 * v), out.copyOfRange(33 + 3 * v, 33 + 3 * v + 136),
            )
        }
    }
}

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

    @JvmStatic external fun nativeIsSixDoF(handle: Long): Boolean

    @JvmStatic external fun nativeEstimate6DoF(
        handle: Long, rgba: ByteArray, width: Int, height: Int, stride: Int, box: FloatArray,
        intrinsics: FloatArray?,
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

    /** Whether the model is a 6DoF (TRGv2) model: use [estimate6DoF] instead of [estimate]. */
    val isSixDoF: Boolean
        get() {
            check(handle != 0L) { "HeadPoseEstimator is closed" }
            return NativeBridge.nativeIsSixDoF(handle)
        }

    /** Pose of the face in [box] (pixels, x0 y0 x1 y1) of [bitmap] (converted to ARGB_8888 if needed). */
    fun estimate(bitmap: Bitmap, box: RectF): HeadPose {
        check(handle != 0L) { "HeadPoseEstimator is closed" }
        val argb = rgba(bitmap)
        val out = NativeBridge.nativeEstimate(
            handle, argb.second, argb.first.width, argb.first.height, argb.first.rowBytes,
            floatArrayOf(box.left, box.top, box.right, box.bottom),
        )
        return HeadPose(out.copyOfRange(0, 6), out.copyOfRange(6, 15), out[15], out[16], out[17])
    }

    /**
     * 6DoF pose of the face in [box] (its landmarks' extent or a face detector's box, pixels) of the
     * full camera frame [bitmap], with the camera's [intrinsics] (fx, fy, cx, cy in pixels of this
     * bitmap; fx = fy) or null when unknown (f = W + H at the image centre, TRGv2's assumption).
     */
    fun estimate6DoF(bitmap: Bitmap, box: RectF, intrinsics: FloatArray? = null): HeadPose6DoF {
        check(handle != 0L) { "HeadPoseEstimator is closed" }
        require(intrinsics == null || intrinsics.size == 4) { "intrinsics must be (fx, fy, cx, cy)" }
        val argb = rgba(bitmap)
        val out = NativeBridge.nativeEstimate6DoF(
            handle, argb.second, argb.first.width, argb.first.height, argb.first.rowBytes,
            floatArrayOf(box.left, box.top, box.right, box.bottom), intrinsics,
        )
        return HeadPose6DoF.fromNative(out)
    }

    /** The ARGB_8888 bitmap and its pixels as RGBA bytes (what Bitmap.copyPixelsToBuffer writes). */
    private fun rgba(bitmap: Bitmap): Pair<Bitmap, ByteArray> {
        val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        val buffer = ByteBuffer.allocate(argb.rowBytes * argb.height)
        argb.copyPixelsToBuffer(buffer) // RGBA byte order in memory
        return Pair(argb, buffer.array())
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
