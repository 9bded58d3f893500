// pyhpe-run: one forward of an ncnn model on a raw float32 tensor, output written as raw float32
// (fp32, batch 1, pyhpe's fused layers registered). For tests of single layers against PyTorch
// (tests/runtime/test_ncnn_ffn.py): any input shape, no preprocessing, no pose post-processing.
//
//   pyhpe-run MODEL.param --shape C,H,W --in X.f32 --out Y.f32 [--bin PATH] [--threads 1]
// X holds C*H*W floats (CHW); Y gets the output blob's c*h*w floats (CHW) and stdout one JSON line
// with its shape. Exit codes: 2 usage, 12 file error, 13 model error, 15 forward error (the
// fused layer's message on stderr).
#include <stdio.h>

#include <string>
#include <vector>

#include "args.h"
#include "custom_layers.h"
#include "fp32_net.h"
#include "net.h"

using namespace pyhpe_tools;

static const char* kProg = "pyhpe-run";

int main(int argc, char** argv) {
  std::string param, bin, in_path, out_path;
  std::vector<int> shape;
  int threads = 1;
  for (ArgParser a(kProg, argc, argv); a.next();) {
    if (a.is("--bin")) bin = a.value();
    else if (a.is("--shape")) shape = a.int_list();
    else if (a.is("--in")) in_path = a.value();
    else if (a.is("--out")) out_path = a.value();
    else if (a.is("--threads")) threads = a.int_value();
    else if (a.help()) {
      printf("usage: pyhpe-run MODEL.param --shape C,H,W --in X.f32 --out Y.f32 [--bin PATH] [--threads N]\n");
      return 0;
    } else a.positional(&param);
  }
  if (param.empty() || in_path.empty() || out_path.empty()) die(kProg, "needs MODEL.param, --in and --out");
  if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1) die(kProg, "--shape takes C,H,W >= 1");
  if (threads < 1) die(kProg, "--threads must be >= 1");
  if (bin.empty()) bin = bin_for(param);

  const int C = shape[0], H = shape[1], W = shape[2];
  ncnn::Mat x(W, H, C);
  FILE* f = fopen(in_path.c_str(), "rb");
  if (!f) die(kProg, in_path + ": cannot open", 12);
  size_t got = 0;
  for (int c = 0; c < C; ++c) got += fread(x.channel(c), sizeof(float), (size_t)W * H, f);
  const bool extra = fgetc(f) != EOF;
  fclose(f);
  if (got != (size_t)C * H * W || extra) die(kProg, in_path + ": expected " + std::to_string(C * H * W) + " float32 values", 2);

  ncnn::Net net;
  load_fp32_net(kProg, net, param, bin, threads, /*lightmode=*/true);

  ncnn::Extractor ex = net.create_extractor();
  ex.input(net.input_names()[0], x);
  ncnn::Mat y;
  const int ret = ex.extract(net.output_names()[0], y);
  if (ret != 0) die(kProg, "forward failed with code " + std::to_string(ret) + pyhpe_rt::custom_layer_detail(), 15);
  if (y.elempack != 1 || y.elemsize != 4u) die(kProg, "the output is not unpacked fp32", 15);
  f = fopen(out_path.c_str(), "wb");
  if (!f) die(kProg, out_path + ": cannot write", 12);
  for (int c = 0; c < y.c; ++c) fwrite(y.channel(c), sizeof(float), (size_t)y.w * y.h * y.d, f);
  fclose(f);
  printf("{\"c\": %d, \"h\": %d, \"w\": %d}\n", y.c, y.h, y.w);
  return 0;
}
