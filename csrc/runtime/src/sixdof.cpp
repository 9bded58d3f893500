// The C API's 6DoF path (TRGv2 graphs: image + camera vector -> sixd, correction, vertices,
// landmarks): the evaluation crop of a face of a full image and its camera vector (the geometry
// of csrc/include/pyhpe/sixdof_math.h, the pixels of image_ops.cpp), the two-input inference and
// the decoding (R by Gram-Schmidt, t by Eq. 3 in the model's form), as pyhpe/runtime/predictor.py
// Predictor.predict_sixdof and pyhpe/tasks/trgv2_6dof.py TRGv2Task.decode do it in Python.
#include <math.h>
#include <string.h>

#include <string>
#include <vector>

#include "image_ops.h"
#include "model.h"
#include "options.h"
#include "pyhpe/sixdof_math.h"
#include "pyhpe_runtime.h"
#include "status.h"

namespace {

using pyhpe_rt::fail;
namespace sx = pyhpe::sixdof;

// Crop corners beyond this (pixels) are refused: a crop side up to 2^15 keeps its buffer < 3 GiB.
constexpr double kMaxCorner = 1 << 20;
constexpr double kMaxSide = 1 << 15;

bool finite_all(const float* v, int n) {
  for (int i = 0; i < n; ++i)
    if (!isfinite(v[i])) return false;
  return true;
}

// The full image's intrinsics: given (finite, fx and fy > 0) or TRGv2's default for the size.
pyhpe_status intrinsics_of(const float* given, int width, int height, sx::Intrinsics* K) {
  if (!given) {
    *K = sx::default_intrinsics(width, height);
    return PYHPE_OK;
  }
  if (!finite_all(given, 4) || !(given[0] > 0) || !(given[1] > 0))
    return fail(PYHPE_ERR_ARGUMENT, "intrinsics must be finite (fx, fy, cx, cy) with fx, fy > 0");
  *K = {given[0], given[1], given[2], given[3]};
  return PYHPE_OK;
}

// The crop box of a face box (the card's landmark box in its convention), checked.
pyhpe_status crop_box_of(const pyhpe_options& o, const float* box, sx::Box* crop) {
  if (!box) return fail(PYHPE_ERR_ARGUMENT, "a 6DoF model needs the face box (x0, y0, x1, y1)");
  if (!finite_all(box, 4) || !(box[2] > box[0]) || !(box[3] > box[1]))
    return fail(PYHPE_ERR_ARGUMENT, "face box must be finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0");
  *crop = sx::crop_box({box[0], box[1], box[2], box[3]}, 1.0 + o.crop_margin, (sx::Convention)o.crop_convention);
  const sx::Box& c = *crop;
  if (!(c.x1 > c.x0) || !(c.y1 > c.y0)) return fail(PYHPE_ERR_ARGUMENT, "the face box crops to nothing");
  if (fabs(c.x0) > kMaxCorner || fabs(c.y0) > kMaxCorner || c.x1 - c.x0 > kMaxSide || c.y1 - c.y0 > kMaxSide)
    return fail(PYHPE_ERR_ARGUMENT, "the face box's crop is too large (a side over 32768 px or a corner beyond 2^20)");
  return PYHPE_OK;
}

// The S x S crop of `crop` (packed RGB) in the options' convention: pyhpe: cut (black outside)
// then cv2.resize's choice; official: the bilinear warp of the corners onto 0..S-1.
std::vector<uint8_t> crop_pixels(const pyhpe_options& o, const pyhpe_rt::PixelSource& image, const sx::Box& crop) {
  const int S = o.input_size;
  std::vector<uint8_t> out((size_t)S * S * 3);
  if (o.crop_convention == PYHPE_CONVENTION_OFFICIAL) {
    const sx::AxisMap w = sx::crop_matrix(crop, S, sx::kConventionOfficial, true);
    pyhpe_rt::warp_axis_bilinear_rgb(image, w.sx, w.tx, w.sy, w.ty, S, S, out.data());
    return out;
  }
  const int x0 = (int)crop.x0, y0 = (int)crop.y0, x1 = (int)crop.x1, y1 = (int)crop.y1;
  std::vector<uint8_t> cut = pyhpe_rt::crop_rgb(image, x0, y0, x1, y1);
  pyhpe_rt::resize_rgb(cut.data(), x1 - x0, y1 - y0, out.data(), S, S);
  return out;
}

// What a 6DoF preprocessing gives beside the crop.
struct Prepared {
  float camera[PYHPE_CAMERA_SIZE];
  float intrinsics[4];
  float crop_map[4];
};

pyhpe_status prepare(const pyhpe_options& o, const uint8_t* pixels, int width, int height, int stride, int pixel_format,
                     const float* box, const float* intrinsics, float* out_chw, Prepared* p) {
  pyhpe_status st = pyhpe_rt::check_options(o);
  if (st != PYHPE_OK) return st;
  if (o.model_kind != PYHPE_MODEL_6DOF) return fail(PYHPE_ERR_ARGUMENT, "not a 6DoF model: use pyhpe_infer / pyhpe_preprocess");
  pyhpe_rt::PixelSource image;
  if ((st = pyhpe_rt::pixel_source(pixels, width, height, stride, pixel_format, &image)) != PYHPE_OK) return st;
  sx::Intrinsics K{};
  sx::Box crop{};
  if ((st = intrinsics_of(intrinsics, width, height, &K)) != PYHPE_OK) return st;
  if ((st = crop_box_of(o, box, &crop)) != PYHPE_OK) return st;
  const sx::Convention conv = (sx::Convention)o.crop_convention;
  sx::camera_vector(crop, K, height, width, sx::crop_intrinsics(K, crop, o.input_size, conv), p->camera);
  const double k[4] = {K.fx, K.fy, K.cx, K.cy};
  const sx::AxisMap map = sx::crop_matrix(crop, o.input_size, conv, false);
  const double m[4] = {map.sx, map.tx, map.sy, map.ty};
  for (int i = 0; i < 4; ++i) {
    p->intrinsics[i] = (float)k[i];
    p->crop_map[i] = (float)m[i];
  }
  std::vector<uint8_t> rgb = crop_pixels(o, image, crop);
  pyhpe_rt::normalize_chw(rgb.data(), o.input_size, 0, 0, o.input_size, o.mean, o.std, out_chw);
  return PYHPE_OK;
}

// A camera vector the decoding can divide by: finite, a box of positive width and height, f, H,
// W and the crop focal lengths positive.
pyhpe_status check_camera(const float* cam) {
  if (!finite_all(cam, PYHPE_CAMERA_SIZE) || !(cam[2] > cam[0]) || !(cam[3] > cam[1]) || !(cam[4] > 0) ||
      !(cam[5] > 0) || !(cam[6] > 0) || !(cam[7] > 0) || !(cam[8] > 0))
    return fail(PYHPE_ERR_ARGUMENT, "camera vector must be finite with right > left, bottom > top and f, H, W, "
                                    "fx_crop, fy_crop > 0 (CAMERA_LAYOUT)");
  return PYHPE_OK;
}

// One output blob as `want` floats (want < 0: any multiple of -want), copied to `dst` (or counted).
pyhpe_status extract(ncnn::Extractor& ex, const char* blob, int want, std::vector<float>* dst) {
  ncnn::Mat y;
  const int ret = ex.extract(blob, y);
  if (ret != 0) return fail(PYHPE_ERR_INFERENCE, std::string("ncnn extract of '") + blob + "' failed with code " + std::to_string(ret));
  const size_t got = (size_t)y.w * y.h * y.d * y.c;
  if ((want > 0 && got != (size_t)want) || (want < 0 && (got == 0 || got % (size_t)-want != 0)))
    return fail(PYHPE_ERR_INFERENCE, std::string("the model's output '") + blob + "' has " + std::to_string(got) +
                                         " values, expected " + (want > 0 ? std::to_string(want) : "V x 3"));
  ncnn::Mat flat = y.reshape((int)got);
  if (flat.empty()) return fail(PYHPE_ERR_MEMORY, "cannot read the model's output");
  dst->assign((const float*)flat.data, (const float*)flat.data + got);
  return PYHPE_OK;
}

pyhpe_status run_6dof(pyhpe_model* m, const ncnn::Mat& in, const float* camera, pyhpe_pose6dof* out) {
  const pyhpe_options& o = m->options;
  if (o.model_kind != PYHPE_MODEL_6DOF) return fail(PYHPE_ERR_ARGUMENT, "not a 6DoF model: use pyhpe_infer");
  if (out->vertices && out->vertices_capacity < 0) return fail(PYHPE_ERR_ARGUMENT, "vertices_capacity must be >= 0");
  pyhpe_status st = check_camera(camera);
  if (st != PYHPE_OK) return st;
  ncnn::Mat cam(PYHPE_CAMERA_SIZE);
  if (cam.empty()) return fail(PYHPE_ERR_MEMORY, "cannot allocate the camera input");
  memcpy(cam.data, camera, PYHPE_CAMERA_SIZE * sizeof(float));
  ncnn::Extractor ex = m->net.create_extractor();
  if (ex.input(o.input_blob, in) != 0 || ex.input(o.camera_blob, cam) != 0)
    return fail(PYHPE_ERR_INFERENCE, "ncnn rejected an input blob");
  std::vector<float> sixd, corr, verts, lmk;
  const int nv = o.num_vertices > 0 ? 3 * o.num_vertices : -3;
  if ((st = extract(ex, o.output_blob, 6, &sixd)) != PYHPE_OK || (st = extract(ex, o.correction_blob, 3, &corr)) != PYHPE_OK ||
      (st = extract(ex, o.vertices_blob, nv, &verts)) != PYHPE_OK ||
      (st = extract(ex, o.landmarks_blob, 2 * PYHPE_NUM_LANDMARKS, &lmk)) != PYHPE_OK)
    return st;
  const int V = (int)(verts.size() / 3);
  out->num_vertices = V;
  if (out->vertices && out->vertices_capacity < V)
    return fail(PYHPE_ERR_ARGUMENT, "the vertices buffer holds " + std::to_string(out->vertices_capacity) +
                                        " vertices, the model returns " + std::to_string(V) + " (num_vertices)");
  memcpy(out->sixd, sixd.data(), sizeof out->sixd);
  memcpy(out->correction, corr.data(), sizeof out->correction);
  memcpy(out->camera, camera, sizeof out->camera);
  sx::rotation_from_sixd(out->sixd, out->R);
  pyhpe::matrix_to_euler<float>(out->R, out->euler_deg, true);
  sx::translation_from_correction(out->correction, out->camera, (sx::Form)o.translation_form, out->t);
  if (out->vertices) memcpy(out->vertices, verts.data(), verts.size() * sizeof(float));
  if (out->landmarks) memcpy(out->landmarks, lmk.data(), lmk.size() * sizeof(float));
  return PYHPE_OK;
}

}  // namespace

extern "C" {

pyhpe_status pyhpe_preprocess_6dof(const pyhpe_options* o, const uint8_t* pixels, int width, int height, int stride,
                                   int pixel_format, const float* box, const float* intrinsics, float* out_chw,
                                   float* out_camera) {
  if (!o || !pixels || !out_chw) return fail(PYHPE_ERR_ARGUMENT, "NULL options, pixels or output");
  Prepared p;
  pyhpe_status st = prepare(*o, pixels, width, height, stride, pixel_format, box, intrinsics, out_chw, &p);
  if (st == PYHPE_OK && out_camera) memcpy(out_camera, p.camera, sizeof p.camera);
  return st;
}

pyhpe_status pyhpe_infer_6dof(pyhpe_model* m, const uint8_t* pixels, int width, int height, int stride,
                              int pixel_format, const float* box, const float* intrinsics, pyhpe_pose6dof* out) {
  if (!m || !pixels || !out) return fail(PYHPE_ERR_ARGUMENT, "NULL model, pixels or output");
  const int s = m->options.input_size;
  std::vector<float> chw((size_t)3 * s * s);
  Prepared p;
  pyhpe_status st = prepare(m->options, pixels, width, height, stride, pixel_format, box, intrinsics, chw.data(), &p);
  if (st != PYHPE_OK) return st;
  ncnn::Mat in = pyhpe_rt::input_mat(s, chw.data());
  if (in.empty()) return fail(PYHPE_ERR_MEMORY, "cannot allocate the input");
  if ((st = run_6dof(m, in, p.camera, out)) != PYHPE_OK) return st;
  memcpy(out->intrinsics, p.intrinsics, sizeof out->intrinsics);
  memcpy(out->crop_map, p.crop_map, sizeof out->crop_map);
  return PYHPE_OK;
}

pyhpe_status pyhpe_infer_6dof_tensor(pyhpe_model* m, const float* chw, const float* camera, pyhpe_pose6dof* out) {
  if (!m || !chw || !camera || !out) return fail(PYHPE_ERR_ARGUMENT, "NULL model, input, camera or output");
  ncnn::Mat in = pyhpe_rt::input_mat(m->options.input_size, chw);
  if (in.empty()) return fail(PYHPE_ERR_MEMORY, "cannot allocate the input");
  pyhpe_status st = run_6dof(m, in, camera, out);
  if (st != PYHPE_OK) return st;
  memset(out->intrinsics, 0, sizeof out->intrinsics);  // unknown here: the camera vector holds f only
  memset(out->crop_map, 0, sizeof out->crop_map);
  return PYHPE_OK;
}

pyhpe_status pyhpe_project_points(const pyhpe_pose6dof* pose, const float* intrinsics, const float* points, int n,
                                  float* out_uv) {
  if (!pose || !intrinsics || (n > 0 && (!points || !out_uv)))
    return fail(PYHPE_ERR_ARGUMENT, "NULL pose, intrinsics, points or output");
  if (n < 0) return fail(PYHPE_ERR_ARGUMENT, "the point count must be >= 0");
  if (!finite_all(intrinsics, 4)) return fail(PYHPE_ERR_ARGUMENT, "intrinsics must be finite");
  sx::project_points(pose->R, pose->t, {intrinsics[0], intrinsics[1], intrinsics[2], intrinsics[3]}, points, n, out_uv);
  return PYHPE_OK;
}

}  // extern "C"
