// pyhpe-mixer-bench: one RepNeXt mixer (deploy form, batch 1) three ways, timed interleaved:
//   ncnn    ncnn's own layers, as pnnx exports the subgraph: Slice + 4 ConvolutionDepthWise +
//           Concat + BatchNorm (block), or Split + 2 ConvolutionDepthWise + Concat + BatchNorm
//           (downsample);
//   fused   the PyhpeRepNeXtMixer custom layer in an ncnn net (BatchNorm folded into it);
//   raw     pyhpe_rt::mixer_forward on contiguous planes (no ncnn around it).
// Both nets are framed by a one-output Split before and after the subgraph, so that, as inside a
// whole model, the subgraph receives and hands on blobs in ncnn's packed layout: the fused layer
// pays the conversion to and from elempack 1 that it costs in a real model. "frame" is that
// frame alone (Input -> Split -> Split) and is included in both ncnn and fused.
// Weights are random (fixed seed); both nets' outputs are compared (max abs difference).
//
//   pyhpe-mixer-bench [--threads 1,2] [--rounds 40] [--sample-ms 2] [--json]
// The shapes are RepNeXt-M4's mixers at 224x224 input (pyhpe/bench/mixer.py M4_MIXERS).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "args.h"
#include "mixer_forward.h"
#include "mixer_layer.h"
#include "net.h"

using namespace pyhpe_tools;

static const char* kProg = "pyhpe-mixer-bench";

namespace {

struct Case {
  const char* name;
  int C, S;
  bool down;
};
const Case kCases[] = {
    {"stage0 block", 64, 56, false},  {"stage1 down", 64, 56, true},   {"stage1 block", 128, 28, false},
    {"stage2 down", 128, 28, true},   {"stage2 block", 256, 14, false}, {"stage3 down", 256, 14, true},
    {"stage3 block", 512, 7, false},
};
const float kEps = 1e-5f;

// Weights of one mixer: merged depthwise kernels and the BatchNorm that follows it.
struct Weights {
  std::vector<float> ws, bs, wm, bm, wl1, bl1, wl2, bl2;  // l* empty for the downsample mixer
  std::vector<float> slope, mean, var, bias;              // BatchNorm (Cout)
  std::vector<float> scale, shift;                        // the BatchNorm folded
};

Weights random_weights(const Case& cs, std::mt19937& rng) {
  std::normal_distribution<float> n(0.f, 0.1f);
  std::uniform_real_distribution<float> u(0.5f, 2.f), m(-0.5f, 0.5f);
  auto fill = [&](size_t count, auto& dist) {
    std::vector<float> v(count);
    for (auto& x : v) x = dist(rng);
    return v;
  };
  const int K = cs.down ? cs.C : cs.C / 4, Cout = cs.down ? 2 * cs.C : cs.C;
  Weights w;
  w.ws = fill(K * 9, n), w.bs = fill(K, n), w.wm = fill(K * 49, n), w.bm = fill(K, n);
  if (!cs.down) w.wl1 = fill(K * 11, n), w.bl1 = fill(K, n), w.wl2 = fill(K * 11, n), w.bl2 = fill(K, n);
  w.slope = fill(Cout, u), w.mean = fill(Cout, m), w.var = fill(Cout, u), w.bias = fill(Cout, m);
  for (int c = 0; c < Cout; ++c) {
    w.scale.push_back(w.slope[c] / sqrtf(w.var[c] + kEps));
    w.shift.push_back(w.bias[c] - w.mean[c] * w.scale[c]);
  }
  return w;
}

// An ncnn .bin in memory (4-byte words; ncnn may reference it, so it outlives the net).
struct Bin {
  std::vector<float> words;
  void raw(const std::vector<float>& v) { words.insert(words.end(), v.begin(), v.end()); }
  void tagged(const std::vector<float>& v) {  // ncnn's type-0 array: a zero tag = raw float32
    words.push_back(0.f);
    raw(v);
  }
};

std::string dw(const char* name, const char* in, const char* out, int ch, int kh, int kw, int stride) {
  std::ostringstream s;
  s << "ConvolutionDepthWise " << name << " 1 1 " << in << " " << out << " 0=" << ch << " 1=" << kw
    << " 11=" << kh << " 2=1 12=1 3=" << stride << " 13=" << stride << " 4=" << (kw - 1) / 2
    << " 14=" << (kh - 1) / 2 << " 5=1 6=" << ch * kh * kw << " 7=" << ch << "\n";
  return s.str();
}

std::string header(int layers, int blobs, const Case& cs) {
  std::ostringstream s;
  s << "7767517\n" << layers << " " << blobs << "\nInput in0 0 1 in0 0=" << cs.S << " 1=" << cs.S << " 2=" << cs.C << "\n";
  return s.str();
}

void plain_net(const Case& cs, const Weights& w, std::string& param, Bin& bin) {
  const int Cout = cs.down ? 2 * cs.C : cs.C, q = cs.C / 4;
  std::ostringstream s;
  if (!cs.down) {
    s << header(10, 13, cs) << "Split pro 1 1 in0 x\n"
      << "Slice sl 1 4 x t0 t1 t2 t3 -23300=4," << q << "," << q << "," << q << "," << q << " 1=0\n"
      << dw("d1", "t1", "a", q, 3, 3, 1) << dw("d2", "t2", "b", q, 7, 7, 1) << dw("d3", "t3", "c1", q, 1, 11, 1)
      << dw("d4", "c1", "c", q, 11, 1, 1) << "Concat cat 4 1 t0 a b c y 0=0\n";
    for (auto* v : {&w.ws, &w.wm, &w.wl1, &w.wl2}) {
      bin.tagged(*v);
      bin.raw(v == &w.ws ? w.bs : v == &w.wm ? w.bm : v == &w.wl1 ? w.bl1 : w.bl2);
    }
  } else {
    s << header(7, 8, cs) << "Split pro 1 2 in0 x1 x2\n" << dw("d1", "x1", "a", cs.C, 3, 3, 2)
      << dw("d2", "x2", "b", cs.C, 7, 7, 2) << "Concat cat 2 1 a b y 0=0\n";
    bin.tagged(w.ws), bin.raw(w.bs), bin.tagged(w.wm), bin.raw(w.bm);
  }
  s << "BatchNorm bn 1 1 y z 0=" << Cout << " 1=" << kEps << "\nSplit epi 1 1 z out0\n";
  bin.raw(w.slope), bin.raw(w.mean), bin.raw(w.var), bin.raw(w.bias);
  param = s.str();
}

void fused_net(const Case& cs, const Weights& w, std::string& param, Bin& bin) {
  std::ostringstream s;
  s << header(4, 4, cs) << "Split pro 1 1 in0 x\n"
    << pyhpe_rt::kMixerLayerType << " mixer 1 1 x z 0=" << (cs.down ? 1 : 0) << " 1=" << cs.C << " 10=1\n"
    << "Split epi 1 1 z out0\n";
  bin.raw(w.ws), bin.raw(w.bs), bin.raw(w.wm), bin.raw(w.bm);
  if (!cs.down) bin.raw(w.wl1), bin.raw(w.bl1), bin.raw(w.wl2), bin.raw(w.bl2);
  bin.raw(w.scale), bin.raw(w.shift);
  param = s.str();
}

void frame_net(const Case& cs, std::string& param) {
  param = header(3, 3, cs) + "Split pro 1 1 in0 x\nSplit epi 1 1 x out0\n";
}

struct LoadedNet {
  std::unique_ptr<ncnn::Net> net;
  Bin bin;
};

LoadedNet load(const std::string& param, Bin bin, int threads) {
  LoadedNet ln;
  ln.net.reset(new ncnn::Net);
  ln.bin = std::move(bin);
  ncnn::Option opt;
  opt.lightmode = true;
  opt.num_threads = threads;
  opt.use_vulkan_compute = false;
  opt.use_fp16_packed = opt.use_fp16_storage = opt.use_fp16_arithmetic = false;
  opt.use_bf16_storage = false;
  ln.net->opt = opt;
  pyhpe_rt::register_mixer_layer(*ln.net);
  if (ln.net->load_param_mem(param.c_str()) != 0) die(kProg, "ncnn rejected a generated .param:\n" + param, 1);
  if (ln.bin.words.empty()) ln.bin.words.push_back(0.f);
  ln.net->load_model(reinterpret_cast<const unsigned char*>(ln.bin.words.data()));
  return ln;
}

ncnn::Mat run(ncnn::Net& net, const ncnn::Mat& in) {
  ncnn::Extractor ex = net.create_extractor();
  ex.input("in0", in);
  ncnn::Mat out;
  if (ex.extract("out0", out) != 0) die(kProg, "ncnn extract failed", 1);
  return out;
}

float max_diff(const ncnn::Mat& a, const float* b, int C, int plane) {
  float d = 0;
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < plane; ++i) d = std::max(d, fabsf(a.channel(c)[i] - b[(size_t)c * plane + i]));
  return d;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Stat {
  double min, median;
};

Stat stat(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads = {1, 2};
  int rounds = 40;
  double sample_ms = 2.0;
  bool json = false;
  for (ArgParser a(kProg, argc, argv); a.next();) {
    if (a.is("--threads")) threads = a.int_list();
    else if (a.is("--rounds")) rounds = a.int_value();
    else if (a.is("--sample-ms")) sample_ms = a.float_value();
    else if (a.is("--json")) json = true;
    else if (a.help()) {
      printf("usage: pyhpe-mixer-bench [--threads 1,2] [--rounds N] [--sample-ms MS] [--json]\n");
      return 0;
    }
    else a.unknown();
  }
  if (rounds < 3 || sample_ms <= 0) die(kProg, "--rounds must be >= 3 and --sample-ms > 0");
  for (int t : threads)
    if (t < 1) die(kProg, "--threads must be >= 1");

  std::mt19937 rng(0);
  if (!json)
    printf("fused mixer isa: %s; cells: min (median) ms per call, %d interleaved rounds\n"
           "| mixer | C | size | threads | ncnn layers | fused layer | raw forward | frame | ncnn / fused | max |diff| |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n",
           pyhpe_rt::mixer_isa(), rounds);
  else
    printf("[");
  bool first = true;
  for (const Case& cs : kCases) {
    Weights w = random_weights(cs, rng);
    std::string p_plain, p_fused, p_frame;
    Bin b_plain, b_fused;
    plain_net(cs, w, p_plain, b_plain);
    fused_net(cs, w, p_fused, b_fused);
    frame_net(cs, p_frame);
    const int Cout = cs.down ? 2 * cs.C : cs.C, So = cs.down ? (cs.S - 1) / 2 + 1 : cs.S;
    ncnn::Mat in(cs.S, cs.S, cs.C);
    std::normal_distribution<float> n(0.f, 1.f);
    std::vector<float> x((size_t)cs.C * cs.S * cs.S), y((size_t)Cout * So * So);
    for (int c = 0; c < cs.C; ++c)
      for (int i = 0; i < cs.S * cs.S; ++i) in.channel(c)[i] = x[(size_t)c * cs.S * cs.S + i] = n(rng);
    pyhpe_rt::MixerArgs args;
    args.downsample = cs.down;
    args.s = {w.ws.data(), w.bs.data(), 3, 3};
    args.m = {w.wm.data(), w.bm.data(), 7, 7};
    if (!cs.down) args.l1 = {w.wl1.data(), w.bl1.data(), 1, 11}, args.l2 = {w.wl2.data(), w.bl2.data(), 11, 1};
    args.scale = w.scale.data();
    args.shift = w.shift.data();
    for (int t : threads) {
      LoadedNet plain = load(p_plain, b_plain, t), fused = load(p_fused, b_fused, t), frame = load(p_frame, Bin(), t);
      std::vector<std::function<void()>> fns = {
          [&] { run(*plain.net, in); }, [&] { run(*fused.net, in); },
          [&] { pyhpe_rt::mixer_forward(x.data(), args, cs.C, cs.S, cs.S, y.data(), t); },
          [&] { run(*frame.net, in); }};
      // correctness: both nets and the raw forward agree
      ncnn::Mat o_plain = run(*plain.net, in), o_fused = run(*fused.net, in);
      fns[2]();
      if (o_plain.c != Cout || o_plain.w != So || o_fused.c != Cout || o_fused.w != So)
        die(kProg, std::string(cs.name) + ": unexpected output shape", 1);
      std::vector<float> dense((size_t)Cout * So * So);
      for (int c = 0; c < Cout; ++c) memcpy(&dense[(size_t)c * So * So], o_plain.channel(c), sizeof(float) * So * So);
      const float diff = std::max(max_diff(o_fused, dense.data(), Cout, So * So), max_diff(o_fused, y.data(), Cout, So * So));
      // calls per sample so that one sample lasts about sample_ms
      std::vector<int> reps;
      for (auto& f : fns) {
        for (int k = 0; k < 3; ++k) f();
        double t0 = now_ms();
        f();
        double one = std::max(now_ms() - t0, 1e-3);
        reps.push_back(std::max(1, (int)(sample_ms / one)));
      }
      std::vector<std::vector<double>> samples(fns.size());
      for (int r = 0; r < rounds; ++r)
        for (size_t j = 0; j < fns.size(); ++j) {
          size_t v = (j + r) % fns.size();  // rotate the order every round
          double t0 = now_ms();
          for (int k = 0; k < reps[v]; ++k) fns[v]();
          samples[v].push_back((now_ms() - t0) / reps[v]);
        }
      Stat s[4];
      for (int v = 0; v < 4; ++v) s[v] = stat(samples[v]);
      if (json) {
        printf("%s{\"mixer\": \"%s\", \"channels\": %d, \"size\": %d, \"threads\": %d, \"isa\": \"%s\", "
               "\"ncnn_min_ms\": %.4f, \"ncnn_median_ms\": %.4f, \"fused_min_ms\": %.4f, \"fused_median_ms\": %.4f, "
               "\"raw_min_ms\": %.4f, \"raw_median_ms\": %.4f, \"frame_min_ms\": %.4f, \"frame_median_ms\": %.4f, "
               "\"max_abs_diff\": %.3g}",
               first ? "" : ",\n ", cs.name, cs.C, cs.S, t, pyhpe_rt::mixer_isa(), s[0].min, s[0].median, s[1].min,
               s[1].median, s[2].min, s[2].median, s[3].min, s[3].median, diff);
      } else {
        printf("| %s | %d | %d | %d | %.3f (%.3f) | %.3f (%.3f) | %.3f (%.3f) | %.3f (%.3f) | %.2fx | %.1e |\n", cs.name,
               cs.C, cs.S, t, s[0].min, s[0].median, s[1].min, s[1].median, s[2].min, s[2].median, s[3].min,
               s[3].median, s[0].min / s[1].min, diff);
      }
      fflush(stdout);
      first = false;
    }
  }
  if (json) printf("]\n");
  return 0;
}
