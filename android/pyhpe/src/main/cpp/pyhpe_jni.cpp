// JNI bridge over the pyhpe runtime C API (csrc/runtime/include/pyhpe_runtime.h) for
// org.pyhpe.NativeBridge (Kotlin `object` with @JvmStatic external functions).
//
// A model is loaded with the options of its export sidecar (nativeLoadFromSidecar: input size,
// blobs, output kind, crop and normalisation from <stem>.ncnn.json) or with options given by hand
// (nativeLoad: input size and output kind; 6DRepNet's crop and ImageNet normalisation).
//
// Pixels cross as a byte array of RGBA rows (what Bitmap.copyPixelsToBuffer writes for
// ARGB_8888), so the bridge needs only jni.h (no android/bitmap.h) and also builds for plain
// aarch64 Linux, which is how the tests compile it on machines without the Android NDK.
#include <jni.h>

#include <string>

#include "pyhpe_runtime.h"

namespace {

void throw_java(JNIEnv* env, const char* cls, const std::string& message) {
  jclass c = env->FindClass(cls);
  if (c) env->ThrowNew(c, message.c_str());
}

void throw_status(JNIEnv* env, pyhpe_status st) {
  const char* cls = st == PYHPE_ERR_ARGUMENT ? "java/lang/IllegalArgumentException"
                    : st == PYHPE_ERR_IO     ? "java/io/IOException"
                                             : "java/lang/IllegalStateException";
  throw_java(env, cls, std::string("pyhpe: ") + pyhpe_status_string(st) + ": " + pyhpe_last_error());
}

pyhpe_model* handle(JNIEnv* env, jlong h) {
  if (h == 0) throw_java(env, "java/lang/IllegalStateException", "pyhpe: the model is closed");
  return reinterpret_cast<pyhpe_model*>(h);
}

std::string utf8(JNIEnv* env, jstring s) {
  if (!s) return std::string();
  const char* c = env->GetStringUTFChars(s, nullptr);
  std::string out(c ? c : "");
  if (c) env->ReleaseStringUTFChars(s, c);
  return out;
}

// Loads param/bin with `opt` (threads and precision set here); 0 with a Java exception on failure.
jlong load(JNIEnv* env, jstring param, jstring bin, pyhpe_options opt, jint threads, jboolean fp16) {
  opt.num_threads = threads;
  opt.precision = fp16 ? PYHPE_PRECISION_FP16 : PYHPE_PRECISION_FP32;
  pyhpe_model* model = nullptr;
  pyhpe_status st = pyhpe_model_load(utf8(env, param).c_str(), utf8(env, bin).c_str(), &opt, &model);
  if (st != PYHPE_OK) {
    throw_status(env, st);
    return 0;
  }
  return reinterpret_cast<jlong>(model);
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_pyhpe_NativeBridge_nativeLoad(JNIEnv* env, jclass, jstring param, jstring bin,
                                                                jint input_size, jboolean matrix_output,
                                                                jint threads, jboolean fp16) {
  if (!param || !bin) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: null model path");
    return 0;
  }
  pyhpe_options opt;
  pyhpe_options_default(&opt);
  opt.input_size = input_size;
  opt.output_kind = matrix_output ? PYHPE_OUTPUT_MATRIX : PYHPE_OUTPUT_6D;
  return load(env, param, bin, opt, threads, fp16);
}

JNIEXPORT jlong JNICALL Java_org_pyhpe_NativeBridge_nativeLoadFromSidecar(JNIEnv* env, jclass, jstring param,
                                                                           jstring bin, jstring sidecar,
                                                                           jint threads, jboolean fp16) {
  if (!param || !bin || !sidecar) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: null model or sidecar path");
    return 0;
  }
  pyhpe_options opt;
  pyhpe_status st = pyhpe_options_from_sidecar(utf8(env, sidecar).c_str(), &opt);
  if (st != PYHPE_OK) {
    throw_status(env, st);
    return 0;
  }
  return load(env, param, bin, opt, threads, fp16);
}

JNIEXPORT void JNICALL Java_org_pyhpe_NativeBridge_nativeFree(JNIEnv*, jclass, jlong h) {
  pyhpe_model_free(reinterpret_cast<pyhpe_model*>(h));
}

// Returns 18 floats: 6D (6), R row-major (9), pitch/yaw/roll in degrees (3).
JNIEXPORT jfloatArray JNICALL Java_org_pyhpe_NativeBridge_nativeEstimate(JNIEnv* env, jclass, jlong h,
                                                                          jbyteArray rgba, jint width,
                                                                          jint height, jint stride,
                                                                          jfloatArray box) {
  pyhpe_model* model = handle(env, h);
  if (!model) return nullptr;
  if (!rgba) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: null pixel array");
    return nullptr;
  }
  const jsize n = env->GetArrayLength(rgba);
  if (width <= 0 || height <= 0 || stride < width * 4 || (jlong)stride * (height - 1) + (jlong)width * 4 > n) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: pixel array smaller than stride * height");
    return nullptr;
  }
  float b[4];
  const float* box_ptr = nullptr;
  if (box) {
    if (env->GetArrayLength(box) != 4) {
      throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: box must hold 4 floats (x0, y0, x1, y1)");
      return nullptr;
    }
    env->GetFloatArrayRegion(box, 0, 4, b);
    box_ptr = b;
  }
  jbyte* pixels = env->GetByteArrayElements(rgba, nullptr);
  pyhpe_pose pose;
  pyhpe_status st = pyhpe_infer(model, reinterpret_cast<const uint8_t*>(pixels), width, height, stride,
                                PYHPE_PIXEL_RGBA, box_ptr, &pose);
  env->ReleaseByteArrayElements(rgba, pixels, JNI_ABORT);
  if (st != PYHPE_OK) {
    throw_status(env, st);
    return nullptr;
  }
  float out[18];
  for (int i = 0; i < 6; ++i) out[i] = pose.sixd[i];
  for (int i = 0; i < 9; ++i) out[6 + i] = pose.R[i];
  for (int i = 0; i < 3; ++i) out[15 + i] = pose.euler_deg[i];
  jfloatArray result = env->NewFloatArray(18);
  if (result) env->SetFloatArrayRegion(result, 0, 18, out);
  return result;
}

JNIEXPORT jstring JNICALL Java_org_pyhpe_NativeBridge_nativeBuildInfo(JNIEnv* env, jclass) {
  return env->NewStringUTF(pyhpe_build_info());
}

}  // extern "C"
