// In-process fuzz harness of the runtime's model loading (docs/fuzzing.md).
//
//   pyhpe-model-fuzz [--cases N] [--seed S] [--first I] [--emit DIR | --no-check] [--as-is] [--verbose] STEM...
//
// Each STEM names an exported model: STEM.param, STEM.bin and the sidecar STEM.json (e.g.
// m4.ncnn, m4.fused.ncnn). Case i (i = first .. first + N - 1) draws from a generator seeded with
// (seed, i) alone, so any case can be rerun by itself (--first i --cases 1 --verbose): it picks a
// model (i modulo the count), mutates its .param text, .bin bytes or sidecar in memory
// (truncation, bit flips, byte insert/delete, huge/negative integers, wrong layer/blob counts,
// rewired blobs, wrong custom-layer parameters or weights, garbage tokens, swapped layer types,
// deleted/duplicated lines, ... and combinations), then loads the result through the C API
// (pyhpe_model_load_memory; every 16th case writes the files to /dev/shm and uses
// pyhpe_model_load) and, when it loads, runs one inference on a fixed input. Every case must end
// in PYHPE_OK or in an error status with a message; the build is ASan/UBSan-instrumented (ncnn
// too: tools/build_ncnn.sh host-asan), so a bad read aborts the run.
//
// --emit DIR writes each case's files to DIR/<i>.param, DIR/<i>.bin and the check's verdict to
// DIR/verdicts.tsv ("i<TAB>ok|rejected<TAB>message"), without loading: the Python validator
// (pyhpe/runtime/ncnn_check.py), the ncnn Python backend and the JNI bridge replay them.
//
// --as-is skips the mutations (each case is a model as given: replaying a saved input).
// --no-check switches the runtime's model check off and runs each case in a forked child: what
// ncnn alone does with the inputs (a child killed by a signal or a sanitizer report counts as a
// crash; its case is printed). For the record of what the check prevents, not for CI.
//
// Last line: "fuzz: cases=N loaded=L inferred=I rejected=R infer_errors=E seconds=T
// distinct_messages=D distinct_kinds=K" (a kind is a message with its numbers and quoted names
// blanked). Exit status 0, or 1 when a case broke the contract.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "model_check.h"
#include "options.h"
#include "pyhpe_runtime.h"

// The sanitizers' hook (weak: the coverage build has no sanitizer runtime).
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

// The case being run, for the sanitizer's death callback: which input broke the runtime.
char g_current[512];

void report_current() { fprintf(stderr, "pyhpe-model-fuzz: the failing case: %s\n", g_current); }

struct Model {
  std::string stem, param, bin, sidecar;
  std::vector<std::string> lines;  // the .param's lines
  pyhpe_options options;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    fprintf(stderr, "pyhpe-model-fuzz: cannot read %s\n", path.c_str());
    exit(2);
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_all(const std::string& path, const std::string& data) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f || fwrite(data.data(), 1, data.size(), f) != data.size()) {
    fprintf(stderr, "pyhpe-model-fuzz: cannot write %s\n", path.c_str());
    exit(2);
  }
  fclose(f);
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(s);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

std::vector<std::string> tokens(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

std::string join_tokens(const std::vector<std::string>& t) {
  std::string s;
  for (size_t i = 0; i < t.size(); ++i) s += (i ? " " : "") + t[i];
  return s;
}

using Rng = std::mt19937_64;

size_t pick(Rng& r, size_t n) { return n ? (size_t)(r() % n) : 0; }

const char* const kHugeInts[] = {"2147483647", "-2147483648", "2147483648", "-1", "0", "1", "2", "3", "65536",
                                 "-233", "-234", "99999999999", "4096", "1073741824", "-23300", "31", "32", "7",
                                 "1e30", "nan", "-0", "+5", "0x10", "12345678"};
const char* const kGarbage[] = {"=", "==", "-23300=", "-23300=5,1", "5=", "=5", "a=b", "\x01", "7767517", "1=1,2,3",
                                "-23310=3,1,2", "99=1", "-1=1", "Convolution", "\"x\"", "0=1.5e", "1 1", "in0",
                                "0=-", "-23300=-1", "-23300=1000000,1", "#"};
const char* const kTypes[] = {"Input", "Convolution", "ConvolutionDepthWise", "Split", "Slice", "Concat",
                              "BinaryOp", "Pooling", "InnerProduct", "BatchNorm", "GELU", "PyhpeRepNeXtMixer",
                              "PyhpeRepNeXtFFN", "PyhpeSplit", "PyhpeWiden", "PyhpeRepNeXtStem", "Reshape", "Flatten", "Noop", "MemoryData",
                              "Crop", "Interp", "Gemm", "Eltwise", "Deconvolution", "Softmax", "Padding",
                              "NoSuchLayer"};

// A layer line's index in [2, n): the mutations below edit layer lines, not the header.
size_t layer_line(Rng& r, const std::vector<std::string>& lines) { return 2 + pick(r, lines.size() - 2); }

// Replaces one whitespace token of a random layer line (token index chosen by `which`).
void mutate_token(Rng& r, std::vector<std::string>& lines, const std::string& value, int which = -1) {
  const size_t li = layer_line(r, lines);
  std::vector<std::string> t = tokens(lines[li]);
  if (t.empty()) return;
  const size_t ti = which >= 0 ? std::min((size_t)which, t.size() - 1) : pick(r, t.size());
  t[ti] = value;
  lines[li] = join_tokens(t);
}

std::string random_int(Rng& r) {
  switch (pick(r, 3)) {
    case 0: return kHugeInts[pick(r, sizeof kHugeInts / sizeof *kHugeInts)];
    case 1: return std::to_string((long long)(r() % 200) - 100);
    default: return std::to_string((long long)(int32_t)r());
  }
}

// Mutates a parameter value (k=v) of a random layer: a number, an array length, an array value.
void mutate_param(Rng& r, std::vector<std::string>& lines, bool custom_only) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const size_t li = layer_line(r, lines);
    std::vector<std::string> t = tokens(lines[li]);
    if (t.size() < 5 || (custom_only && t[0].compare(0, 5, "Pyhpe") != 0)) continue;
    std::vector<size_t> kv;
    for (size_t k = 4; k < t.size(); ++k)
      if (t[k].find('=') != std::string::npos) kv.push_back(k);
    if (kv.empty()) {  // add one
      t.push_back(std::to_string(pick(r, 12)) + "=" + random_int(r));
      lines[li] = join_tokens(t);
      return;
    }
    const size_t at = kv[pick(r, kv.size())];
    const std::string tok = t[at];
    const size_t eq = tok.find('=');
    std::string key = tok.substr(0, eq), value = tok.substr(eq + 1);
    switch (pick(r, 6)) {
      case 0: value = random_int(r); break;
      case 1: {  // an array's length or one element
        std::vector<std::string> parts;
        std::string part;
        std::istringstream in(value);
        while (std::getline(in, part, ',')) parts.push_back(part);
        if (parts.empty()) parts.push_back("0");
        parts[pick(r, parts.size())] = random_int(r);
        value.clear();
        for (size_t k = 0; k < parts.size(); ++k) value += (k ? "," : "") + parts[k];
        break;
      }
      case 2: value += "," + random_int(r); break;
      case 3: key = std::to_string((long long)pick(r, 40) - 4); break;
      case 4: t.push_back(tok); break;  // the key twice
      default: value = std::to_string((double)(r() % 1000) / 7.0); break;
    }
    t[at] = key + "=" + value;
    lines[li] = join_tokens(t);
    return;
  }
}

// One blob reference of a random layer renamed: to an unknown name, or to another existing blob
// (rewiring: wrong shapes, cycles, double consumption).
void mutate_blob(Rng& r, std::vector<std::string>& lines) {
  const size_t li = layer_line(r, lines);
  std::vector<std::string> t = tokens(lines[li]);
  if (t.size() < 5) return;
  const int nb = atoi(t[2].c_str()), nt = atoi(t[3].c_str());
  if (nb + nt <= 0 || (size_t)(4 + nb + nt) > t.size()) return;
  const size_t ti = 4 + pick(r, nb + nt);
  if (pick(r, 3) == 0) {
    t[ti] = "nosuchblob";
  } else {
    std::vector<std::string> other = tokens(lines[layer_line(r, lines)]);
    if (other.size() > 4) {
      const int onb = atoi(other[2].c_str()), ont = atoi(other[3].c_str());
      if (onb + ont > 0 && (size_t)(4 + onb + ont) <= other.size()) t[ti] = other[4 + pick(r, onb + ont)];
    }
  }
  lines[li] = join_tokens(t);
}

void flip_bits(Rng& r, std::string& s, int n) {
  if (s.empty()) return;
  for (int k = 0; k < n; ++k) s[pick(r, s.size())] ^= (char)(1u << pick(r, 8));
}

void insert_delete(Rng& r, std::string& s) {
  const size_t at = pick(r, s.size() + 1), n = 1 + pick(r, pick(r, 2) ? 4 : 64);
  if (pick(r, 2) && at < s.size()) {
    s.erase(at, n);
  } else {
    std::string ins;
    for (size_t k = 0; k < n; ++k) ins += (char)(pick(r, 2) ? r() : " =,-0123456789\n"[pick(r, 15)]);
    s.insert(at, ins);
  }
}

struct Case {
  std::string param, bin, sidecar, what;
  bool sidecar_changed = false;
};

// One mutation of `c` (kind chosen at random); `what` names it.
void mutate(Rng& r, Case& c, const Model& m) {
  std::vector<std::string> lines = split_lines(c.param);
  if (lines.size() < 3) lines = m.lines;
  bool text = true;
  const size_t kind = pick(r, 22);
  switch (kind) {
    case 0: c.what += "+truncate-param"; text = false; c.param.resize(pick(r, c.param.size())); break;
    case 1: c.what += "+truncate-bin"; c.bin.resize(pick(r, c.bin.size())); break;
    case 2: c.what += "+flip-param"; text = false; flip_bits(r, c.param, 1 + (int)pick(r, 4)); break;
    case 3: {  // flips where ncnn reads tags and the first values of arrays: the bin's first bytes
      c.what += "+flip-bin";
      const size_t n = std::min<size_t>(c.bin.size(), pick(r, 2) ? 4096 : c.bin.size());
      std::string head = c.bin.substr(0, n);
      flip_bits(r, head, 1 + (int)pick(r, 8));
      c.bin.replace(0, n, head);
      break;
    }
    case 4: c.what += "+insdel-param"; text = false; insert_delete(r, c.param); break;
    case 5: c.what += "+insdel-bin"; insert_delete(r, c.bin); break;
    case 6: c.what += "+int-token"; mutate_token(r, lines, random_int(r)); break;
    case 7: {  // the header counts
      c.what += "+counts";
      std::vector<std::string> t = tokens(lines[1]);
      if (t.size() == 2) t[pick(r, 2)] = pick(r, 2) ? random_int(r) : std::to_string(atoi(t[0].c_str()) + (int)pick(r, 5) - 2);
      lines[1] = join_tokens(t);
      break;
    }
    case 8: c.what += "+blob-count"; mutate_token(r, lines, std::to_string((long long)pick(r, 6) - 1), 2 + (int)pick(r, 2)); break;
    case 9: c.what += "+blob-name"; mutate_blob(r, lines); break;
    case 10: c.what += "+param"; mutate_param(r, lines, false); break;
    case 11: {
      c.what += "+garbage";
      const size_t li = layer_line(r, lines);
      std::vector<std::string> t = tokens(lines[li]);
      t.insert(t.begin() + pick(r, t.size() + 1), kGarbage[pick(r, sizeof kGarbage / sizeof *kGarbage)]);
      lines[li] = join_tokens(t);
      break;
    }
    case 12: {  // swap two layers' types, or set one
      c.what += "+layer-type";
      const size_t a = layer_line(r, lines), b = layer_line(r, lines);
      std::vector<std::string> ta = tokens(lines[a]), tb = tokens(lines[b]);
      if (ta.empty() || tb.empty()) break;
      if (pick(r, 2)) std::swap(ta[0], tb[0]);
      else ta[0] = kTypes[pick(r, sizeof kTypes / sizeof *kTypes)];
      lines[a] = join_tokens(ta);
      if (a != b) lines[b] = join_tokens(tb);
      break;
    }
    case 13: {
      const size_t a = layer_line(r, lines), b = layer_line(r, lines);
      switch (pick(r, 3)) {
        case 0: c.what += "+delete-line"; lines.erase(lines.begin() + a); break;
        case 1: c.what += "+duplicate-line"; lines.insert(lines.begin() + b, lines[a]); break;
        default: c.what += "+swap-lines"; std::swap(lines[a], lines[b]); break;
      }
      break;
    }
    case 14: c.what += "+custom-param"; mutate_param(r, lines, true); break;
    case 15: {  // wrong or missing custom-layer weights: bytes cut or added in the middle of the .bin
      c.what += "+bin-span";
      const size_t at = pick(r, c.bin.size() + 1);
      const size_t n = 4 * (1 + pick(r, 64));
      if (pick(r, 2)) c.bin.erase(at, n);
      else c.bin.insert(at, std::string(n, (char)pick(r, 256)));
      break;
    }
    case 16: {  // a Convolution / mixer / FFN / BatchNorm size parameter changed consistently-looking
      c.what += "+shape";
      for (int attempt = 0; attempt < 20; ++attempt) {
        const size_t li = layer_line(r, lines);
        std::vector<std::string> t = tokens(lines[li]);
        bool done = false;
        for (std::string& tok : t)
          if ((tok.compare(0, 2, "0=") == 0 || tok.compare(0, 2, "1=") == 0 || tok.compare(0, 2, "2=") == 0 ||
               tok.compare(0, 2, "6=") == 0) && pick(r, 2)) {
            const long long v = atoll(tok.c_str() + 2);
            const long long nv = pick(r, 2) ? v * 2 : pick(r, 2) ? v / 2 : v + (long long)pick(r, 9) - 4;
            tok = tok.substr(0, 2) + std::to_string(nv);
            done = true;
            break;
          }
        if (done) {
          lines[li] = join_tokens(t);
          break;
        }
      }
      break;
    }
    case 17: {  // the Input's shape declared
      c.what += "+input-shape";
      std::vector<std::string> t = tokens(lines[2]);
      t.push_back(std::to_string(pick(r, 3)) + "=" + (pick(r, 2) ? random_int(r) : std::to_string(1 + pick(r, 64))));
      lines[2] = join_tokens(t);
      break;
    }
    case 18: {  // the sidecar
      c.what += "+sidecar";
      c.sidecar_changed = true;
      if (pick(r, 2)) flip_bits(r, c.sidecar, 1 + (int)pick(r, 3));
      else insert_delete(r, c.sidecar);
      break;
    }
    case 19: {  // a line cut short
      c.what += "+cut-line";
      const size_t li = layer_line(r, lines);
      lines[li].resize(pick(r, lines[li].size()));
      break;
    }
    case 20: {  // fp16 storage tag on a tagged array (valid tag, wrong size) or a bogus tag
      c.what += "+bin-tag";
      if (c.bin.size() >= 4) {
        const uint32_t tags[] = {0x01306B47u, 0x000D4B38u, 0x0002C056u, 0x01348B83u, 1u, 0xffffffffu};
        const uint32_t tag = tags[pick(r, 6)];
        memcpy(&c.bin[pick(r, c.bin.size() / 4) * 4], &tag, 4);
      }
      break;
    }
    default: {  // blank or extra lines
      c.what += "+lines";
      if (pick(r, 2)) lines.insert(lines.begin() + layer_line(r, lines), pick(r, 2) ? "" : "   \t");
      else lines.push_back(kGarbage[pick(r, sizeof kGarbage / sizeof *kGarbage)]);
      break;
    }
  }
  if (text) c.param = join_lines(lines);
}

// A message with its numbers and quoted names blanked: how the distinct kinds are counted.
std::string kind_of(const std::string& msg) {
  std::string out;
  bool quoted = false;
  for (size_t i = 0; i < msg.size(); ++i) {
    const char ch = msg[i];
    if (ch == '\'') {
      quoted = !quoted;
      out += ch;
      continue;
    }
    if (quoted) continue;
    if (ch >= '0' && ch <= '9') {
      if (out.empty() || out.back() != '#') out += '#';
      continue;
    }
    out += ch;
  }
  const size_t colon = out.find(": ");  // the file name
  return colon == std::string::npos ? out : out.substr(colon);
}

}  // namespace

int main(int argc, char** argv) {
  long long cases = 1000, seed = 1, first = 0;
  std::string emit;
  bool verbose = false, no_check = false, as_is = false;
  long long crashes = 0;
  std::vector<std::string> stems;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cases" && i + 1 < argc) cases = atoll(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = atoll(argv[++i]);
    else if (a == "--first" && i + 1 < argc) first = atoll(argv[++i]);
    else if (a == "--emit" && i + 1 < argc) emit = argv[++i];
    else if (a == "--verbose") verbose = true;
    else if (a == "--no-check") no_check = true;
    else if (a == "--as-is") as_is = true;
    else if (a.compare(0, 2, "--") == 0) {
      fprintf(stderr, "usage: pyhpe-model-fuzz [--cases N] [--seed S] [--first I] [--emit DIR | --no-check] [--as-is] "
                      "[--verbose] STEM...\n");
      return 2;
    } else stems.push_back(a);
  }
  if (stems.empty()) {
    fprintf(stderr, "pyhpe-model-fuzz: give at least one model STEM (STEM.param, STEM.bin, STEM.json)\n");
    return 2;
  }
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(report_current);
  std::vector<Model> models;
  for (const std::string& s : stems) {
    Model m;
    m.stem = s;
    m.param = read_all(s + ".param");
    m.bin = read_all(s + ".bin");
    m.sidecar = read_all(s + ".json");
    m.lines = split_lines(m.param);
    if (pyhpe_options_from_sidecar((s + ".json").c_str(), &m.options) != PYHPE_OK) {
      fprintf(stderr, "pyhpe-model-fuzz: %s\n", pyhpe_last_error());
      return 2;
    }
    m.options.num_threads = 1;
    // the unmutated model must load and run (unless the inputs are replayed as they are)
    pyhpe_model* pm = nullptr;
    if (!as_is && pyhpe_model_load_memory(m.param.data(), m.param.size(), m.bin.data(), m.bin.size(), "base", &m.options, &pm) != PYHPE_OK) {
      fprintf(stderr, "pyhpe-model-fuzz: %s does not load: %s\n", s.c_str(), pyhpe_last_error());
      return 2;
    }
    pyhpe_model_free(pm);
    models.push_back(m);
  }
  FILE* verdicts = nullptr;
  if (!emit.empty()) {
    verdicts = fopen((emit + "/verdicts.tsv").c_str(), "w");
    if (!verdicts) {
      fprintf(stderr, "pyhpe-model-fuzz: cannot write %s/verdicts.tsv\n", emit.c_str());
      return 2;
    }
  }

  std::vector<float> input;
  long long loaded = 0, inferred = 0, rejected = 0, infer_errors = 0, broken = 0;
  std::map<std::string, long long> messages, kinds;
  const std::string shm = "/dev/shm/pyhpe-model-fuzz-" + std::to_string(getpid());
  const auto t0 = std::chrono::steady_clock::now();
  for (long long i = first; i < first + cases; ++i) {
    std::seed_seq sq{(uint64_t)seed, (uint64_t)i};
    Rng r(sq);
    const Model& m = models[(size_t)(i % (long long)models.size())];
    snprintf(g_current, sizeof g_current, "seed %lld case %lld (while mutating)", seed, i);
    Case c{m.param, m.bin, m.sidecar, "", false};
    size_t n_mut = pick(r, 8) == 0 ? 0 : 1 + (pick(r, 4) == 0 ? pick(r, 3) : 0);
    if (as_is) n_mut = 0;
    for (size_t k = 0; k < n_mut; ++k) mutate(r, c, m);
    if (n_mut == 0) c.what = "+none";
    snprintf(g_current, sizeof g_current, "seed %lld case %lld model %s mutations %s (rerun: --seed %lld --first %lld --cases 1 --verbose)",
             seed, i, m.stem.c_str(), c.what.c_str() + 1, seed, i);

    if (verdicts) {
      const std::string name = emit + "/" + std::to_string(i);
      write_all(name + ".param", c.param);
      write_all(name + ".bin", c.bin);
      const pyhpe_status st = pyhpe_rt::check_ncnn_model(c.param, std::to_string(i) + ".param",
                                                         reinterpret_cast<const unsigned char*>(c.bin.data()),
                                                         c.bin.size(), std::to_string(i) + ".bin",
                                                         m.options.input_blob, m.options.input_size);
      std::string msg = st == PYHPE_OK ? "" : pyhpe_last_error();
      std::replace(msg.begin(), msg.end(), '\t', ' ');
      std::replace(msg.begin(), msg.end(), '\n', ' ');
      fprintf(verdicts, "%lld\t%s\t%s\t%s\t%s\n", i, st == PYHPE_OK ? "ok" : "rejected", m.stem.c_str(),
              c.what.c_str() + 1, msg.c_str());
      continue;
    }

    if (no_check) {  // the case in a child, ncnn without the check
      fflush(stdout);
      fflush(stderr);
      const pid_t pid = fork();
      if (pid == 0) {
        pyhpe_rt::set_model_check_enabled(false);
        pyhpe_options o = m.options;
        pyhpe_model* pm = nullptr;
        pyhpe_status st = pyhpe_model_load_memory(c.param.data(), c.param.size(), c.bin.data(), c.bin.size(), "fuzz", &o, &pm);
        if (st == PYHPE_OK) {
          std::vector<float> x((size_t)3 * o.input_size * o.input_size, 0.5f);
          pyhpe_pose pose;
          st = pyhpe_infer_tensor(pm, x.data(), &pose);
          pyhpe_model_free(pm);
        }
        if (verbose) printf("case %lld (no check): status %d %s\n", i, (int)st, st == PYHPE_OK ? "" : pyhpe_last_error());
        fflush(stdout);
        _exit(0);
      }
      int status = 0;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ++crashes;
        printf("crash: case %lld %s (%s)\n", i, c.what.c_str() + 1,
               WIFSIGNALED(status) ? ("signal " + std::to_string(WTERMSIG(status))).c_str() : "sanitizer report");
      }
      continue;
    }
    pyhpe_options o = m.options;
    if (c.sidecar_changed &&
        pyhpe_rt::options_from_sidecar_text(c.sidecar, "fuzz.json", &o) != PYHPE_OK) {
      ++rejected;
      const std::string msg = pyhpe_last_error();
      if (msg.empty()) {
        fprintf(stderr, "case %lld (%s): sidecar rejected without a message\n", i, c.what.c_str() + 1);
        ++broken;
      }
      ++messages[msg];
      ++kinds[kind_of(msg)];
      continue;
    }
    o.num_threads = 1;
    pyhpe_model* pm = nullptr;
    pyhpe_status st;
    if (i % 16 == 15) {  // through the files, as pyhpe-infer and the JNI bridge load
      write_all(shm + ".param", c.param);
      write_all(shm + ".bin", c.bin);
      st = pyhpe_model_load((shm + ".param").c_str(), (shm + ".bin").c_str(), &o, &pm);
    } else {
      st = pyhpe_model_load_memory(c.param.data(), c.param.size(), c.bin.data(), c.bin.size(), "fuzz", &o, &pm);
    }
    std::string msg;
    if (st != PYHPE_OK) {
      ++rejected;
      msg = pyhpe_last_error();
      if (pm || msg.empty() || st < PYHPE_ERR_ARGUMENT || st > PYHPE_ERR_MEMORY) {
        fprintf(stderr, "case %lld (%s): status %d, model %p, message '%s'\n", i, c.what.c_str() + 1, (int)st,
                (void*)pm, msg.c_str());
        ++broken;
      }
    } else {
      ++loaded;
      const int s = o.input_size;
      input.assign((size_t)3 * s * s, 0.f);
      for (size_t k = 0; k < input.size(); ++k) input[k] = (float)((k * 2654435761u) % 1000) / 500.f - 1.f;
      pyhpe_pose pose;
      const pyhpe_status is = o.model_kind == PYHPE_MODEL_6DOF ? PYHPE_ERR_ARGUMENT : pyhpe_infer_tensor(pm, input.data(), &pose);
      if (is == PYHPE_OK) {
        ++inferred;
      } else {
        ++infer_errors;
        msg = pyhpe_last_error();
        if (msg.empty()) {
          fprintf(stderr, "case %lld (%s): inference status %d without a message\n", i, c.what.c_str() + 1, (int)is);
          ++broken;
        }
      }
      pyhpe_model_free(pm);
    }
    if (!msg.empty()) {
      ++messages[msg];
      ++kinds[kind_of(msg)];
    }
    if (verbose) printf("case %lld %s: %s %s\n", i, c.what.c_str() + 1, st == PYHPE_OK ? "loaded" : "rejected", msg.c_str());
  }
  if (verdicts) {
    fclose(verdicts);
    printf("fuzz: emitted %lld cases to %s\n", cases, emit.c_str());
    return 0;
  }
  if (no_check) {
    printf("fuzz --no-check: cases=%lld crashes=%lld\n", cases, crashes);
    return 0;
  }
  unlink((shm + ".param").c_str());
  unlink((shm + ".bin").c_str());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (verbose) {
    std::vector<std::pair<long long, std::string>> top;
    for (const auto& k : kinds) top.push_back({k.second, k.first});
    std::sort(top.rbegin(), top.rend());
    for (const auto& k : top) printf("%8lld %s\n", k.first, k.second.c_str());
  }
  printf("fuzz: cases=%lld loaded=%lld inferred=%lld rejected=%lld infer_errors=%lld seconds=%.1f "
         "distinct_messages=%zu distinct_kinds=%zu broken=%lld\n",
         cases, loaded, inferred, rejected, infer_errors, secs, messages.size(), kinds.size(), broken);
  return broken ? 1 : 0;
}
