// pyhpe-bench: latency of the pyhpe runtime (ncnn inference + native post-processing) on a fixed
// random input, per thread count and precision: warm-up runs, then timed runs; prints median,
// percentiles, min and mean in milliseconds, one line per configuration (and --json).
//
//   pyhpe-bench MODEL.ncnn.param [--bin PATH] [--input-size S] [--matrix] [--threads 1,2]
//               [--precision fp32|fp16|both] [--warmup 5] [--runs 50] [--json]
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "pyhpe_runtime.h"

using namespace pyhpe_tools;

static const char* kProg = "pyhpe-bench";

static double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * (sorted.size() - 1);
  size_t lo = (size_t)pos, hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

int main(int argc, char** argv) {
  std::string param, bin, precision = "fp32";
  pyhpe_options opt;
  pyhpe_options_default(&opt);
  std::vector<int> threads = {1};
  int warmup = 5, runs = 50;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&]() {
      if (i + 1 >= argc) die(kProg, a + " needs a value");
    };
    if (a == "--bin") { need(); bin = argv[++i]; }
    else if (a == "--input-size") { need(); opt.input_size = to_int(kProg, "--input-size", argv[++i]); }
    else if (a == "--matrix") opt.output_kind = PYHPE_OUTPUT_MATRIX;
    else if (a == "--threads") { need(); threads = to_int_list(kProg, "--threads", argv[++i]); }
    else if (a == "--precision") { need(); precision = argv[++i]; }
    else if (a == "--warmup") { need(); warmup = to_int(kProg, "--warmup", argv[++i]); }
    else if (a == "--runs") { need(); runs = to_int(kProg, "--runs", argv[++i]); }
    else if (a == "--json") json = true;
    else if (a == "-h" || a == "--help") {
      printf("usage: pyhpe-bench MODEL.param [--bin PATH] [--input-size S] [--matrix] [--threads 1,2] "
             "[--precision fp32|fp16|both] [--warmup N] [--runs N] [--json]\n");
      return 0;
    }
    else if (!a.empty() && a[0] == '-') die(kProg, "unknown option " + a);
    else if (param.empty()) param = a;
    else die(kProg, "unexpected argument " + a);
  }
  if (param.empty()) die(kProg, "no model .param given");
  if (runs < 1 || warmup < 0) die(kProg, "--runs must be >= 1 and --warmup >= 0");
  for (int t : threads)
    if (t < 1) die(kProg, "thread counts must be >= 1");
  std::vector<int> precisions;
  if (precision == "fp32") precisions = {PYHPE_PRECISION_FP32};
  else if (precision == "fp16") precisions = {PYHPE_PRECISION_FP16};
  else if (precision == "both") precisions = {PYHPE_PRECISION_FP32, PYHPE_PRECISION_FP16};
  else die(kProg, "--precision must be fp32, fp16 or both");
  if (bin.empty()) bin = bin_for(param);

  pyhpe_model* model = nullptr;
  load_or_die(kProg, param, bin, opt, &model);
  std::vector<float> input((size_t)3 * opt.input_size * opt.input_size);
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : input) v = normal(rng);

  if (!json) printf("# %s\n# model %s, input %d, warm-up %d, runs %d\n", pyhpe_build_info(), param.c_str(),
                    opt.input_size, warmup, runs);
  if (json) printf("[");
  bool first = true;
  for (int p : precisions) {
    pyhpe_status st = pyhpe_model_set_precision(model, p);
    if (st != PYHPE_OK) die(kProg, pyhpe_last_error(), 10 + (int)st);
    for (int t : threads) {
      pyhpe_model_set_threads(model, t);
      pyhpe_pose pose;
      for (int i = 0; i < warmup; ++i) pyhpe_infer_tensor(model, input.data(), &pose);
      std::vector<double> ms;
      ms.reserve(runs);
      for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        st = pyhpe_infer_tensor(model, input.data(), &pose);
        auto t1 = std::chrono::steady_clock::now();
        if (st != PYHPE_OK) die(kProg, pyhpe_last_error(), 10 + (int)st);
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      double mean = 0;
      for (double v : ms) mean += v;
      mean /= ms.size();
      std::sort(ms.begin(), ms.end());
      const char* pname = p == PYHPE_PRECISION_FP16 ? "fp16" : "fp32";
      if (json) {
        printf("%s{\"precision\": \"%s\", \"threads\": %d, \"runs\": %d, \"median_ms\": %.4f, \"p10_ms\": %.4f, "
               "\"p90_ms\": %.4f, \"p99_ms\": %.4f, \"min_ms\": %.4f, \"mean_ms\": %.4f}",
               first ? "" : ", ", pname, t, runs, percentile(ms, 0.5), percentile(ms, 0.1), percentile(ms, 0.9),
               percentile(ms, 0.99), ms.front(), mean);
      } else {
        printf("%s threads=%d median=%.3f ms p10=%.3f p90=%.3f p99=%.3f min=%.3f mean=%.3f\n", pname, t,
               percentile(ms, 0.5), percentile(ms, 0.1), percentile(ms, 0.9), percentile(ms, 0.99), ms.front(),
               mean);
      }
      first = false;
    }
  }
  if (json) printf("]\n");
  pyhpe_model_free(model);
  return 0;
}
