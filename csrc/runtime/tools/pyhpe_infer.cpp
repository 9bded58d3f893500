// pyhpe-infer: head pose of one face with the pyhpe runtime (ncnn), printed as one JSON line.
//
//   pyhpe-infer MODEL.ncnn.param --image face.ppm [--box x0 y0 x1 y1] [--bgr] [--dump-input X.f32]
//   pyhpe-infer MODEL.ncnn.param --tensor input.f32        (3*S*S float32, normalised, planar)
//   options: --bin PATH  --threads N (1)  --fp16  --repeat N  --info
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
          "usage: pyhpe-infer MODEL.param (--image IMG.ppm [--box x0 y0 x1 y1] [--bgr] [--dump-input F32] | --tensor F32) "
          "[--bin PATH] %s [--threads N] [--fp16] [--fused] [--repeat N] [--info] [--print-options]\n",
          ModelFlags::kUsage);
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
  bool has_box = false, bgr = false, info = false, fused = false, fp16 = false, print_options = false;
  int repeat = 1, threads = 1;
  for (ArgParser a(kProg, argc, argv); a.next();) {
    if (model_flags.parse(a)) continue;
    if (a.is("--image")) image = a.value();
    else if (a.is("--dump-input")) dump_input = a.value();
    else if (a.is("--print-options")) print_options = true;
    else if (a.is("--tensor")) tensor = a.value();
    else if (a.is("--bin")) bin = a.value();
    else if (a.is("--box")) {
      a.need(4);
      for (int k = 0; k < 4; ++k) box[k] = a.float_value();
      has_box = true;
    }
    else if (a.is("--bgr")) bgr = true;
    else if (a.is("--threads")) threads = a.int_value();
    else if (a.is("--fp16")) fp16 = true;
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
  opt.precision = fp16 ? PYHPE_PRECISION_FP16 : PYHPE_PRECISION_FP32;
  if (print_options) {
    printf("{\"input_size\": %d, \"output_kind\": \"%s\", \"input_blob\": \"%s\", \"output_blob\": \"%s\", "
           "\"crop_margin\": %.17g, \"crop_resize\": %d, \"mean\": [%.9g, %.9g, %.9g], \"std\": [%.9g, %.9g, %.9g]}\n",
           opt.input_size, opt.output_kind == PYHPE_OUTPUT_MATRIX ? "matrix" : "6d", opt.input_blob, opt.output_blob,
           opt.crop_margin, opt.crop_resize, opt.mean[0], opt.mean[1], opt.mean[2], opt.std[0], opt.std[1], opt.std[2]);
    if (image.empty() && tensor.empty()) return 0;
  }
  if (image.empty() == tensor.empty()) die(kProg, "give exactly one of --image or --tensor");
  if (!dump_input.empty() && image.empty()) die(kProg, "--dump-input needs --image");
  if (bin.empty()) bin = bin_for(param);

  std::vector<unsigned char> pixels;
  std::vector<float> chw;
  int w = 0, h = 0;
  if (!image.empty()) {
    if (!read_ppm(image, &pixels, &w, &h)) die(kProg, image + ": not a readable binary PPM (P6, maxval 255)");
    if (bgr)  // the file is RGB; --bgr feeds it as BGR to exercise that path
      for (size_t p = 0; p + 2 < pixels.size(); p += 3) std::swap(pixels[p], pixels[p + 2]);
  } else {
    FILE* f = fopen(tensor.c_str(), "rb");
    if (!f) die(kProg, tensor + ": cannot open");
    chw.resize((size_t)3 * opt.input_size * opt.input_size);
    size_t n = fread(chw.data(), sizeof(float), chw.size(), f);
    int extra = fgetc(f);
    fclose(f);
    if (n != chw.size() || extra != EOF)
      die(kProg, tensor + ": expected exactly 3*" + std::to_string(opt.input_size) + "^2 float32 values");
  }

  if (!dump_input.empty()) {  // the network input pyhpe_infer computes from this image and box
    std::vector<float> x((size_t)3 * opt.input_size * opt.input_size);
    pyhpe_status st = pyhpe_preprocess(&opt, pixels.data(), w, h, 0, bgr ? PYHPE_PIXEL_BGR : PYHPE_PIXEL_RGB,
                                       has_box ? box : nullptr, x.data());
    if (st != PYHPE_OK) die(kProg, std::string(pyhpe_status_string(st)) + ": " + pyhpe_last_error(), 10 + (int)st);
    FILE* f = fopen(dump_input.c_str(), "wb");
    if (!f || fwrite(x.data(), sizeof(float), x.size(), f) != x.size()) die(kProg, dump_input + ": cannot write");
    fclose(f);
  }

  pyhpe_model* model = nullptr;
  load_or_die(kProg, param, bin, opt, &model);
  pyhpe_pose pose;
  pyhpe_status st = PYHPE_OK;
  for (int r = 0; r < repeat && st == PYHPE_OK; ++r) {
    if (!chw.empty())
      st = pyhpe_infer_tensor(model, chw.data(), &pose);
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
  pyhpe_model_free(model);
  return 0;
}
