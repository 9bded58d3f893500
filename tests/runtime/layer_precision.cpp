// Test driver of tests/runtime/test_runtime_precision.py: one of pyhpe's custom ncnn layers run in
// fp32 and in a low-precision storage (fp16 or bf16) on the same random input, compared.
//
//   layer_precision MODEL.param MODEL.bin C H W fp16|bf16 SEED
//
// MODEL is a one-layer model (Input in0, the layer under test, possibly a PyhpeSplit in front):
// the last layer is the one tested. Two nets load it, one with every fp16/bf16 option off, one with
// the precision's options (as the runtime's apply_options sets them). The fp32 net's forward is the
// reference. The low net's layer is called directly: its inputs are the fp32 net's inputs rounded
// to the storage type (fp16 or bf16, elemsize 2, elempack 1), its output is widened to fp32 — so
// the layer's own 16-bit path runs whether or not ncnn would cast blobs on this CPU (ncnn casts to
// bf16 only when built with NCNN_BF16, to fp16 only on ARM). The low net is also run whole, its
// output blob extracted raw (type 1), to report which storage ncnn actually gave the layer.
// Prints one JSON line.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "custom_layers.h"
#include "mat.h"
#include "net.h"

namespace {

[[noreturn]] void die(const std::string& m) {
  fprintf(stderr, "layer_precision: %s%s\n", m.c_str(), pyhpe_rt::custom_layer_detail().c_str());
  exit(1);
}

void load(ncnn::Net& net, const char* param, const char* bin) {
  if (pyhpe_rt::register_custom_layers(net) != 0) die("cannot register the custom layers");
  if (net.load_param(param) != 0) die(std::string("cannot load ") + param);
  if (net.load_model(bin) != 0) die(std::string("cannot load ") + bin);
}

unsigned short to16(float v, bool fp16) { return fp16 ? ncnn::float32_to_float16(v) : ncnn::float32_to_bfloat16(v); }
float from16(unsigned short v, bool fp16) { return fp16 ? ncnn::float16_to_float32(v) : ncnn::bfloat16_to_float32(v); }

ncnn::Mat narrow(const ncnn::Mat& m, bool fp16) {
  ncnn::Mat out(m.w, m.h, m.c, (size_t)2u);
  for (int c = 0; c < m.c; ++c) {
    const float* p = m.channel(c);
    unsigned short* q = out.channel(c);
    for (int i = 0; i < m.w * m.h; ++i) q[i] = to16(p[i], fp16);
  }
  return out;
}

ncnn::Mat widen(const ncnn::Mat& m, bool fp16) {
  ncnn::Mat out(m.w, m.h, m.c, (size_t)4u);
  for (int c = 0; c < m.c; ++c) {
    const unsigned short* p = m.channel(c);
    float* q = out.channel(c);
    for (int i = 0; i < m.w * m.h; ++i) q[i] = from16(p[i], fp16);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) die("usage: layer_precision MODEL.param MODEL.bin C H W fp16|bf16 SEED");
  const int C = atoi(argv[3]), H = atoi(argv[4]), W = atoi(argv[5]);
  const std::string prec = argv[6];
  if (prec != "fp16" && prec != "bf16") die("precision must be fp16 or bf16");
  const bool fp16 = prec == "fp16";

  ncnn::Net ref, low;
  ref.opt.lightmode = false;
  ref.opt.use_fp16_packed = ref.opt.use_fp16_storage = ref.opt.use_fp16_arithmetic = false;
  ref.opt.use_bf16_storage = ref.opt.use_bf16_packed = false;
  low.opt = ref.opt;
  if (fp16) low.opt.use_fp16_packed = low.opt.use_fp16_storage = low.opt.use_fp16_arithmetic = true;
  else low.opt.use_bf16_storage = low.opt.use_bf16_packed = true;
  load(ref, argv[1], argv[2]);
  load(low, argv[1], argv[2]);

  ncnn::Mat x(W, H, C, (size_t)4u);
  std::mt19937 rng((unsigned)atoi(argv[7]));
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int c = 0; c < C; ++c) {
    float* p = x.channel(c);
    for (int i = 0; i < W * H; ++i) p[i] = normal(rng);
  }

  // The reference: the fp32 net, keeping every blob (lightmode off) for the layer's inputs.
  ncnn::Extractor ex = ref.create_extractor();
  ex.input("in0", x);
  ncnn::Mat y_ref;
  if (ex.extract(ref.output_names()[0], y_ref) != 0) die("fp32 forward failed");
  const ncnn::Layer* layer_ref = ref.layers().back();
  ncnn::Layer* layer = low.layers().back();
  std::vector<ncnn::Mat> bottoms;
  for (int b : layer_ref->bottoms) {
    ncnn::Mat m;
    if (ex.extract(b, m) != 0) die("cannot read the layer's input blob");
    bottoms.push_back(narrow(m, fp16));
  }

  // The layer's own 16-bit path, called directly.
  ncnn::Mat y16;
  int ret;
  if (layer->one_blob_only) {
    ret = layer->forward(bottoms[0], y16, low.opt);
  } else {
    std::vector<ncnn::Mat> tops(1);
    ret = layer->forward(bottoms, tops, low.opt);
    y16 = tops[0];
  }
  if (ret != 0) die("the " + prec + " forward failed with code " + std::to_string(ret));
  if (y16.elemsize != 2u || y16.elempack != 1) die("the " + prec + " output is not 16-bit elempack 1");
  const ncnn::Mat y_low = widen(y16, fp16);

  // The whole low-precision net: what storage ncnn hands the layer on this CPU and build.
  ncnn::Extractor ex2 = low.create_extractor();
  ex2.input("in0", x);
  ncnn::Mat y_net_raw, y_net;
  if (ex2.extract(low.output_names()[0], y_net_raw, 1) != 0) die("low-precision net forward failed");
  ncnn::Extractor ex3 = low.create_extractor();
  ex3.input("in0", x);
  if (ex3.extract(low.output_names()[0], y_net) != 0) die("low-precision net forward failed");

  double max_abs = 0, ref_max = 0, net_abs = 0;
  for (int c = 0; c < y_ref.c; ++c) {
    const float* a = y_ref.channel(c);
    const float* b = y_low.channel(c);
    const float* n = y_net.channel(c);
    for (int i = 0; i < y_ref.w * y_ref.h; ++i) {
      max_abs = fmax(max_abs, fabs((double)a[i] - b[i]));
      net_abs = fmax(net_abs, fabs((double)a[i] - n[i]));
      ref_max = fmax(ref_max, fabs((double)a[i]));
    }
  }
  printf("{\"type\": \"%s\", \"precision\": \"%s\", \"max_abs\": %.9g, \"ref_max\": %.9g, \"net_max_abs\": %.9g, "
         "\"net_elemsize\": %d, \"support_fp16_storage\": %s, \"support_bf16_storage\": %s, \"shape\": [%d, %d, %d]}\n",
         layer->type.c_str(), prec.c_str(), max_abs, ref_max, net_abs, (int)y_net_raw.elemsize,
         layer->support_fp16_storage ? "true" : "false", layer->support_bf16_storage ? "true" : "false", y_ref.c,
         y_ref.h, y_ref.w);
  return 0;
}
