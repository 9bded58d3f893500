// pyhpe-profile: where an ncnn model's time goes, per layer type (fp32, or bf16 storage with
// --bf16: what `--precision bf16` runs, where ncnn is built with NCNN_BF16; batch 1, random input).
// Each round runs the model one layer at a time: an extractor that keeps every blob, then one
// extract per layer in file order, so each extract runs exactly that layer (with the layout
// conversion ncnn does in front of it). A layer's cost is its minimum over the rounds; the table
// sums those per layer type, beside the minimum of whole forward passes run interleaved.
//
//   pyhpe-profile MODEL.param [--bin PATH] [--input-size S] [--threads 1] [--rounds 20] [--json]
//                 [--layers]   (also one row per layer: name, type, output shape, ms; with --json
//                               a "layers" list) [--bf16]
// The input size is the sidecar's (MODEL.ncnn.json) when it exists, else 224; --input-size
// overrides it (--sidecar JSON, --no-sidecar as in pyhpe-infer).
#include <stdio.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "fp32_net.h"
#include "net.h"

using namespace pyhpe_tools;

static const char* kProg = "pyhpe-profile";

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  std::string param, bin;
  ModelFlags model_flags;
  int threads = 1, rounds = 20;
  bool json = false, per_layer = false, bf16 = false;
  for (ArgParser a(kProg, argc, argv); a.next();) {
    if (model_flags.parse(a)) continue;
    if (a.is("--bin")) bin = a.value();
    else if (a.is("--threads")) threads = a.int_value();
    else if (a.is("--rounds")) rounds = a.int_value();
    else if (a.is("--json")) json = true;
    else if (a.is("--layers")) per_layer = true;
    else if (a.is("--bf16")) bf16 = true;
    else if (a.help()) {
      printf("usage: pyhpe-profile MODEL.param [--bin PATH] [--input-size S] [--sidecar JSON | --no-sidecar] [--threads N] "
             "[--rounds N] [--json] [--layers] [--bf16]\n");
      return 0;
    }
    else a.positional(&param);
  }
  if (param.empty()) die(kProg, "no model .param given");
  const int size = model_flags.options(kProg, param).input_size;
  if (size < 16 || threads < 1 || rounds < 1) die(kProg, "--input-size >= 16, --threads >= 1, --rounds >= 1");
  if (bin.empty()) bin = bin_for(param);

  ncnn::Net net;
  load_fp32_net(kProg, net, param, bin, threads, /*lightmode=*/false, bf16);  // keeps every blob
  const char* input = net.input_names()[0];
  const char* output = net.output_names()[0];

  ncnn::Mat in(size, size, 3);
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < size * size; ++k) in.channel(c)[k] = normal(rng);

  const std::vector<ncnn::Layer*>& layers = net.layers();
  std::vector<double> best(layers.size(), 1e300);
  std::vector<std::string> shapes(layers.size());
  double whole = 1e300;
  for (int r = 0; r < rounds; ++r) {
    {
      ncnn::Extractor ex = net.create_extractor();
      ex.set_light_mode(true);
      ex.input(input, in);
      ncnn::Mat out;
      double t0 = now_ms();
      if (ex.extract(output, out) != 0) die(kProg, "ncnn extract failed", 14);
      whole = std::min(whole, now_ms() - t0);
    }
    ncnn::Extractor ex = net.create_extractor();
    ex.set_light_mode(false);
    ex.input(input, in);
    for (size_t i = 0; i < layers.size(); ++i) {
      if (layers[i]->type == "Input" || layers[i]->tops.empty()) continue;
      ncnn::Mat m;
      double t0 = now_ms();
      if (ex.extract(layers[i]->tops[0], m, 1) != 0) die(kProg, "ncnn extract failed at " + layers[i]->name, 14);
      best[i] = std::min(best[i], now_ms() - t0);
      if (r == 0) shapes[i] = std::to_string(m.c * m.elempack) + "x" + std::to_string(m.h) + "x" + std::to_string(m.w);
    }
  }
  std::map<std::string, std::pair<int, double>> by_type;
  double total = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (best[i] >= 1e300) continue;
    auto& e = by_type[layers[i]->type];
    e.first += 1;
    e.second += best[i];
    total += best[i];
  }
  std::vector<std::pair<std::string, std::pair<int, double>>> rows(by_type.begin(), by_type.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
  if (per_layer && !json) {
    printf("| layer | type | output (CxHxW) | ms (min) |\n|---|---|---|---|\n");
    for (size_t i = 0; i < layers.size(); ++i)
      if (best[i] < 1e300)
        printf("| %s | %s | %s | %.3f |\n", layers[i]->name.c_str(), layers[i]->type.c_str(), shapes[i].c_str(), best[i]);
    printf("\n");
  }
  if (json) {
    printf("{\"model\": \"%s\", \"threads\": %d, \"rounds\": %d, \"whole_min_ms\": %.4f, \"layers_sum_ms\": %.4f, \"types\": [",
           param.c_str(), threads, rounds, whole, total);
    for (size_t k = 0; k < rows.size(); ++k)
      printf("%s{\"type\": \"%s\", \"count\": %d, \"ms\": %.4f}", k ? ", " : "", rows[k].first.c_str(),
             rows[k].second.first, rows[k].second.second);
    printf("]");
    if (per_layer) {
      printf(", \"layers\": [");
      bool first = true;
      for (size_t i = 0; i < layers.size(); ++i) {
        if (best[i] >= 1e300) continue;
        printf("%s{\"name\": \"%s\", \"type\": \"%s\", \"shape\": \"%s\", \"ms\": %.4f}", first ? "" : ", ",
               layers[i]->name.c_str(), layers[i]->type.c_str(), shapes[i].c_str(), best[i]);
        first = false;
      }
      printf("]");
    }
    printf("}\n");
  } else {
    printf("# %s, %d thread(s), input %d, %s, %d rounds: whole forward min %.3f ms, sum of per-layer minima %.3f ms\n",
           param.c_str(), threads, size, bf16 ? "bf16 storage" : "fp32", rounds, whole, total);
    printf("| layer type | layers | ms (sum of minima) | share |\n|---|---|---|---|\n");
    for (auto& r : rows)
      printf("| %s | %d | %.3f | %.1f%% |\n", r.first.c_str(), r.second.first, r.second.second,
             100.0 * r.second.second / total);
  }
  return 0;
}
