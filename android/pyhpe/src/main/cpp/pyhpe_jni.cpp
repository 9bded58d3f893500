// JNI bridge over the pyhpe runtime C API (csrc/runtime/include/pyhpe_runtime.h) for
// org.pyhpe.NativeBridge (Kotlin `object` with @JvmStatic external functions).
//
// A model is loaded with the options of its export sidecar (nativeLoadFromSidecar: input size,
// blobs, output kind, crop and normalisation from <stem>.ncnn.json) or with options given by hand
// (nativeLoad: input size and output kind; 6DRepNet's crop and ImageNet normalisation).
//
// 6DoF models (TRGv2; the sidecar's card task "trgv2_6dof"): nativeIsSixDoF tells them apart and
// nativeEstimate6DoF returns R, t, the correction, the vertices and the landmarks in one array
// (layout below), with the camera's intrinsics given or unknown (null: f = W + H at the centre).
//
// Pixels cross as a byte array of RGBA rows (what Bitmap.copyPixelsToBuffer writes for
// ARGB_8888), so the bridge needs only jni.h (no android/bitmap.h) and also builds for plain
// aarch64 Linux, which is how the tests compile it on machines without the Android NDK.
#include <jni.h>
#include <string.h>

#include <string>
#include <vector>

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

// The RGBA array covers stride * height (else an IllegalArgumentException and false).
bool check_pixels(JNIEnv* env, jbyteArray rgba, jint width, jint height, jint stride) {
  if (!rgba) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: null pixel array");
    return false;
  }
  const jsize n = env->GetArrayLength(rgba);
  if (width <= 0 || height <= 0 || stride < width * 4 || (jlong)stride * (height - 1) + (jlong)width * 4 > n) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: pixel array smaller than stride * height");
    return false;
  }
  return true;
}

// `n` floats of a Java array into out (null: *ptr = nullptr); false with an exception if its length differs.
bool float_array(JNIEnv* env, jfloatArray a, int n, const char* what, float* out, const float** ptr) {
  *ptr = nullptr;
  if (!a) return true;
  if (env->GetArrayLength(a) != n) {
    throw_java(env, "java/lang/IllegalArgumentException", std::string("pyhpe: ") + what);
    return false;
  }
  env->GetFloatArrayRegion(a, 0, n, out);
  *ptr = out;
  return true;
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
  if (!model || !check_pixels(env, rgba, width, height, stride)) return nullptr;
  float b[4];
  const float* box_ptr = nullptr;
  if (!float_array(env, box, 4, "box must hold 4 floats (x0, y0, x1, y1)", b, &box_ptr)) return nullptr;
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

// Whether the model is a 6DoF one (nativeEstimate6DoF) rather than a rotation one (nativeEstimate).
JNIEXPORT jboolean JNICALL Java_org_pyhpe_NativeBridge_nativeIsSixDoF(JNIEnv* env, jclass, jlong h) {
  pyhpe_model* model = handle(env, h);
  pyhpe_options opt;
  if (!model || pyhpe_model_get_options(model, &opt) != PYHPE_OK) return JNI_FALSE;
  return opt.model_kind == PYHPE_MODEL_6DOF ? JNI_TRUE : JNI_FALSE;
}

// A 6DoF model's result as one array: [0, 6) 6D, [6, 15) R row-major, [15, 18) pitch/yaw/roll
// degrees, [18, 21) t (metres, camera frame), [21, 24) correction (s, τ̃x, τ̃y), [24, 28) the
// intrinsics used (fx, fy, cx, cy), [28, 32) the crop map (sx, tx, sy, ty: image -> crop pixels),
// [32] V, then V x 3 vertices (head frame, metres) and 68 x 2 landmarks (crop pixels).
// `box` (x0, y0, x1, y1) is required; `intrinsics` (fx, fy, cx, cy) may be null (unknown camera).
JNIEXPORT jfloatArray JNICALL Java_org_pyhpe_NativeBridge_nativeEstimate6DoF(JNIEnv* env, jclass, jlong h,
                                                                              jbyteArray rgba, jint width,
                                                                              jint height, jint stride,
                                                                              jfloatArray box,
                                                                              jfloatArray intrinsics) {
  pyhpe_model* model = handle(env, h);
  if (!model || !check_pixels(env, rgba, width, height, stride)) return nullptr;
  if (!box) {
    throw_java(env, "java/lang/IllegalArgumentException", "pyhpe: a 6DoF estimate needs the face box");
    return nullptr;
  }
  float b[4], k[4];
  const float *box_ptr = nullptr, *k_ptr = nullptr;
  if (!float_array(env, box, 4, "box must hold 4 floats (x0, y0, x1, y1)", b, &box_ptr) ||
      !float_array(env, intrinsics, 4, "intrinsics must hold 4 floats (fx, fy, cx, cy)", k, &k_ptr))
    return nullptr;
  pyhpe_options opt;
  pyhpe_model_get_options(model, &opt);
  const int kHeader = 33;
  std::vector<float> out(kHeader + (size_t)3 * (opt.num_vertices > 0 ? opt.num_vertices : 0) + 2 * PYHPE_NUM_LANDMARKS);
  std::vector<float> lmk(2 * PYHPE_NUM_LANDMARKS);
  pyhpe_pose6dof pose;
  memset(&pose, 0, sizeof pose);
  jbyte* pixels = env->GetByteArrayElements(rgba, nullptr);
  pyhpe_status st = PYHPE_OK;
  for (int pass = 0; pass < 2; ++pass) {  // a model that does not declare V: learn it, then read them
    pose.vertices = out.data() + kHeader;
    pose.vertices_capacity = (int)((out.size() - kHeader - lmk.size()) / 3);
    pose.landmarks = lmk.data();
    st = pyhpe_infer_6dof(model, reinterpret_cast<const uint8_t*>(pixels), width, height, stride, PYHPE_PIXEL_RGBA,
                          box_ptr, k_ptr, &pose);
    if (st == PYHPE_OK || pose.num_vertices <= pose.vertices_capacity) break;
    out.resize(kHeader + (size_t)3 * pose.num_vertices + lmk.size());
  }
  env->ReleaseByteArrayElements(rgba, pixels, JNI_ABORT);
  if (st != PYHPE_OK) {
    throw_status(env, st);
    return nullptr;
  }
  out.resize(kHeader + (size_t)3 * pose.num_vertices + lmk.size());
  const float* parts[7] = {pose.sixd, pose.R, pose.euler_deg, pose.t, pose.correction, pose.intrinsics, pose.crop_map};
  const int sizes[7] = {6, 9, 3, 3, 3, 4, 4};
  for (int p = 0, o = 0; p < 7; o += sizes[p], ++p) memcpy(out.data() + o, parts[p], sizes[p] * sizeof(float));
  out[32] = (float)pose.num_vertices;
  memcpy(out.data() + kHeader + (size_t)3 * pose.num_vertices, lmk.data(), lmk.size() * sizeof(float));
  jfloatArray result = env->NewFloatArray((jsize)out.size());
  if (result) env->SetFloatArrayRegion(result, 0, (jsize)out.size(), out.data());
  return result;
}

JNIEXPORT jstring JNICALL Java_org_pyhpe_NativeBridge_nativeBuildInfo(JNIEnv* env, jclass) {
  return env->NewStringUTF(pyhpe_build_info());
}

}  // extern "C"
