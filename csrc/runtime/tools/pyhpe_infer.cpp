// pyhpe-infer: head pose of one face with the pyhpe runtime (ncnn), printed as one JSON line.
//
//   pyhpe-infer MODEL.ncnn.param --image face.ppm [--box x0 y0 x1 y1] [--bgr] [--dump-input X.f32]
//   pyhpe-infer MODEL.ncnn.param --tensor input.f32        (3*S*S float32, normalised, planar)
//   pyhpe-infer MODEL.ncnn.param --tensors inputs.f32      (N such inputs back to back: N JSON
//               lines, one model load; rotation models)
//   6DoF models (the sidecar's card task trgv2_6dof):
//   pyhpe-infer MODEL.ncnn.param --image frame.ppm --box x0 y0 x1 y1 [--intrinsics fx,fy,cx,cy]
//               [--dump-input X.f32] [--dump-camera C.f32]   (no --intrinsics: f = W + H, image centre)
//   pyhpe-infer MODEL.ncnn.param --tensor input.f32 --camera C.f32|v1,...,v11   (CAMERA_LAYOUT)
//   6DoF outputs: --vertices N (first N vertices printed, default 3), --dump-vertices V.f32 (V*3
//   float32), --dump-landmarks L.f32 (68*2 float32, crop pixels)
//   options: --bin PATH  --threads N (1)  --fp32|--fp16|--bf16 (default: the sidecar's "precision",
//            else fp32; docs/deployment.md "Precision")  --repeat N  --info
//            --fused (MODEL.fused.ncnn.param, the fused RepNeXt mixer pair pyhpe export writes)
//   model:   the sidecar beside the .param (MODEL.ncnn.json: input size, blobs, output kind,
//            crop, normalisation) when it exists, else pyhpe_options_default; --sidecar JSON
//            names another, --no-sidecar ignores it; --input-size S, --matrix, --crop-margin K,
//            --crop-resize N override it. --print-options prints the resulting options as JSON.
//
// Images are binary PPM (P6, 8-bit RGB); --dump-input writes the preprocessed network input
// (3*S*S float32). Exit code 0 on success, 2 for bad arguments or input files, 10 + pyhpe_status
// for runtime failures (message on stderr).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "args.h"
#include "pyhpe_runtime.h"

using namespace pyhpe_tools;

static const char* kProg = "pyhpe-infer";

static void usage() {
  fprintf(stderr,
          "usage: pyhpe-infer MODEL.param (--image IMG.ppm [--box x0 y0 x1 y1] [--bgr] [--dump-input F32] | --tensor F32 "
          "| --tensors F32: N inputs back to back, one JSON line each) "
          "[--bin PATH] %s [--threads N] [--fp32|--fp16|--bf16] [--fused] [--repeat N] [--info] [--print-options]\n"
          "  6DoF models: --box required with --image; [--intrinsics fx,fy,cx,cy] [--dump-camera F32]; "
          "--tensor F32 --camera F32|v1,...,v11; [--vertices N] [--dump-vertices F32] [--dump-landmarks F32]\n",
          ModelFlags::kUsage);
}

static void write_f32(const std::string& path, const float* v, size_t n) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f || fwrite(v, sizeof(float), n, f) != n) die(kProg, path + ": cannot write");
  fclose(f);
}

static void print_floats(const char* key, const float* v, int n, bool comma = true) {
  printf("%s\"%s\": [", comma ? ", " : "", key);
  for (int k = 0; k < n; ++k) printf("%s%.9g", k ? ", " : "", v[k]);
  printf("]");
}

// The camera vector of --camera: a file of 11 float32 values or 11 comma-separated numbers.
static std::vector<float> read_camera(const std::string& arg) {
  std::vector<float> cam;
  if (file_exists(arg)) {
    FILE* f = fopen(arg.c_str(), "rb");
    cam.resize(PYHPE_CAMERA_SIZE);
    size_t n = f ? fread(cam.data(), sizeof(float), cam.size(), f) : 0;
    int extra = f ? fgetc(f) : 0;
    if (f) fclose(f);
    if (n != cam.size() || extra != EOF) die(kProg, arg + ": expected exactly 11 float32 values (CAMERA_LAYOUT)");
    return cam;
  }
  cam = to_float_list(kProg, "--camera", arg.c_str());
  if (cam.size() != PYHPE_CAMERA_SIZE) die(kProg, "--camera needs 11 values (CAMERA_LAYOUT) or a file of them");
  return cam;
}

// What the 6DoF path of the command line asks for.
struct SixDoFArgs {
  std::vector<float> intrinsics;  // empty: unknown
  std::string camera, dump_camera, dump_vertices, dump_landmarks;
  int print_vertices = 3;
};

// pyhpe_infer_6dof (image) or pyhpe_infer_6dof_tensor, repeated; prints one JSON line.
static int run_6dof(pyhpe_model* model, const pyhpe_options& opt, const SixDoFArgs& a, const std::vector<unsigned char>& pixels,
                    int w, int h, bool bgr, const float* box, const std::vector<float>& chw, int repeat) {
  std::vector<float> cam;
  if (!chw.empty()) cam = read_camera(a.camera);
  std::vector<float> verts((size_t)3 * (opt.num_vertices > 0 ? opt.num_vertices : 0)), lmk(2 * PYHPE_NUM_LANDMARKS);
  pyhpe_pose6dof pose;
  memset(&pose, 0, sizeof pose);
  pyhpe_status st = PYHPE_OK;
  for (int pass = 0; pass < 2; ++pass) {  // a model that does not declare V: learn it, then read them
    pose.vertices = verts.empty() ? nullptr : verts.data();
    pose.vertices_capacity = (int)(verts.size() / 3);
    pose.landmarks = lmk.data();
    for (int r = 0; r < repeat && st == PYHPE_OK; ++r) {
      if (!chw.empty()) st = pyhpe_infer_6dof_tensor(model, chw.data(), cam.data(), &pose);
      else st = pyhpe_infer_6dof(model, pixels.data(), w, h, 0, bgr ? PYHPE_PIXEL_BGR : PYHPE_PIXEL_RGB, box,
                                 a.intrinsics.empty() ? nullptr : a.intrinsics.data(), &pose);
    }
    if (st != PYHPE_OK || pose.vertices || pose.num_vertices == 0) break;
    verts.resize((size_t)3 * pose.num_vertices);
    repeat = 1;
  }
  if (st != PYHPE_OK) {
    fprintf(stderr, "%s: error: %s: %s\n", kProg, pyhpe_status_string(st), pyhpe_last_error());
    return 10 + (int)st;
  }
  if (!a.dump_camera.empty()) write_f32(a.dump_camera, pose.camera, PYHPE_CAMERA_SIZE);
  if (!a.dump_vertices.empty()) write_f32(a.dump_vertices, verts.data(), (size_t)3 * pose.num_vertices);
  if (!a.dump_landmarks.empty()) write_f32(a.dump_landmarks, lmk.data(), lmk.size());
  printf("{");
  print_floats("sixd", pose.sixd, 6, false);
  print_floats("R", pose.R, 9);
  print_floats("euler_deg", pose.euler_deg, 3);
  print_floats("t", pose.t, 3);
  print_floats("correction", pose.correction, 3);
  print_floats("camera", pose.camera, PYHPE_CAMERA_SIZE);
  print_floats("intrinsics", pose.intrinsics, 4);
  print_floats("crop_map", pose.crop_map, 4);
  printf(", \"num_vertices\": %d", pose.num_vertices);
  const int nv = a.print_vertices < pose.num_vertices ? a.print_vertices : pose.num_vertices;
  print_floats("vertices_first", verts.data(), 3 * (nv > 0 ? nv : 0));
  print_floats("landmarks_first", lmk.data(), 2 * 3);
  printf("}\n");
  return 0;
}

static bool read_ppm(const std::string& path, std::vector<unsigned char>* pixels, int* w, int* h) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[3] = {0};
  int maxval = 0;
  bool ok = fscanf(f, "%2s", magic) == 1 && strcmp(magic, "P6") == 0;
  // skip comments between header fields
  auto next_int = [&](int* v) {
    int c;
    while ((c = fgetc(f)) != EOF) {
      if (c == '#') {
        while ((c = fgetc(f)) != EOF && c != '\n') {
        }
      } else if (c > ' ') {
        ungetc(c, f);
        return fscanf(f, "%d", v) == 1;
      }
    }
    return false;
  };
  ok = ok && next_int(w) && next_int(h) && next_int(&maxval) && maxval == 255 && *w > 0 && *h > 0;
  if (ok) {
    fgetc(f);  // the single whitespace after maxval
    pixels->resize((size_t)*w * *h * 3);
    ok = fread(pixels->data(), 1, pixels->size(), f) == pixels->size();
  }
  fclose(f);
  return ok;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  std::string param, bin, image, tensor, dump_input;
  ModelFlags model_flags;
  float box[4];
  bool has_box = false, bgr = false, info = false, fused = false, print_options = false, several = false;
  int precision = -1;  // -1: the sidecar's (fp32 without one)
  int repeat = 1, threads = 1;
  SixDoFArgs six;
  for (ArgParser a(kProg, argc, argv); a.next();) {
    if (model_flags.parse(a)) continue;
    if (a.is("--intrinsics")) {
      six.intrinsics = a.float_list();
      if (six.intrinsics.size() != 4) die(kProg, "--intrinsics needs fx,fy,cx,cy");
    }
    else if (a.is("--camera")) six.camera = a.value();
    else if (a.is("--dump-camera")) six.dump_camera = a.value();
    else if (a.is("--dump-vertices")) six.dump_vertices = a.value();
    else if (a.is("--dump-landmarks")) six.dump_landmarks = a.value();
    else if (a.is("--vertices")) six.print_vertices = a.int_value();
    else
    if (a.is("--image")) image = a.value();
    else if (a.is("--dump-input")) dump_input = a.value();
    else if (a.is("--print-options")) print_options = true;
    else if (a.is("--tensor")) tensor = a.value();
    else if (a.is("--tensors")) {
      tensor = a.value();
      several = true;
    }
    else if (a.is("--bin")) bin = a.value();
    else if (a.is("--box")) {
      a.need(4);
      for (int k = 0; k < 4; ++k) box[k] = a.float_value();
      has_box = true;
    }
    else if (a.is("--bgr")) bgr = true;
    else if (a.is("--threads")) threads = a.int_value();
    else if (a.is("--fp16")) precision = PYHPE_PRECISION_FP16;
    else if (a.is("--bf16")) precision = PYHPE_PRECISION_BF16;
    else if (a.is("--fp32")) precision = PYHPE_PRECISION_FP32;
    else if (a.is("--fused")) fused = true;
    else if (a.is("--repeat")) repeat = a.int_value();
    else if (a.is("--info")) info = true;
    else if (a.help()) { usage(); return 0; }
    else a.positional(&param);
  }
  if (info) printf("%s\n", pyhpe_build_info());
  if (param.empty()) die(kProg, "no model .param given");
  if (fused) {  // the fused-mixer pair written beside MODEL.ncnn.param by pyhpe export
    std::string f = fused_param_for(param);
    if (f.empty()) die(kProg, "--fused needs a MODEL.ncnn.param name, got " + param);
    param = f;
  }
  pyhpe_options opt = model_flags.options(kProg, param);
  opt.num_threads = threads;
  if (precision >= 0) opt.precision = precision;
  if (print_options) {
    printf("{\"input_size\": %d, \"output_kind\": \"%s\", \"input_blob\": \"%s\", \"output_blob\": \"%s\", "
           "\"crop_margin\": %.17g, \"crop_resize\": %d, \"mean\": [%.9g, %.9g, %.9g], \"std\": [%.9g, %.9g, %.9g]}\n",
           opt.input_size, opt.output_kind == PYHPE_OUTPUT_MATRIX ? "matrix" : "6d", opt.input_blob, opt.output_blob,
           opt.crop_margin, opt.crop_resize, opt.mean[0], opt.mean[1], opt.mean[2], opt.std[0], opt.std[1], opt.std[2]);
    if (opt.model_kind == PYHPE_MODEL_6DOF)  // one more line: the 6DoF fields
      printf("{\"model_kind\": \"6dof\", \"crop_kind\": \"landmark_box\", \"crop_convention\": \"%s\", "
             "\"translation_form\": \"%s\", \"num_vertices\": %d, \"camera_blob\": \"%s\", \"correction_blob\": \"%s\", "
             "\"vertices_blob\": \"%s\", \"landmarks_blob\": \"%s\"}\n",
             opt.crop_convention == PYHPE_CONVENTION_OFFICIAL ? "official" : "pyhpe",
             opt.translation_form == PYHPE_FORM_OFFICIAL ? "official" : "paper", opt.num_vertices, opt.camera_blob,
             opt.correction_blob, opt.vertices_blob, opt.landmarks_blob);
    if (image.empty() && tensor.empty()) return 0;
  }
  if (image.empty() == tensor.empty()) die(kProg, "give exactly one of --image, --tensor or --tensors");
  if (!dump_input.empty() && image.empty()) die(kProg, "--dump-input needs --image");
  const bool sixdof = opt.model_kind == PYHPE_MODEL_6DOF;
  if (sixdof && !image.empty() && !has_box) die(kProg, "a 6DoF model needs --box with --image");
  if (sixdof && !tensor.empty() && six.camera.empty()) die(kProg, "a 6DoF model needs --camera with --tensor");
  if (sixdof && several) die(kProg, "--tensors is for rotation models (a 6DoF model takes one --tensor and --camera)");
  if (!sixdof && (!six.intrinsics.empty() || !six.camera.empty() || !six.dump_camera.empty() ||
                  !six.dump_vertices.empty() || !six.dump_landmarks.empty()))
    die(kProg, "--intrinsics, --camera and the --dump-camera/vertices/landmarks flags are for 6DoF models");
  if (!six.dump_camera.empty() && image.empty()) die(kProg, "--dump-camera needs --image");
  if (bin.empty()) bin = bin_for(param);

  std::vector<unsigned char> pixels;
  std::vector<float> chw;
  int w = 0, h = 0;
  if (!image.empty()) {
    if (!read_ppm(image, &pixels, &w, &h)) die(kProg, image + ": not a readable binary PPM (P6, maxval 255)");
    if (bgr)  // the file is RGB; --bgr feeds it as BGR to exercise that path
      for (size_t p = 0; p + 2 < pixels.size(); p += 3) std::swap(pixels[p], pixels[p + 2]);
  } else {  // one input (--tensor), or several back to back (--tensors; rotation models)
    FILE* f = fopen(tensor.c_str(), "rb");
    if (!f) die(kProg, tensor + ": cannot open");
    const size_t one = (size_t)3 * opt.input_size * opt.input_size;
    std::vector<float> buf(one);
    size_t n = 0;
    while ((n = fread(buf.data(), sizeof(float), one, f)) == one) chw.insert(chw.end(), buf.begin(), buf.end());
    const bool tail = n != 0 || fgetc(f) != EOF;
    fclose(f);
    if (chw.empty() || tail || (!several && chw.size() != one))
      die(kProg, tensor + ": expected " + std::string(several ? "a whole number of inputs of" : "exactly") + " 3*" +
                     std::to_string(opt.input_size) + "^2 float32 values");
  }

  if (!dump_input.empty()) {  // the network input pyhpe_infer computes from this image and box
    std::vector<float> x((size_t)3 * opt.input_size * opt.input_size);
    const int fmt = bgr ? PYHPE_PIXEL_BGR : PYHPE_PIXEL_RGB;
    pyhpe_status st = sixdof ? pyhpe_preprocess_6dof(&opt, pixels.data(), w, h, 0, fmt, box,
                                                     six.intrinsics.empty() ? nullptr : six.intrinsics.data(), x.data(), nullptr)
                             : pyhpe_preprocess(&opt, pixels.data(), w, h, 0, fmt, has_box ? box : nullptr, x.data());
    if (st != PYHPE_OK) die(kProg, std::string(pyhpe_status_string(st)) + ": " + pyhpe_last_error(), 10 + (int)st);
    FILE* f = fopen(dump_input.c_str(), "wb");
    if (!f || fwrite(x.data(), sizeof(float), x.size(), f) != x.size()) die(kProg, dump_input + ": cannot write");
    fclose(f);
  }

  pyhpe_model* model = nullptr;
  load_or_die(kProg, param, bin, opt, &model);
  if (sixdof) {
    const int rc = run_6dof(model, opt, six, pixels, w, h, bgr, box, chw, repeat);
    pyhpe_model_free(model);
    return rc;
  }
  const size_t one = (size_t)3 * opt.input_size * opt.input_size;
  const size_t inputs = chw.empty() ? 1 : chw.size() / one;
  for (size_t i = 0; i < inputs; ++i) {
    pyhpe_pose pose;
    pyhpe_status st = PYHPE_OK;
    for (int r = 0; r < repeat && st == PYHPE_OK; ++r) {
      if (!chw.empty())
        st = pyhpe_infer_tensor(model, chw.data() + i * one, &pose);
      else
        st = pyhpe_infer(model, pixels.data(), w, h, 0, bgr ? PYHPE_PIXEL_BGR : PYHPE_PIXEL_RGB,
                         has_box ? box : nullptr, &pose);
    }
    if (st != PYHPE_OK) {
      fprintf(stderr, "%s: error: %s: %s\n", kProg, pyhpe_status_string(st), pyhpe_last_error());
      pyhpe_model_free(model);
      return 10 + (int)st;
    }
    printf("{\"sixd\": [");
    for (int k = 0; k < 6; ++k) printf("%s%.9g", k ? ", " : "", pose.sixd[k]);
    printf("], \"R\": [");
    for (int k = 0; k < 9; ++k) printf("%s%.9g", k ? ", " : "", pose.R[k]);
    printf("], \"euler_deg\": [%.9g, %.9g, %.9g]}\n", pose.euler_deg[0], pose.euler_deg[1], pose.euler_deg[2]);
  }
  pyhpe_model_free(model);
  return 0;
}
