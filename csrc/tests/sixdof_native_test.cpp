// Native tests of the 6DoF geometry header (include/pyhpe/sixdof_math.h) against closed forms:
// crop boxes (Python's int() truncation towards zero and round() halves to even), the crop map
// taking the box edges where each convention puts them, K_crop agreeing with the crop map on
// projected points, the principal point recovered from K_crop, Eq. 3 (t projects to the box centre
// + k·τ̃·b with T_z = B·s·f/b, paper and official forms), Gram-Schmidt on rotations, the pinhole
// projection and the camera vector's layout. No ncnn.
// Prints "isa=..." first and "N passed, M failed" last; exits non-zero on any failure.
#include <math.h>
#include <stdio.h>

#include <string>

#include "pyhpe/isa.h"
#include "pyhpe/sixdof_math.h"
#include "tests/native_check.h"

namespace {

namespace sx = pyhpe::sixdof;

void near(double got, double want, double tol, const std::string& what) {
  const double err = fabs(got - want);
  native_check::check(err <= tol, what.c_str(), "sixdof", err, tol);
}

void box_is(const sx::Box& b, double x0, double y0, double x1, double y1, const std::string& what) {
  near(b.x0, x0, 0, what + " x0");
  near(b.y0, y0, 0, what + " y0");
  near(b.x1, x1, 0, what + " x1");
  near(b.y1, y1, 0, what + " y1");
}

void test_crop_box() {
  // (10, 20, 50, 40): side 40 -> 60 about (30, 30)
  box_is(sx::crop_box({10, 20, 50, 40}, 1.5, sx::kConventionPyhpe), 0, 0, 60, 60, "crop_box exact");
  // side 40.6 * 1.5 = 60.9 about (30.6, 32.95): corners (0.15, 2.5) truncated, side rounded to 61
  box_is(sx::crop_box({10.3, 20.7, 50.9, 45.2}, 1.5, sx::kConventionPyhpe), 0, 2, 61, 63, "crop_box pyhpe");
  // official: each corner truncated (61.05 -> 61, 63.4 -> 63)
  box_is(sx::crop_box({10.3, 20.7, 50.9, 45.2}, 1.5, sx::kConventionOfficial), 0, 2, 61, 63, "crop_box official");
  // negative corners truncate towards zero (Python int(-3.7) = -3), not down
  box_is(sx::crop_box({-20, -10, 20, 10}, 1.0, sx::kConventionPyhpe), -20, -20, 20, 20, "crop_box centred");
  sx::Box b = sx::crop_box({-23.7, -3.7, 16.3, 36.3}, 1.0, sx::kConventionOfficial);  // square side 40
  box_is(b, -23, -3, 16, 36, "crop_box truncation towards zero");
  // round() halves to even: sides 60.5 -> 60, 61.5 -> 62 (scale 1, square boxes)
  near(sx::crop_box({0, 0, 60.5, 60.5}, 1.0, sx::kConventionPyhpe).x1, 60, 0, "side 60.5 rounds to 60");
  near(sx::crop_box({0, 0, 61.5, 61.5}, 1.0, sx::kConventionPyhpe).x1, 62, 0, "side 61.5 rounds to 62");
  // a wide box is squared on its longer side; the square stays centred
  sx::Box s = sx::square_box({0, 0, 40, 20}, 1.5);
  box_is(s, -10, -20, 50, 40, "square_box of a wide box");
}

void test_crop_matrix_and_intrinsics() {
  const int S = 64;
  const sx::Box box = {13, -7, 109, 89};  // side 96
  // pyhpe: the box's outer pixel edges map to the crop's: x0 - ½ -> -½, x1 - ½ -> S - ½
  sx::AxisMap m = sx::crop_matrix(box, S, sx::kConventionPyhpe, false);
  near(m.sx * (box.x0 - 0.5) + m.tx, -0.5, 1e-12, "pyhpe map: left edge");
  near(m.sx * (box.x1 - 0.5) + m.tx, S - 0.5, 1e-12, "pyhpe map: right edge");
  near(m.sy * (box.y1 - 0.5) + m.ty, S - 0.5, 1e-12, "pyhpe map: bottom edge");
  // official warp: corners onto 0 and S - 1; official labels: x0 -> 0, x0 + b -> S
  sx::AxisMap w = sx::crop_matrix(box, S, sx::kConventionOfficial, true);
  near(w.sx * box.x0 + w.tx, 0, 1e-12, "official warp: x0 -> 0");
  near(w.sx * box.x1 + w.tx, S - 1, 1e-12, "official warp: x1 -> S - 1");
  near(w.sy * box.y1 + w.ty, S - 1, 1e-12, "official warp: y1 -> S - 1");
  const sx::Box tall = {10, 10, 50, 51};  // official corners need not be square: y scales by S / b too
  sx::AxisMap l = sx::crop_matrix(tall, S, sx::kConventionOfficial, false);
  near(l.sx * tall.x1 + l.tx, S, 1e-12, "official labels: x1 -> S");
  near(l.sy * (tall.y0 + 40) + l.ty, S, 1e-12, "official labels: y0 + b -> S");
  // K_crop projects a point where the crop map takes its full-image projection (both conventions)
  const sx::Intrinsics K = {500, 510, 311.5, 241.25};
  const double P[3] = {0.031, -0.047, 0.62};
  const double u = K.fx * P[0] / P[2] + K.cx, v = K.fy * P[1] / P[2] + K.cy;
  const sx::Convention conventions[2] = {sx::kConventionPyhpe, sx::kConventionOfficial};
  for (sx::Convention c : conventions) {
    const char* name = c == sx::kConventionPyhpe ? "pyhpe" : "official";
    const sx::Box bx = c == sx::kConventionPyhpe ? box : tall;
    sx::AxisMap a = sx::crop_matrix(bx, S, c, false);
    sx::Intrinsics Kc = sx::crop_intrinsics(K, bx, S, c);
    near(Kc.fx * P[0] / P[2] + Kc.cx, a.sx * u + a.tx, 1e-9, std::string("K_crop x = map x, ") + name);
    near(Kc.fy * P[1] / P[2] + Kc.cy, a.sy * v + a.ty, 1e-9, std::string("K_crop y = map y, ") + name);
  }
  // the principal point comes back from K_crop (pyhpe convention; float32 camera vector)
  sx::Intrinsics Kc = sx::crop_intrinsics({500, 500, 311.5, 241.25}, box, S, sx::kConventionPyhpe);
  float cam[sx::kCameraSize];
  sx::camera_vector(box, {500, 500, 311.5, 241.25}, 480, 640, Kc, cam);
  double pp[2];
  sx::principal_point_from_crop(cam, pp);
  near(pp[0], 311.5, 1e-3, "principal point x from K_crop");
  near(pp[1], 241.25, 1e-3, "principal point y from K_crop");
  // the camera vector's layout (CAMERA_LAYOUT)
  const double want[sx::kCameraSize] = {13, -7, 109, 89, 500, 480, 640, Kc.fx, Kc.fy, Kc.cx, Kc.cy};
  for (int i = 0; i < sx::kCameraSize; ++i) near(cam[i], (float)want[i], 0, "camera vector [" + std::to_string(i) + "]");
  // unknown intrinsics: f = W + H at the image centre
  sx::Intrinsics K0 = sx::default_intrinsics(640, 480);
  near(K0.fx, 1120, 0, "default f");
  near(K0.cx, 319.5, 0, "default cx");
  near(K0.cy, 239.5, 0, "default cy");
}

void test_translation() {
  const int S = 64;
  const sx::Box box = {200, 100, 296, 196};  // b = 96, centre (248, 148)
  const sx::Intrinsics K = {800, 800, 330.25, 236.5};
  float cam[sx::kCameraSize];
  sx::camera_vector(box, K, 480, 640, sx::crop_intrinsics(K, box, S, sx::kConventionPyhpe), cam);
  const float c[3] = {1.3f, 0.21f, -0.08f};
  for (int form = 0; form < 2; ++form) {
    const bool paper = form == sx::kFormPaper;
    const std::string name = paper ? " (paper)" : " (official)";
    float t[3];
    sx::translation_from_correction(c, cam, (sx::Form)form, t);
    // T_z = B·s·f/b
    near(t[2], 0.2 * 1.3 * 800 / 96, 1e-6, "T_z = B s f / b" + name);
    // t projects to the box centre + k·τ̃·b through the principal point of its form
    const double k = paper ? 1.0 : 0.5, cx = paper ? K.cx : 320.0, cy = paper ? K.cy : 240.0;
    near(K.fx * t[0] / t[2] + cx, 248 + k * 0.21 * 96, 2e-3, "t projects to centre + k tau b, x" + name);
    near(K.fy * t[1] / t[2] + cy, 148 + k * -0.08 * 96, 2e-3, "t projects to centre + k tau b, y" + name);
  }
}

void test_rotation_and_projection() {
  // R = Rz(30°) Rx(-20°): its first two columns give it back; a scaled, skewed 6D still gives a rotation
  const double a = 30 * pyhpe::kPi / 180, b = -20 * pyhpe::kPi / 180;
  const double Rz[9] = {cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 1};
  const double Rx[9] = {1, 0, 0, 0, cos(b), -sin(b), 0, sin(b), cos(b)};
  double Rt[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) Rt[3 * i + j] = Rz[3 * i] * Rx[j] + Rz[3 * i + 1] * Rx[3 + j] + Rz[3 * i + 2] * Rx[6 + j];
  float sixd[6], R[9];
  for (int i = 0; i < 3; ++i) {
    sixd[i] = (float)(2.5 * Rt[3 * i]);                         // a1 scaled
    sixd[3 + i] = (float)(Rt[3 * i + 1] + 0.3 * Rt[3 * i]);     // a2 with some a1 in it
  }
  sx::rotation_from_sixd(sixd, R);
  for (int k = 0; k < 9; ++k) near(R[k], Rt[k], 2e-6, "Gram-Schmidt R[" + std::to_string(k) + "]");
  // projection: x_cam = R v + t, then the pinhole
  const float t[3] = {0.05f, -0.02f, 0.7f}, v[6] = {0.01f, 0.02f, -0.03f, 0, 0, 0};
  float uv[4];
  const sx::Intrinsics K = {600, 620, 320, 240};
  sx::project_points(R, t, K, v, 2, uv);
  double x[3];
  for (int r = 0; r < 3; ++r) x[r] = Rt[3 * r] * 0.01 + Rt[3 * r + 1] * 0.02 + Rt[3 * r + 2] * -0.03 + t[r];
  near(uv[0], 600 * x[0] / x[2] + 320, 1e-3, "projection u");
  near(uv[1], 620 * x[1] / x[2] + 240, 1e-3, "projection v");
  near(uv[2], 600 * 0.05 / 0.7 + 320, 1e-3, "projection of the head origin u");
  near(uv[3], 620 * -0.02 / 0.7 + 240, 1e-3, "projection of the head origin v");
}

}  // namespace

int main() {
  printf("isa=%s 6DoF geometry\n", PYHPE_ISA_NAME);
  test_crop_box();
  test_crop_matrix_and_intrinsics();
  test_translation();
  test_rotation_and_projection();
  return native_check::finish();
}
