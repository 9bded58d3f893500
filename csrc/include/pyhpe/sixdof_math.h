// The geometry of TRGv2's 6DoF path, written once for the C++ runtime and its tests: the crop box
// of a face, the crop map and the crop intrinsics K_crop in both crop conventions, the camera
// vector the deploy graph takes, Eq. 3 (correction parameters -> translation), the rotation from
// the 6D output and the pinhole projection.
//
// Each function is the C++ of one Python function, computed in the same order in float64 so the
// integer crop corners and K_crop come out bit-identical (the Python is the reference):
//   square_box              pyhpe/geometry/camera.py square_box
//   crop_box                pyhpe/data/sixdof_crop.py SixDoFCrop.crop_box (test crop: no jitter)
//   crop_matrix             pyhpe/geometry/camera.py crop_matrix
//   crop_intrinsics         pyhpe/geometry/camera.py crop_intrinsics
//   default_intrinsics      pyhpe/runtime/preprocess.py default_intrinsics (f = W + H, image centre)
//   camera_vector           pyhpe/tasks/trgv2_6dof.py camera_vector (CAMERA_LAYOUT)
//   principal_point_from_crop, translation_from_correction
//                           pyhpe/geometry/correction.py (paper and official forms)
//   rotation_from_sixd      pyhpe/tasks/sixd_rotation.py sixd_to_rotation (rotation_math.h)
//   project_points          pyhpe/geometry/camera.py project_points (x_cam = R v + t, pinhole)
//
// Conventions (docs/conventions.md): OpenCV camera axes (x right, y down, z forward), metres,
// integer pixel centres, boxes (x0, y0, x1, y1), matrices row-major, K as (fx, fy, cx, cy) (no skew).
#pragma once

#include <math.h>

#include "pyhpe/rotation_math.h"

namespace pyhpe {
inline namespace PYHPE_ISA_NAMESPACE {  // as rotation_math.h: one copy per instruction set
namespace sixdof {

// How a crop box becomes the S x S network input (the card's crop "convention").
enum Convention {
  kConventionPyhpe = 0,    // square box of integer side, crop + resize, K_crop with pixel centres
  kConventionOfficial = 1  // the released TRGv2 code: corners truncated, warp onto 0..S-1, K_crop by S/b
};
// Which Eq. 3 the model was trained with (the card's kwargs "form").
enum Form {
  kFormPaper = 0,    // τ from the principal point, τ̃ in units of b
  kFormOfficial = 1  // τ from the image centre (W/2, H/2), τ̃ in units of b/2
};

constexpr double kFaceSizeM = 0.2;  // B of Eq. 3: the canonical face size (pyhpe.geometry.correction)
constexpr int kCameraSize = 11;     // len(CAMERA_LAYOUT)
constexpr int kNumLandmarks = 68;

struct Box {
  double x0, y0, x1, y1;
};
struct Intrinsics {
  double fx, fy, cx, cy;
};
// An axis-aligned affine map of pixel coordinates: x' = sx x + tx, y' = sy y + ty.
struct AxisMap {
  double sx, tx, sy, ty;
};

// Python's int() of a float: truncation towards zero.
inline double py_int(double v) { return trunc(v); }
// Python's round() of a float: halves to even (the default rounding mode of nearbyint).
inline double py_round(double v) { return nearbyint(v); }

// The square of side scale * max(w, h) about the centre of `b`.
inline Box square_box(const Box& b, double scale) {
  const double s = fmax(b.x1 - b.x0, b.y1 - b.y0);
  const double cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2, half = scale * s / 2;
  return {cx - half, cy - half, cx + half, cy + half};
}

// The evaluation crop's integer corners for a face (landmark) box: the square of side
// scale * max(w, h) (scale = 1 + the card's margin); pyhpe: top-left corner truncated and the side
// rounded (both sides equal, so fx_crop = fy_crop); official: each corner truncated.
inline Box crop_box(const Box& face, double scale, Convention convention) {
  const Box b = square_box(face, scale);
  if (convention == kConventionOfficial) return {py_int(b.x0), py_int(b.y0), py_int(b.x1), py_int(b.y1)};
  const double side = py_round(b.x1 - b.x0), x0 = py_int(b.x0), y0 = py_int(b.y0);
  return {x0, y0, x0 + side, y0 + side};
}

// Full-image pixels -> crop pixels for `box` resized to size x size. pyhpe: x -> (x - x0 + ½)·sx − ½,
// sx = S / (x1 - x0) (the image warp and the labels alike). official: the image warp (`warp`) maps
// the corners onto 0..S-1 (sx = (S - 1) / (x1 - x0), sy = (S - 1) / (y1 - y0)); the labels and
// K_crop (!warp) scale both axes by S / b, b = x1 - x0.
inline AxisMap crop_matrix(const Box& box, int size, Convention convention, bool warp) {
  const double S = size;
  if (convention == kConventionPyhpe) {
    const double sx = S / (box.x1 - box.x0), sy = S / (box.y1 - box.y0);
    return {sx, (0.5 - box.x0) * sx - 0.5, sy, (0.5 - box.y0) * sy - 0.5};
  }
  if (warp) {
    const double sx = (S - 1) / (box.x1 - box.x0), sy = (S - 1) / (box.y1 - box.y0);
    return {sx, -box.x0 * sx, sy, -box.y0 * sy};
  }
  const double sx = S / (box.x1 - box.x0), sy = S / (box.x1 - box.x0);
  return {sx, -box.x0 * sx, sy, -box.y0 * sy};
}

// K of the crop `box` resized to size x size (entry by entry as crop_intrinsics computes it).
inline Intrinsics crop_intrinsics(const Intrinsics& K, const Box& box, int size, Convention convention) {
  const double S = size;
  if (convention == kConventionOfficial) {
    const double s = S / (box.x1 - box.x0);
    return {K.fx * s, K.fy * s, (K.cx - box.x0) * s, (K.cy - box.y0) * s};
  }
  const double sx = S / (box.x1 - box.x0), sy = S / (box.y1 - box.y0);
  return {K.fx * sx, K.fy * sy, (K.cx - box.x0) * sx + (0.5 * sx - 0.5), (K.cy - box.y0) * sy + (0.5 * sy - 0.5)};
}

// TRGv2's camera when the intrinsics are unknown: f = W + H, the principal point at the image
// centre ((W - 1)/2, (H - 1)/2 with integer pixel centres).
inline Intrinsics default_intrinsics(int width, int height) {
  const double f = (double)width + (double)height;
  return {f, f, (width - 1) / 2.0, (height - 1) / 2.0};
}

// The graph's camera input, CAMERA_LAYOUT: left, top, right, bottom, f, H, W of the crop box in
// full-image pixels (f = the full image's fx), then fx_crop, fy_crop, cx_crop, cy_crop (float32).
inline void camera_vector(const Box& box, const Intrinsics& K, int height, int width, const Intrinsics& K_crop,
                          float out[kCameraSize]) {
  const double v[kCameraSize] = {box.x0, box.y0, box.x1, box.y1, K.fx, (double)height, (double)width,
                                 K_crop.fx, K_crop.fy, K_crop.cx, K_crop.cy};
  for (int i = 0; i < kCameraSize; ++i) out[i] = (float)v[i];
}

// The full image's principal point from a camera vector (inverts crop_intrinsics, pyhpe
// convention): s = fx_crop / f, cx = (cx_crop + ½)/s − ½ + left (likewise y with fy_crop, top).
inline void principal_point_from_crop(const float cam[kCameraSize], double pp[2]) {
  const double f = cam[4];
  for (int i = 0; i < 2; ++i) {
    const double s = cam[7 + i] / f;
    pp[i] = (cam[9 + i] + 0.5) / s - 0.5 + cam[i];
  }
}

// Eq. 3: c = (s, τ̃x, τ̃y) -> t (metres): T_z = B·s·f/b, T_xy = B·s·τ/b + k·B·s·τ̃ with b = right −
// left, τ = box centre − principal point (paper: recovered from K_crop; official: (W/2, H/2)),
// k = 1 (paper) or ½ (official), B = kFaceSizeM.
inline void translation_from_correction(const float c[3], const float cam[kCameraSize], Form form, float t[3]) {
  double pp[2];
  if (form == kFormPaper) {
    principal_point_from_crop(cam, pp);
  } else {
    pp[0] = cam[6] / 2.0;
    pp[1] = cam[5] / 2.0;
  }
  const double k = form == kFormPaper ? 1.0 : 0.5;
  const double b = (double)cam[2] - cam[0], f = cam[4], scale = kFaceSizeM * c[0];
  const double tau_x = ((double)cam[0] + cam[2]) / 2 - pp[0], tau_y = ((double)cam[1] + cam[3]) / 2 - pp[1];
  t[0] = (float)(scale * (tau_x / b + k * c[1]));
  t[1] = (float)(scale * (tau_y / b + k * c[2]));
  t[2] = (float)(scale * f / b);
}

// R (row-major, head -> camera) of the 6D output: the shared Gram-Schmidt (rotation_math.h).
inline void rotation_from_sixd(const float sixd[6], float R[9]) { gram_schmidt_forward<float>(sixd, R); }

// Pixel coordinates of n head-frame points (n x 3, metres): x_cam = R v + t, u = fx·x/z + cx,
// v = fy·y/z + cy (no depth clamp: a point at z <= 0 gives what the division gives).
inline void project_points(const float R[9], const float t[3], const Intrinsics& K, const float* points, int n,
                           float* uv) {
  for (int i = 0; i < n; ++i) {
    const float* p = points + 3 * i;
    double x[3];
    for (int r = 0; r < 3; ++r) x[r] = (double)R[3 * r] * p[0] + (double)R[3 * r + 1] * p[1] + (double)R[3 * r + 2] * p[2] + t[r];
    uv[2 * i] = (float)(K.fx * x[0] / x[2] + K.cx);
    uv[2 * i + 1] = (float)(K.fy * x[1] / x[2] + K.cy);
  }
}

}  // namespace sixdof
}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace pyhpe
