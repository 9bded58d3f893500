// pyhpe-bench: latency of the pyhpe runtime (ncnn inference + native post-processing) on a fixed
// random input, per thread count and precision: warm-up runs, then timed runs; prints median,
// percentiles, min and mean in milliseconds, one line per configuration (and --json).
// Without --json each configuration also gets one machine-readable line naming the model's stem
// and the thread count, so that the concatenated output of runs on a phone can be read back
// (pyhpe/bench/phone.py):
//   RESULT model=<stem> precision=fp32 threads=1 input=224 runs=50 clock=wall min_ms=.. median_ms=..
//          p10_ms=.. p90_ms=.. p99_ms=.. mean_ms=..
// (<stem>: the .param file's name without ".ncnn.param" / ".param"; it ends at " precision=").
//
//   pyhpe-bench MODEL.ncnn.param [MODEL2.ncnn.param ...] [--fused] [--bin PATH] [--input-size S]
//               [--matrix] [--sidecar JSON | --no-sidecar] [--threads 1,2] [--precision fp32|fp16|bf16|all|both]
//               [--warmup 5] [--runs 50] [--clock wall|thread] [--json [--raw]]
// Several models are timed interleaved: each run calls every model once, in a rotating order.
// --fused times each model's fused-mixer pair (<stem>.fused.ncnn.param, pyhpe/export/ncnn_fuse.py).
// Each model's options come from its sidecar (<stem>.ncnn.json) when it exists; flags override.
// 6DoF models (TRGv2) are timed through pyhpe_infer_6dof_tensor with the camera vector of a
// 100 px face box at the centre of a 640 x 480 frame with unknown intrinsics (f = W + H): the
// network and the decoding (R, Eq. 3 t, vertices and landmarks copied out), not the crop.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "args.h"
#include "pyhpe/sixdof_math.h"
#include "pyhpe_runtime.h"

using namespace pyhpe_tools;

static const char* kProg = "pyhpe-bench";

static double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * (sorted.size() - 1);
  size_t lo = (size_t)pos, hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

// Milliseconds on the wall clock, or of this thread's CPU time (--clock thread: with one
// thread ncnn runs on the caller, so this is the model's own cost without the time other
// processes take the core away; it excludes nothing the model itself does).
static double clock_ms(bool thread_clock) {
  if (thread_clock) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The model's name in RESULT lines: the file name without its directory and ".ncnn.param" or ".param".
static std::string model_stem(const std::string& param) {
  std::string stem = param.substr(param.find_last_of('/') + 1);
  for (const char* ext : {".param", ".ncnn"}) {
    const size_t n = strlen(ext);
    if (stem.size() > n && stem.compare(stem.size() - n, n, ext) == 0) stem.resize(stem.size() - n);
  }
  return stem;
}

struct Entry {
  std::string param, bin;
  pyhpe_model* model = nullptr;
  std::vector<float> input;  // 3 x S x S of this model
  std::vector<double> ms;
  bool sixdof = false;       // a 6DoF model: camera vector and output buffers below
  std::vector<float> camera, vertices, landmarks;
  int input_side() const { return (int)std::lround(std::sqrt(input.size() / 3.0)); }
};

// The camera vector of a 100 px face box at the centre of a 640 x 480 frame, unknown intrinsics.
static std::vector<float> bench_camera(const pyhpe_options& opt) {
  namespace sx = pyhpe::sixdof;
  const sx::Intrinsics K = sx::default_intrinsics(640, 480);
  const sx::Convention conv = (sx::Convention)opt.crop_convention;
  const sx::Box crop = sx::crop_box({270, 190, 370, 290}, 1.0 + opt.crop_margin, conv);
  std::vector<float> cam(PYHPE_CAMERA_SIZE);
  sx::camera_vector(crop, K, 480, 640, sx::crop_intrinsics(K, crop, opt.input_size, conv), cam.data());
  return cam;
}

// One inference of the entry's model on its fixed input.
static pyhpe_status infer(Entry& e) {
  if (!e.sixdof) {
    pyhpe_pose pose;
    return pyhpe_infer_tensor(e.model, e.input.data(), &pose);
  }
  pyhpe_pose6dof pose;
  memset(&pose, 0, sizeof pose);
  pose.vertices = e.vertices.empty() ? nullptr : e.vertices.data();
  pose.vertices_capacity = (int)(e.vertices.size() / 3);
  pose.landmarks = e.landmarks.data();
  pyhpe_status st = pyhpe_infer_6dof_tensor(e.model, e.input.data(), e.camera.data(), &pose);
  if (st == PYHPE_OK && !pose.vertices && pose.num_vertices > 0) e.vertices.resize((size_t)3 * pose.num_vertices);
  return st;
}

int main(int argc, char** argv) {
  std::string bin, precision = "fp32";
  std::vector<std::string> params;
  ModelFlags model_flags;
  std::vector<int> threads = {1};
  int warmup = 5, runs = 50;
  bool json = false, fused = false, raw = false, thread_clock = false;
  for (ArgParser a(kProg, argc, argv); a.next();) {
    if (model_flags.parse(a)) continue;
    if (a.is("--bin")) bin = a.value();
    else if (a.is("--threads")) threads = a.int_list();
    else if (a.is("--precision")) precision = a.value();
    else if (a.is("--warmup")) warmup = a.int_value();
    else if (a.is("--runs")) runs = a.int_value();
    else if (a.is("--fused")) fused = true;
    else if (a.is("--json")) json = true;
    else if (a.is("--raw")) raw = true;
    else if (a.is("--clock")) {
      const std::string c = a.value();
      if (c != "wall" && c != "thread") die(kProg, "--clock must be wall or thread");
      thread_clock = c == "thread";
    }
    else if (a.help()) {
      printf("usage: pyhpe-bench MODEL.param [MODEL2.param ...] [--fused] [--bin PATH] %s "
             "[--threads 1,2] [--precision fp32|fp16|bf16|all|both] [--warmup N] [--runs N] [--clock wall|thread] [--json [--raw]]\n"
             "  --clock thread: this thread's CPU time (1 thread only): the model's own cost on a shared machine\n"
             "  --raw: with --json, every run's time too (\"times_ms\", in run order)\n"
             "  without --json: also one line per configuration for scripts (pyhpe/bench/phone.py),\n"
             "    RESULT model=STEM precision=P threads=N input=S runs=N clock=C min_ms=.. median_ms=.. ...\n"
             "  several models are timed interleaved (one run of each in turn, the order rotating);\n"
             "  --fused: each MODEL.ncnn.param's fused-mixer pair MODEL.fused.ncnn.param (pyhpe export)\n"
             "  model options: each model's sidecar MODEL.ncnn.json when it exists, then the flags\n",
             ModelFlags::kUsage);
      return 0;
    }
    else a.positional(&params);
  }
  if (params.empty()) die(kProg, "no model .param given");
  if (!bin.empty() && params.size() > 1) die(kProg, "--bin applies to a single model");
  if (runs < 1 || warmup < 0) die(kProg, "--runs must be >= 1 and --warmup >= 0");
  for (int t : threads) {
    if (t < 1) die(kProg, "thread counts must be >= 1");
    if (thread_clock && t != 1) die(kProg, "--clock thread measures latency only with --threads 1");
  }
  std::vector<int> precisions;
  if (precision == "fp32") precisions = {PYHPE_PRECISION_FP32};
  else if (precision == "fp16") precisions = {PYHPE_PRECISION_FP16};
  else if (precision == "bf16") precisions = {PYHPE_PRECISION_BF16};
  else if (precision == "both") precisions = {PYHPE_PRECISION_FP32, PYHPE_PRECISION_FP16};
  else if (precision == "all") precisions = {PYHPE_PRECISION_FP32, PYHPE_PRECISION_FP16, PYHPE_PRECISION_BF16};
  else die(kProg, "--precision must be fp32, fp16, bf16, all (the three) or both (fp32 and fp16)");

  std::vector<Entry> entries(params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    Entry& e = entries[k];
    e.param = params[k];
    if (fused) {
      e.param = fused_param_for(params[k]);
      if (e.param.empty()) die(kProg, "--fused needs MODEL.ncnn.param names, got " + params[k]);
    }
    e.bin = bin.empty() ? bin_for(e.param) : bin;
    const pyhpe_options opt = model_flags.options(kProg, e.param);
    load_or_die(kProg, e.param, e.bin, opt, &e.model);
    e.input.resize((size_t)3 * opt.input_size * opt.input_size);
    std::mt19937 rng(0);  // the same values for every model of one input size
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : e.input) v = normal(rng);
    e.sixdof = opt.model_kind == PYHPE_MODEL_6DOF;
    if (e.sixdof) {
      e.camera = bench_camera(opt);
      e.vertices.resize((size_t)3 * opt.num_vertices);
      e.landmarks.resize(2 * PYHPE_NUM_LANDMARKS);
    }
  }
  std::string sizes;  // the input side of each model, "/"-separated where they differ
  for (size_t k = 0; k < entries.size(); ++k) {
    const std::string s = std::to_string(entries[k].input_side());
    if (k == 0 || entries[k].input.size() != entries[k - 1].input.size()) sizes += (k ? "/" : "") + s;
  }

  if (!json) printf("# %s\n# input %s, warm-up %d, runs %d%s%s\n", pyhpe_build_info(), sizes.c_str(), warmup, runs,
                    entries.size() > 1 ? ", models interleaved" : "", thread_clock ? ", thread CPU time" : "");
  if (json) printf("[");
  bool first = true;
  for (int p : precisions) {
    for (int t : threads) {
      for (Entry& e : entries) {
        pyhpe_status st = pyhpe_model_set_precision(e.model, p);
        if (st == PYHPE_OK) st = pyhpe_model_set_threads(e.model, t);
        if (st != PYHPE_OK) die(kProg, pyhpe_last_error(), 10 + (int)st);
        for (int i = 0; i < warmup; ++i) infer(e);
        e.ms.clear();
      }
      for (int i = 0; i < runs; ++i) {
        for (size_t j = 0; j < entries.size(); ++j) {
          Entry& e = entries[(i + j) % entries.size()];
          const double t0 = clock_ms(thread_clock);
          pyhpe_status st = infer(e);
          const double t1 = clock_ms(thread_clock);
          if (st != PYHPE_OK) die(kProg, e.param + ": " + pyhpe_last_error(), 10 + (int)st);
          e.ms.push_back(t1 - t0);
        }
      }
      const char* pname = p == PYHPE_PRECISION_FP16 ? "fp16" : p == PYHPE_PRECISION_BF16 ? "bf16" : "fp32";
      for (Entry& e : entries) {
        std::string times;
        for (double v : e.ms) times += (times.empty() ? "" : ", ") + std::to_string(v);
        std::vector<double>& ms = e.ms;
        double mean = 0;
        for (double v : ms) mean += v;
        mean /= ms.size();
        std::sort(ms.begin(), ms.end());
        if (json) {
          printf("%s{\"model\": \"%s\", \"precision\": \"%s\", \"threads\": %d, \"runs\": %d, \"median_ms\": %.4f, "
                 "\"p10_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, \"min_ms\": %.4f, \"mean_ms\": %.4f%s%s%s}",
                 first ? "" : ", ", e.param.c_str(), pname, t, runs, percentile(ms, 0.5), percentile(ms, 0.1),
                 percentile(ms, 0.9), percentile(ms, 0.99), ms.front(), mean, raw ? ", \"times_ms\": [" : "",
                 raw ? times.c_str() : "", raw ? "]" : "");
        } else {
          printf("%s%s threads=%d median=%.3f ms p10=%.3f p90=%.3f p99=%.3f min=%.3f mean=%.3f\n",
                 entries.size() > 1 ? (e.param + " ").c_str() : "", pname, t, percentile(ms, 0.5),
                 percentile(ms, 0.1), percentile(ms, 0.9), percentile(ms, 0.99), ms.front(), mean);
          printf("RESULT model=%s precision=%s threads=%d input=%d runs=%d clock=%s min_ms=%.4f median_ms=%.4f "
                 "p10_ms=%.4f p90_ms=%.4f p99_ms=%.4f mean_ms=%.4f\n", model_stem(e.param).c_str(), pname, t,
                 e.input_side(), runs, thread_clock ? "thread" : "wall",
                 ms.front(), percentile(ms, 0.5), percentile(ms, 0.1), percentile(ms, 0.9), percentile(ms, 0.99), mean);
        }
        first = false;
      }
    }
  }
  if (json) printf("]\n");
  for (Entry& e : entries) pyhpe_model_free(e.model);
  return 0;
}
