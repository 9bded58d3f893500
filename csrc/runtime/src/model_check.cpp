// The strict ncnn model check (model_check.h). One pass over the .param lines (structure, names,
// parameters, shapes), then one walk over the .bin (the arrays each layer reads, in ncnn's order).
#include "model_check.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "status.h"

namespace pyhpe_rt {

namespace {

constexpr int kMany = 1 << 30;
constexpr int kMaxSide = 1 << 16;     // a kernel side, stride, dilation, padding, channel count, ...
constexpr uint32_t kTagFp32 = 0, kTagFp16 = 0x01306B47;

// The layer types pyhpe's exports use (pnnx output of every exportable model, pyhpe's custom
// layers; pyhpe/export/ncnn_graph.py knows the same set), with their bottom / top counts.
struct KnownLayer {
  const char* type;
  int min_bottoms, max_bottoms, min_tops, max_tops;
};

const KnownLayer kLayers[] = {
    {"Input", 0, 0, 1, 1},
    {"Split", 1, 1, 1, kMany},
    {"PyhpeSplit", 1, 1, 1, kMany},
    {"Slice", 1, 1, 1, kMany},
    {"Concat", 1, kMany, 1, 1},
    {"BinaryOp", 1, 2, 1, 1},
    {"Eltwise", 2, kMany, 1, 1},
    {"MatMul", 2, 2, 1, 1},
    {"Gemm", 1, 3, 1, 1},
    {"GridSample", 2, 2, 1, 1},
    {"MemoryData", 0, 0, 1, 1},
    {"Noop", 0, kMany, 0, kMany},
    {"PyhpeRepNeXtFFN", 1, 2, 1, 1},
    // one input, one output
    {"Convolution", 1, 1, 1, 1}, {"ConvolutionDepthWise", 1, 1, 1, 1}, {"Convolution1D", 1, 1, 1, 1},
    {"Deconvolution", 1, 1, 1, 1}, {"InnerProduct", 1, 1, 1, 1}, {"BatchNorm", 1, 1, 1, 1},
    {"Pooling", 1, 1, 1, 1}, {"PyhpeRepNeXtMixer", 1, 1, 1, 1}, {"PyhpeWiden", 1, 1, 1, 1}, {"PyhpeRepNeXtStem", 1, 1, 1, 1},
    {"GELU", 1, 1, 1, 1}, {"UnaryOp", 1, 1, 1, 1},
    {"Reshape", 1, 1, 1, 1}, {"Permute", 1, 1, 1, 1}, {"Softmax", 1, 1, 1, 1}, {"Flatten", 1, 1, 1, 1},
    {"ReLU", 1, 1, 1, 1}, {"Sigmoid", 1, 1, 1, 1}, {"HardSigmoid", 1, 1, 1, 1}, {"HardSwish", 1, 1, 1, 1},
    {"Swish", 1, 1, 1, 1}, {"Mish", 1, 1, 1, 1}, {"Clip", 1, 1, 1, 1}, {"Interp", 1, 1, 1, 1},
    {"Reduction", 1, 1, 1, 1}, {"Crop", 1, 1, 1, 1}, {"Padding", 1, 1, 1, 1}, {"Dropout", 1, 1, 1, 1},
    {"Packing", 1, 1, 1, 1}, {"Cast", 1, 1, 1, 1}, {"Squeeze", 1, 1, 1, 1}, {"ExpandDims", 1, 1, 1, 1},
    {"TanH", 1, 1, 1, 1}, {"ELU", 1, 1, 1, 1}, {"Exp", 1, 1, 1, 1}, {"Log", 1, 1, 1, 1}, {"Power", 1, 1, 1, 1},
    {"Tile", 1, 1, 1, 1}, {"Erf", 1, 1, 1, 1}, {"AbsVal", 1, 1, 1, 1},
};

// Layers whose output has the input's shape.
const char* const kSameShape[] = {"GELU", "UnaryOp", "ReLU", "Sigmoid", "HardSigmoid", "HardSwish", "Swish",
                                  "Mish", "Clip", "Dropout", "TanH", "ELU", "Exp", "Log", "Power", "Erf",
                                  "AbsVal", "Softmax", "Split", "PyhpeSplit", "PyhpeWiden"};

const KnownLayer* known_layer(const std::string& type) {
  for (const KnownLayer& k : kLayers)
    if (type == k.type) return &k;
  return nullptr;
}

bool same_shape_layer(const std::string& type) {
  for (const char* t : kSameShape)
    if (type == t) return true;
  return false;
}

// A blob's shape as far as it is known: dims 0 = unknown.
struct Shape {
  int dims = 0, w = 0, h = 0, c = 0;
};

bool operator==(const Shape& a, const Shape& b) { return a.dims == b.dims && a.w == b.w && a.h == b.h && a.c == b.c; }

// A 3-D shape's extent along ncnn's axis a (0 c, 1 h, 2 w), and the word for it in messages.
int extent(const Shape& s, int a) { return a == 0 ? s.c : a == 1 ? s.h : s.w; }
Shape with_extent(Shape s, int a, int n) {
  (a == 0 ? s.c : a == 1 ? s.h : s.w) = n;
  return s;
}
const char* axis_word(int a) { return a == 0 ? "channels" : a == 1 ? "rows" : "columns"; }

std::string describe(const Shape& s) {
  if (s.dims == 1) return "(" + std::to_string(s.w) + ")";
  if (s.dims == 2) return "(" + std::to_string(s.w) + " x " + std::to_string(s.h) + ")";
  return "(c " + std::to_string(s.c) + ", h " + std::to_string(s.h) + ", w " + std::to_string(s.w) + ")";
}

struct Param {
  bool is_array = false, is_float = false;
  std::vector<double> values;  // ints are exact in a double
};

struct Layer {
  int line = 0;
  std::string type, name;
  std::vector<std::string> bottoms, tops;
  std::map<int, Param> params;

  bool has(int key) const { return params.count(key) != 0; }
  // An integer scalar parameter (the default when absent); *ok false when it is a float or an array.
  long long geti(int key, long long def, bool* ok) const {
    auto it = params.find(key);
    if (it == params.end()) return def;
    if (it->second.is_array || it->second.is_float) {
      *ok = false;
      return def;
    }
    return (long long)it->second.values[0];
  }
  // A scalar number parameter, int or float (the default when absent); *ok false for an array.
  double getf(int key, double def, bool* ok) const {
    auto it = params.find(key);
    if (it == params.end()) return def;
    if (it->second.is_array) {
      *ok = false;
      return def;
    }
    return it->second.values[0];
  }
};

class Checker {
 public:
  Checker(const std::string& param_name, const std::string& bin_name, const std::string& image_blob, int image_size)
      : pname_(param_name), bname_(bin_name), image_blob_(image_blob), image_size_(image_size) {}

  pyhpe_status run(const std::string& text, const unsigned char* bin, size_t bin_size) {
    if (!check_bytes(text) || !parse(text)) return PYHPE_ERR_MODEL;
    for (Layer& l : layers_)
      if (!check_layer(l)) return PYHPE_ERR_MODEL;
    if ((int)blob_shape_.size() != blob_count_)
      return bad_file("line 2 declares " + std::to_string(blob_count_) + " blobs, the layers name " +
                      std::to_string(blob_shape_.size()));
    if (!walk_bin(bin, bin_size)) return PYHPE_ERR_MODEL;
    return PYHPE_OK;
  }

 private:
  pyhpe_status bad_file(const std::string& msg) const { return fail(PYHPE_ERR_MODEL, pname_ + ": " + msg); }
  bool bad_line(int line, const std::string& msg) const {
    fail(PYHPE_ERR_MODEL, pname_ + " line " + std::to_string(line) + ": " + msg);
    return false;
  }
  bool bad(const Layer& l, const std::string& msg) const {
    return bad_line(l.line, l.type + " '" + l.name + "': " + msg);
  }

  bool check_bytes(const std::string& text) {
    if (text.size() > kMaxParamBytes) {
      bad_file("larger than " + std::to_string(kMaxParamBytes >> 20) + " MiB: not a pyhpe model's .param");
      return false;
    }
    int line = 1;
    for (unsigned char ch : text) {
      if (ch == '\n') ++line;
      if (!(ch == '\n' || ch == '\r' || ch == '\t' || (ch >= 0x20 && ch < 0x7f)))
        return bad_line(line, "byte " + std::to_string(ch) + " is not printable ASCII (not an ncnn .param text)");
    }
    return true;
  }

  static std::vector<std::string> split_tokens(const std::string& s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
      size_t j = i;
      while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') ++j;
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }

  // A decimal int32 ("[+-]digits").
  static bool parse_int(const std::string& s, long long* out) {
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i == s.size() || s.size() > 12) return false;
    for (size_t k = i; k < s.size(); ++k)
      if (s[k] < '0' || s[k] > '9') return false;
    const long long v = strtoll(s.c_str(), nullptr, 10);
    if (v < INT32_MIN || v > INT32_MAX) return false;
    *out = v;
    return true;
  }

  // An int32, or a finite float32 written with digits, '.', 'e' (what ncnn reads as a float).
  static bool parse_number(const std::string& s, Param* p) {
    if (s.empty()) return false;
    long long iv;
    if (parse_int(s, &iv)) {
      p->values.push_back((double)iv);
      return true;
    }
    bool digit = false;
    for (char ch : s) {
      if (ch >= '0' && ch <= '9') digit = true;
      else if (!(ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-')) return false;
    }
    if (!digit || s.size() > 64) return false;
    errno = 0;
    char* end = nullptr;
    const float f = strtof(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !isfinite(f)) return false;
    p->is_float = true;
    p->values.push_back(f);
    return true;
  }

  bool parse_param(Layer& l, const std::string& tok) {
    const size_t eq = tok.find('=');
    if (eq == std::string::npos || eq == 0)
      return bad(l, "parameter '" + tok + "' is not key=value");
    long long key;
    if (!parse_int(tok.substr(0, eq), &key))
      return bad(l, "parameter key '" + tok.substr(0, eq) + "' is not an integer");
    const std::string value = tok.substr(eq + 1);
    Param p;
    if (key <= -23300) {
      key = -(key + 23300);
      if (key > 31) return bad(l, "array parameter key " + tok.substr(0, eq) + " is out of range");
      p.is_array = true;
      std::vector<std::string> parts;
      size_t start = 0;
      while (true) {
        const size_t comma = value.find(',', start);
        parts.push_back(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
        if (parts.size() > (size_t)kMaxArray + 1) break;
      }
      long long n;
      if (!parse_int(parts[0], &n) || n < 0 || n > kMaxArray)
        return bad(l, "array parameter " + tok.substr(0, eq) + " has length '" + parts[0] + "' (0 to " +
                          std::to_string(kMaxArray) + " expected)");
      if ((long long)parts.size() - 1 != n)
        return bad(l, "array parameter " + tok.substr(0, eq) + " declares " + std::to_string(n) + " values, holds " +
                          (parts.size() > (size_t)kMaxArray + 1 ? std::string("more") : std::to_string(parts.size() - 1)));
      bool first_float = false;
      for (size_t k = 1; k < parts.size(); ++k) {
        Param v;
        if (!parse_number(parts[k], &v))
          return bad(l, "array parameter " + tok.substr(0, eq) + " value " + std::to_string(k) + " '" + parts[k] +
                            "' is not a number");
        if (k == 1) first_float = v.is_float;
        else if (v.is_float != first_float)
          return bad(l, "array parameter " + tok.substr(0, eq) + " mixes integers and floats");
        p.values.push_back(v.values[0]);
      }
      p.is_float = first_float;
    } else {
      if (key < 0 || key > 31) return bad(l, "parameter key " + std::to_string(key) + " is out of range (0 to 31)");
      if (!parse_number(value, &p)) return bad(l, "parameter " + std::to_string(key) + "='" + value + "' is not a number");
    }
    if (l.params.count((int)key)) return bad(l, "parameter " + std::to_string(key) + " is given twice");
    l.params[(int)key] = p;
    return true;
  }

  bool parse(const std::string& text) {
    std::vector<std::pair<int, std::string>> lines;
    size_t start = 0;
    int no = 0;
    while (start <= text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      ++no;
      std::string line = text.substr(start, nl - start);
      if (!split_tokens(line).empty()) lines.emplace_back(no, line);
      start = nl + 1;
    }
    if (lines.empty() || split_tokens(lines[0].second) != std::vector<std::string>{"7767517"}) {
      bad_file("not an ncnn .param file, cannot parse it (its first line must be the magic 7767517)");
      return false;
    }
    const std::vector<std::string> counts = split_tokens(lines.size() > 1 ? lines[1].second : "");
    long long nl = 0, nb = 0;
    if (counts.size() != 2 || !parse_int(counts[0], &nl) || !parse_int(counts[1], &nb))
      return bad_line(lines.size() > 1 ? lines[1].first : 2, "must be '<layer count> <blob count>'");
    if (nl < 1 || nl > kMaxCount || nb < 1 || nb > kMaxCount)
      return bad_line(lines[1].first, "layer count " + std::to_string(nl) + " and blob count " + std::to_string(nb) +
                                          " must be in [1, " + std::to_string(kMaxCount) + "]");
    blob_count_ = (int)nb;
    if ((long long)lines.size() - 2 != nl)
      return bad_line(lines[1].first, "declares " + std::to_string(nl) + " layers, the file holds " +
                                          std::to_string(lines.size() - 2) + " layer lines");
    for (size_t i = 2; i < lines.size(); ++i) {
      Layer l;
      l.line = lines[i].first;
      const std::vector<std::string> t = split_tokens(lines[i].second);
      long long n_in = -1, n_out = -1;
      if (t.size() < 4 || !parse_int(t[2], &n_in) || !parse_int(t[3], &n_out) || n_in < 0 || n_out < 0)
        return bad_line(l.line, "a layer line must start 'Type name <bottom count> <top count>'");
      l.type = t[0];
      l.name = t[1];
      if (l.type.size() > 255 || l.name.size() > 255) return bad_line(l.line, "layer type or name longer than 255 characters");
      if ((long long)t.size() < 4 + n_in + n_out)
        return bad(l, "declares " + std::to_string(n_in) + " bottoms and " + std::to_string(n_out) +
                          " tops, the line names " + std::to_string(t.size() - 4));
      for (long long k = 0; k < n_in; ++k) l.bottoms.push_back(t[4 + k]);
      for (long long k = 0; k < n_out; ++k) l.tops.push_back(t[4 + n_in + k]);
      for (const std::string& b : l.bottoms)
        if (b.size() > 255) return bad(l, "a blob name is longer than 255 characters");
      for (const std::string& b : l.tops)
        if (b.size() > 255) return bad(l, "a blob name is longer than 255 characters");
      for (size_t k = 4 + n_in + n_out; k < t.size(); ++k)
        if (!parse_param(l, t[k])) return false;
      layers_.push_back(std::move(l));
    }
    return true;
  }

  // --- per-layer checks -----------------------------------------------------------------------

  bool int_param(const Layer& l, int key, long long def, long long lo, long long hi, long long* out) const {
    bool ok = true;
    *out = l.geti(key, def, &ok);
    if (!ok) return bad(l, "parameter " + std::to_string(key) + " must be an integer");
    if (*out < lo || *out > hi)
      return bad(l, "parameter " + std::to_string(key) + "=" + std::to_string(*out) + " is out of range [" +
                        std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return true;
  }

  bool check_layer(Layer& l) {
    const KnownLayer* k = known_layer(l.type);
    if (!k) return bad(l, "layer type '" + l.type + "' is not one pyhpe's models use");
    const int nb = (int)l.bottoms.size(), nt = (int)l.tops.size();
    if (nb < k->min_bottoms || nb > k->max_bottoms || nt < k->min_tops || nt > k->max_tops)
      return bad(l, "has " + std::to_string(nb) + " bottoms and " + std::to_string(nt) + " tops, which " + l.type +
                        " does not take");
    if (l.type == "Noop" && nb != nt)  // ncnn runs it in place: each top is a bottom
      return bad(l, "Noop needs as many tops as bottoms, has " + std::to_string(nb) + " and " + std::to_string(nt));
    std::vector<Shape> in;
    for (const std::string& b : l.bottoms) {
      auto it = blob_shape_.find(b);
      if (it == blob_shape_.end()) return bad(l, "blob '" + b + "' used before it is produced");
      if (!consumed_.insert(b).second)
        return bad(l, "blob '" + b + "' is consumed a second time (ncnn needs a Split to share a blob)");
      in.push_back(it->second);
    }
    std::vector<Shape> out(l.tops.size());
    if (!check_params_and_shapes(l, in, out)) return false;
    for (size_t j = 0; j < l.tops.size(); ++j) {
      if (blob_shape_.count(l.tops[j])) return bad(l, "blob '" + l.tops[j] + "' is produced a second time");
      blob_shape_[l.tops[j]] = out[j];
    }
    return true;
  }

  static bool known3(const std::vector<Shape>& in) { return !in.empty() && in[0].dims == 3; }

  // Output side of a convolution-like window; false when it would be < 1.
  static bool window_out(long long size, long long k, long long d, long long s, long long p0, long long p1,
                         long long* out) {
    const long long ext = d * (k - 1) + 1;
    if (p0 == -233 || p0 == -234) {
      *out = (size + s - 1) / s;
      return true;
    }
    const long long v = (size + p0 + p1 - ext) / s + 1;
    if (size + p0 + p1 < ext || v < 1) return false;
    *out = v;
    return true;
  }

  bool check_conv(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    const bool dw = l.type == "ConvolutionDepthWise", c1d = l.type == "Convolution1D", de = l.type == "Deconvolution";
    long long num_output, kw, kh, dil_w, dil_h, sw, sh, pl, pr, pt, pb, bias, wds, group = 1, int8 = 0, dyn = 0;
    if (!int_param(l, 0, 0, 1, kMaxSide, &num_output) || !int_param(l, 1, 0, 1, 64, &kw) ||
        !int_param(l, 11, kw, 1, 64, &kh) || !int_param(l, 2, 1, 1, 64, &dil_w) || !int_param(l, 12, dil_w, 1, 64, &dil_h) ||
        !int_param(l, 3, 1, 1, 64, &sw) || !int_param(l, 13, sw, 1, 64, &sh) || !int_param(l, 4, 0, -234, 64, &pl) ||
        !int_param(l, 15, pl, -234, 64, &pr) || !int_param(l, 14, pl, -234, 64, &pt) ||
        !int_param(l, 16, pt, -234, 64, &pb) || !int_param(l, 5, 0, 0, 1, &bias) ||
        !int_param(l, 6, 0, 1, INT32_MAX, &wds))
      return false;
    // ncnn pads explicitly when any side is > 0 and "same" only when all four are -233 or all -234
    const bool same = (pl == -233 || pl == -234) && pr == pl && pt == pl && pb == pl;
    if (!same && (pl < 0 || pr < 0 || pt < 0 || pb < 0))
      return bad(l, "paddings " + std::to_string(pl) + " " + std::to_string(pr) + " " + std::to_string(pt) + " " +
                        std::to_string(pb) + " must all be >= 0, or all -233 or all -234");
    if (same && de) return bad(l, "a deconvolution takes no -233/-234 padding");
    if (dw && !int_param(l, 7, 1, 1, kMaxSide, &group)) return false;
    if (!de && !c1d && !int_param(l, 8, 0, 0, 0, &int8)) return false;
    if (!int_param(l, de ? 28 : 19, 0, 0, 0, &dyn)) return false;
    long long opad_r = 0, opad_b = 0, out_w = 0, out_h = 0;
    if (de && (!int_param(l, 18, 0, 0, 64, &opad_r) || !int_param(l, 19, opad_r, 0, 64, &opad_b) ||
               !int_param(l, 20, 0, 0, kMaxSide, &out_w) || !int_param(l, 21, out_w, 0, kMaxSide, &out_h)))
      return false;
    if (num_output % group) return bad(l, "num_output " + std::to_string(num_output) + " is not a multiple of group " + std::to_string(group));
    const long long per_in = num_output * kw * (c1d ? 1 : kh);
    if (wds % per_in) return bad(l, "weight_data_size " + std::to_string(wds) + " is not a multiple of num_output x kernel");
    weights_[&l] = {{wds, true}};
    if (bias) weights_[&l].push_back({num_output, false});
    if (!in.empty() && in[0].dims != 0 && in[0].dims != (c1d ? 2 : 3))
      return bad(l, std::string("takes a ") + (c1d ? "2-D (w, h)" : "3-D (c, h, w)") + " input, got " + describe(in[0]));
    if (c1d || !known3(in)) return true;  // output shape not followed
    const Shape s = in[0];
    const long long cin_w = wds / (num_output * kw * kh);  // input channels per group the weights hold
    if (de) {
      if (cin_w != s.c)
        return bad(l, "weights hold " + std::to_string(cin_w) + " input channels, the input " + describe(s) + " has " +
                          std::to_string(s.c));
      const long long ow = out_w > 0 ? out_w : (s.w - 1) * sw + dil_w * (kw - 1) + 1 - pl - pr + opad_r;
      const long long oh = out_h > 0 ? out_h : (s.h - 1) * sh + dil_h * (kh - 1) + 1 - pt - pb + opad_b;
      if (ow < 1 || oh < 1 || ow > kMaxSide || oh > kMaxSide)
        return bad(l, "gives an output of " + std::to_string(ow) + " x " + std::to_string(oh) + " from " + describe(s));
      out[0] = Shape{3, (int)ow, (int)oh, (int)num_output};
      return true;
    }
    if (dw) {
      if (s.c % group) return bad(l, "input has " + std::to_string(s.c) + " channels, not a multiple of group " + std::to_string(group));
      if (cin_w * group != s.c)
        return bad(l, "weights hold " + std::to_string(cin_w * group) + " input channels, the input " + describe(s) +
                          " has " + std::to_string(s.c));
    } else if (cin_w != s.c) {
      return bad(l, "weights hold " + std::to_string(cin_w) + " input channels, the input " + describe(s) + " has " +
                        std::to_string(s.c));
    }
    long long ow, oh;
    if (!window_out(s.w, kw, dil_w, sw, pl, pr, &ow) || !window_out(s.h, kh, dil_h, sh, pt, pb, &oh))
      return bad(l, "the kernel does not fit the input " + describe(s));
    out[0] = Shape{3, (int)ow, (int)oh, (int)num_output};
    return true;
  }

  bool check_params_and_shapes(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    const std::string& t = l.type;
    long long v;
    if (t == "Input") {
      long long w, h, c;
      if (!int_param(l, 0, 0, 0, kMaxSide, &w) || !int_param(l, 1, 0, 0, kMaxSide, &h) || !int_param(l, 2, 0, 0, kMaxSide, &c))
        return false;
      if (w > 0 && h > 0 && c > 0) out[0] = Shape{3, (int)w, (int)h, (int)c};
      else if (w > 0 && h > 0 && !l.has(2)) out[0] = Shape{2, (int)w, (int)h, 1};
      else if (w > 0 && !l.has(1) && !l.has(2)) out[0] = Shape{1, (int)w, 1, 1};
      else if (l.has(0) || l.has(1) || l.has(2)) return bad(l, "declares no usable input shape (0=w 1=h 2=c, each >= 1)");
      else if (l.tops[0] == image_blob_) out[0] = Shape{3, image_size_, image_size_, 3};  // what the runtime feeds
      return true;
    }
    if (t == "Convolution" || t == "ConvolutionDepthWise" || t == "Convolution1D" || t == "Deconvolution")
      return check_conv(l, in, out);
    if (t == "InnerProduct") {
      long long n, bias, wds;
      if (!int_param(l, 0, 0, 1, kMaxSide, &n) || !int_param(l, 1, 0, 0, 1, &bias) ||
          !int_param(l, 2, 0, 1, INT32_MAX, &wds) || !int_param(l, 8, 0, 0, 0, &v) || !int_param(l, 9, 0, 0, 10, &v))
        return false;
      if (wds % n) return bad(l, "weight_data_size " + std::to_string(wds) + " is not a multiple of num_output " + std::to_string(n));
      weights_[&l] = {{wds, true}};
      if (bias) weights_[&l].push_back({n, false});
      if (!in.empty() && in[0].dims != 0 && (long long)in[0].w * in[0].h * in[0].c * n != wds)
        return bad(l, "weights hold " + std::to_string(wds / n) + " inputs, the input " + describe(in[0]) + " has " +
                          std::to_string((long long)in[0].w * in[0].h * in[0].c));
      if (!in.empty() && in[0].dims != 0) out[0] = Shape{1, (int)n, 1, 1};
      return true;
    }
    if (t == "BatchNorm") {
      long long c;
      if (!int_param(l, 0, 0, 1, kMaxSide, &c)) return false;
      weights_[&l] = {{c, false}, {c, false}, {c, false}, {c, false}};
      if (!in.empty() && in[0].dims != 0) {
        const int have = in[0].dims == 1 ? in[0].w : in[0].dims == 2 ? in[0].h : in[0].c;
        if (have != c) return bad(l, "has " + std::to_string(c) + " channels, the input " + describe(in[0]) + " has " + std::to_string(have));
        out[0] = in[0];
      }
      return true;
    }
    if (t == "Pooling") {
      long long type, k, global;
      if (!int_param(l, 0, 0, 0, 1, &type) || !int_param(l, 1, 0, 0, 64, &k) || !int_param(l, 11, k, 0, 64, &v) ||
          !int_param(l, 2, 1, 1, 64, &v) || !int_param(l, 12, 1, 1, 64, &v) || !int_param(l, 3, 0, 0, 64, &v) ||
          !int_param(l, 14, 0, 0, 64, &v) || !int_param(l, 13, 0, 0, 64, &v) || !int_param(l, 15, 0, 0, 64, &v) ||
          !int_param(l, 4, 0, 0, 1, &global) || !int_param(l, 5, 0, 0, 3, &v) || !int_param(l, 7, 0, 0, 1, &v) ||
          !int_param(l, 8, 0, 0, kMaxSide, &v) || !int_param(l, 18, 0, 0, kMaxSide, &v))
        return false;
      if (in[0].dims != 0 && in[0].dims != 3) return bad(l, "takes a 3-D (c, h, w) input, got " + describe(in[0]));
      if (global) {
        if (known3(in)) out[0] = Shape{1, in[0].c, 1, 1};
        return true;
      }
      return check_window_pooling(l, in, out);
    }
    if (t == "PyhpeRepNeXtMixer") return check_mixer(l, in, out);
    if (t == "PyhpeRepNeXtStem") {  // two 3x3 stride-2 convolutions, padding 1 (stem_layer.h)
      long long cin, c1, c2;
      if (!int_param(l, 0, 0, 1, kMaxSide, &cin) || !int_param(l, 1, 0, 1, kMaxSide, &c1) ||
          !int_param(l, 2, 0, 1, kMaxSide, &c2))
        return false;
      weights_[&l] = {{c1 * cin * 9, false}, {c1, false}, {c2 * c1 * 9, false}, {c2, false}};
      if (in[0].dims == 0) return true;
      if (in[0].dims != 3 || in[0].c != cin)
        return bad(l, "takes a 3-D input of " + std::to_string(cin) + " channels, got " + describe(in[0]));
      const auto halve = [](int n) { return (n - 1) / 2 + 1; };
      out[0] = Shape{3, halve(halve(in[0].w)), halve(halve(in[0].h)), (int)c2};
      return true;
    }
    if (t == "PyhpeRepNeXtFFN") {
      long long c, hidden;
      if (!int_param(l, 0, 0, 1, kMaxSide, &c) || !int_param(l, 1, 0, 1, kMaxSide, &hidden)) return false;
      weights_[&l] = {{hidden * c, false}, {hidden, false}, {c * hidden, false}, {c, false}};
      for (const Shape& s : in)
        if (s.dims != 0 && (s.dims != 3 || s.c != c))
          return bad(l, "has " + std::to_string(c) + " channels, an input " + describe(s) + " differs");
      if (in.size() == 2 && in[0].dims && in[1].dims && !(in[0] == in[1]))
        return bad(l, "its inputs differ in shape: " + describe(in[0]) + " and " + describe(in[1]));
      if (known3(in)) out[0] = in[0];
      return true;
    }
    if (same_shape_layer(t)) {
      for (Shape& o : out) o = in[0];
      return true;
    }
    if (t == "BinaryOp") {
      long long op, scalar;
      if (!int_param(l, 0, 0, 0, 11, &op) || !int_param(l, 1, 0, 0, 1, &scalar)) return false;
      if ((scalar == 1) != (in.size() == 1))
        return bad(l, scalar ? "with_scalar=1 takes one bottom" : "takes two bottoms (or 1=1 and a scalar)");
      if (in.size() == 1) out[0] = in[0];
      else if (in[0].dims && in[1].dims) return broadcast(l, in[0], in[1], &out[0]);
      return true;
    }
    if (t == "Eltwise") {  // no broadcasting in ncnn's Eltwise; coefficients: one per bottom
      if (!int_param(l, 0, 0, 0, 2, &v)) return false;
      auto co = l.params.find(1);
      if (co != l.params.end() && (!co->second.is_array || co->second.values.size() != in.size()))
        return bad(l, "its coefficients (-23301) must be an array of one value per bottom (" + std::to_string(in.size()) + ")");
      for (const Shape& s : in) {
        if (!s.dims) return true;
        if (!(s == in[0])) return bad(l, "its inputs differ in shape: " + describe(in[0]) + " and " + describe(s));
      }
      out[0] = in[0];
      return true;
    }
    if (t == "Noop") {  // in place: each top is its bottom
      for (size_t j = 0; j < out.size(); ++j) out[j] = in[j];
      return true;
    }
    if (t == "Reshape") return check_reshape(l, in, out);
    if (t == "Crop") return check_crop(l, in, out);
    if (t == "Interp") return check_interp(l, in, out);
    if (t == "Concat") {
      long long axis;
      if (!int_param(l, 0, 0, -4, 3, &axis)) return false;
      bool all3 = true;
      for (const Shape& s : in) all3 = all3 && s.dims == 3;
      if (all3) {
        const int a = (int)(axis < 0 ? axis + 3 : axis);
        if (a < 0 || a > 2) return bad(l, "axis " + std::to_string(axis) + " is out of range for 3-D inputs");
        long long n = 0;
        for (const Shape& s : in) {
          for (int b = 0; b < 3; ++b)
            if (b != a && extent(s, b) != extent(in[0], b))
              return bad(l, std::string("concatenates ") + axis_word(a) + " of differently sized inputs " +
                                describe(in[0]) + " and " + describe(s));
          n += extent(s, a);
        }
        if (n > kMaxSide) return bad(l, std::string("concatenates more than ") + std::to_string(kMaxSide) + " " + axis_word(a));
        out[0] = with_extent(in[0], a, (int)n);
      }
      return true;
    }
    if (t == "Padding") {  // top, bottom, left, right, front (channels), behind; no per-channel values
      long long pad[6];
      const int keys[6] = {0, 1, 2, 3, 7, 8};
      for (int k = 0; k < 6; ++k)
        if (!int_param(l, keys[k], 0, 0, 4096, &pad[k])) return false;
      if (!int_param(l, 4, 0, 0, 2, &v) || !int_param(l, 6, 0, 0, 0, &v)) return false;
      if (known3(in)) {
        const long long w = in[0].w + pad[2] + pad[3], h = in[0].h + pad[0] + pad[1], c = in[0].c + pad[4] + pad[5];
        if (w > kMaxSide || h > kMaxSide || c > kMaxSide) return bad(l, "pads beyond " + std::to_string(kMaxSide));
        out[0] = Shape{3, (int)w, (int)h, (int)c};
      }
      return true;
    }
    if (t == "Slice") return check_slice(l, in, out);
    if (t == "Flatten") {
      if (in[0].dims) {
        const long long n = (long long)in[0].w * in[0].h * in[0].c;
        out[0] = Shape{1, (int)n, 1, 1};
      }
      return true;
    }
    if (t == "MemoryData") {
      long long w, h, d, c, type;
      if (!int_param(l, 0, 0, 0, kMaxSide, &w) || !int_param(l, 1, 0, 0, kMaxSide, &h) ||
          !int_param(l, 11, 0, 0, kMaxSide, &d) || !int_param(l, 2, 0, 0, kMaxSide, &c) || !int_param(l, 21, 1, 1, 1, &type))
        return false;
      const long long n = (w ? w : 1) * (h ? h : 1) * (d ? d : 1) * (c ? c : 1);
      if (n > (1LL << 28)) return bad(l, "holds more than 2^28 values");
      weights_[&l] = {{n, false}};
      if (d) return true;  // 4-D: not followed
      out[0] = c ? Shape{3, (int)(w ? w : 1), (int)(h ? h : 1), (int)c} : h ? Shape{2, (int)(w ? w : 1), (int)h, 1}
                                                                    : Shape{1, (int)(w ? w : 1), 1, 1};
      return true;
    }
    if (t == "Gemm") {
      long long ca, cb, cc, M, N, K, bt, quant;
      if (!int_param(l, 4, 0, 0, 1, &ca) || !int_param(l, 5, 0, 0, 1, &cb) || !int_param(l, 6, 0, 0, 1, &cc) ||
          !int_param(l, 7, 0, 0, kMaxSide, &M) || !int_param(l, 8, 0, 0, kMaxSide, &N) || !int_param(l, 9, 0, 0, kMaxSide, &K) ||
          !int_param(l, 10, 0, -1, 4, &bt) || !int_param(l, 18, 0, 0, 0, &quant))
        return false;
      const long long least = (ca ? 0 : 1) + (cb ? 0 : 1), most = least + (cc ? 0 : 1);
      if ((long long)in.size() < least || (long long)in.size() > most)
        return bad(l, "takes " + std::to_string(least) + (most > least ? " or " + std::to_string(most) : std::string()) +
                          " bottoms with these constants, has " + std::to_string(in.size()));
      std::vector<std::pair<long long, bool>> w;
      if (ca) w.push_back({K * M, true});
      if (cb) w.push_back({N * K, true});
      if (cc && bt != -1) {
        const long long sizes[] = {1, M, M, N * M, N};
        w.push_back({sizes[bt], true});
      }
      for (const auto& a : w)
        if (a.first < 1) return bad(l, "a constant operand with no values (M, N, K must be >= 1)");
      weights_[&l] = w;
      return check_gemm_shapes(l, in, out, ca, cb, M, N, K);
    }
    return true;  // shape not followed (unknown output)
  }

  // Windowed max/avg pooling (ncnn's pad modes: 0 full, rounding up; 1 valid; 2 and 3 "same").
  bool check_window_pooling(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    long long kw, kh, sw, sh, pl, pr, pt, pb, mode, adaptive, ow_p, oh_p, ok = 1;
    ok = int_param(l, 1, 0, 0, 64, &kw) && int_param(l, 11, kw, 0, 64, &kh) && int_param(l, 2, 1, 1, 64, &sw) &&
         int_param(l, 12, sw, 1, 64, &sh) && int_param(l, 3, 0, 0, 64, &pl) && int_param(l, 14, pl, 0, 64, &pr) &&
         int_param(l, 13, pl, 0, 64, &pt) && int_param(l, 15, pt, 0, 64, &pb) && int_param(l, 5, 0, 0, 3, &mode) &&
         int_param(l, 7, 0, 0, 1, &adaptive) && int_param(l, 8, 0, 0, kMaxSide, &ow_p) &&
         int_param(l, 18, ow_p, 0, kMaxSide, &oh_p);
    if (!ok) return false;
    if (adaptive) {
      if (ow_p < 1 || oh_p < 1) return bad(l, "an adaptive pooling needs its output size 8=w 18=h >= 1");
      if (known3(in)) out[0] = Shape{3, (int)ow_p, (int)oh_p, in[0].c};
      return true;
    }
    if (kw < 1 || kh < 1) return bad(l, "a windowed pooling needs a kernel >= 1");
    if (!known3(in)) return true;
    const Shape s = in[0];
    auto side = [&](long long size, long long k, long long st, long long p0, long long p1, long long* o) {
      if (mode >= 2) {  // "same": ceil(size / stride)
        *o = (size - 1) / st + 1;
        return true;
      }
      const long long padded = size + p0 + p1;
      if (padded < k) return false;
      *o = mode == 0 ? (padded - k + st - 1) / st + 1 : (padded - k) / st + 1;
      return true;
    };
    long long ow, oh;
    if (!side(s.w, kw, sw, pl, pr, &ow) || !side(s.h, kh, sh, pt, pb, &oh))
      return bad(l, "the " + std::to_string(kw) + " x " + std::to_string(kh) + " window does not fit the input " + describe(s));
    out[0] = Shape{3, (int)ow, (int)oh, s.c};
    return true;
  }

  // ncnn's BinaryOp broadcasting: the lower-rank operand gets inner axes (a 1-D one of the other's
  // channel count runs along channels), then each axis must match or be 1.
  bool broadcast(const Layer& l, const Shape& a, const Shape& b, Shape* out) {
    const int dims = a.dims > b.dims ? a.dims : b.dims;
    auto expand = [&](Shape x, const Shape& other) {
      if (x.dims == dims) return x;
      if (dims == 2) return x.w == other.h ? Shape{2, 1, x.w, 1} : Shape{2, x.w, 1, 1};
      if (x.dims == 1) return x.w == other.c ? Shape{3, 1, 1, x.w} : Shape{3, x.w, 1, 1};
      return Shape{3, 1, x.w, x.h};  // 2-D into 3-D
    };
    const Shape ea = expand(a, b), eb = expand(b, a);
    Shape o{dims, 0, 0, 0};
    for (int axis = 0; axis < 3; ++axis) {
      const int x = extent(ea, axis), y = extent(eb, axis);
      if (x != y && x != 1 && y != 1)
        return bad(l, "cannot broadcast " + describe(a) + " with " + describe(b) + " (" + axis_word(axis) + " differ)");
      o = with_extent(o, axis, x > y ? x : y);
    }
    *out = o;
    return true;
  }

  // Reshape to 0=w 1=h 2=c (-233 absent, 0 keeps the input's extent, -1 takes the rest); the
  // element count must not change (ncnn would hand on a blob of the wrong size). 11=d (4-D) and
  // the shape expression (6) are not followed / refused.
  bool check_reshape(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    long long dim[4];  // w, h, c, d
    const int keys[4] = {0, 1, 2, 11};
    for (int k = 0; k < 4; ++k)
      if (!int_param(l, keys[k], -233, -233, kMaxSide, &dim[k])) return false;
    for (int k = 0; k < 4; ++k)
      if (dim[k] < -1 && dim[k] != -233) return bad(l, "parameter " + std::to_string(keys[k]) + " must be >= -1 or -233");
    long long v;
    if (!int_param(l, 12, 233, 233, 233, &v) || !int_param(l, 13, 233, 233, 233, &v)) return false;
    const int ndim = dim[0] == -233 ? 0 : dim[1] == -233 ? 1 : dim[2] == -233 ? 2 : dim[3] == -233 ? 3 : 4;
    if (ndim == 0) return bad(l, "declares no output shape (0=w)");
    if (ndim == 4 || !in[0].dims) return true;  // 4-D: not followed
    const Shape s = in[0];
    const long long total = (long long)s.w * s.h * s.c;
    const long long keep[3] = {s.w, s.h, s.c};
    long long o[3] = {1, 1, 1}, known = 1;
    int rest = -1;
    for (int k = 0; k < ndim; ++k) {
      o[k] = dim[k] == 0 ? keep[k] : dim[k];
      if (o[k] == -1) {
        if (rest >= 0) return bad(l, "more than one extent is -1");
        rest = k;
      } else {
        known *= o[k];
      }
    }
    if (rest >= 0) {
      if (known < 1 || total % known) return bad(l, "cannot reshape " + describe(s) + ": -1 does not divide evenly");
      o[rest] = total / known;
    }
    if (o[0] * o[1] * o[2] != total || o[0] < 1 || o[1] < 1 || o[2] < 1)
      return bad(l, "reshapes " + describe(s) + " (" + std::to_string(total) + " values) to " + std::to_string(o[0] * o[1] * o[2]) + " values");
    out[0] = Shape{ndim, (int)o[0], ndim >= 2 ? (int)o[1] : 1, ndim == 3 ? (int)o[2] : 1};
    return true;
  }

  // An integer array parameter's values (empty when absent); false when it is not an int array.
  bool int_array(const Layer& l, int key, std::vector<long long>* out) const {
    out->clear();
    auto it = l.params.find(key);
    if (it == l.params.end()) return true;
    if (!it->second.is_array || (it->second.is_float && !it->second.values.empty()))
      return bad(l, "parameter -233" + std::string(key < 10 ? "0" : "") + std::to_string(key) + " must be an integer array");
    for (double x : it->second.values) out->push_back((long long)x);
    return true;
  }

  // Crop: numpy-style starts/ends/axes (9, 10, 11) or offsets (0 1 2, 6 7 8) and sizes (3 4 5);
  // every window must lie inside the input (ncnn copies it without looking).
  bool check_crop(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    std::vector<long long> starts, ends, axes;
    if (!int_array(l, 9, &starts) || !int_array(l, 10, &ends) || !int_array(l, 11, &axes)) return false;
    long long off[3], off2[3], size[3];  // w, h, c
    const int off_keys[3] = {0, 1, 2}, off2_keys[3] = {6, 7, 8}, size_keys[3] = {3, 4, 5};
    for (int k = 0; k < 3; ++k)
      if (!int_param(l, off_keys[k], 0, 0, kMaxSide, &off[k]) || !int_param(l, off2_keys[k], 0, 0, kMaxSide, &off2[k]) ||
          !int_param(l, size_keys[k], 0, -233, kMaxSide, &size[k]))
        return false;
    long long v;
    if (!int_param(l, 13, 0, 0, 0, &v) || !int_param(l, 14, 0, 0, 0, &v) || !int_param(l, 15, 0, 0, 0, &v)) return false;
    const bool numpy = !starts.empty() && !ends.empty();
    if (numpy && (starts.size() != ends.size() || (!axes.empty() && axes.size() != starts.size())))
      return bad(l, "its starts, ends and axes (-23309, -23310, -23311) differ in length");
    if (!numpy && (!starts.empty() || !ends.empty())) return bad(l, "gives starts or ends (-23309, -23310) without the other");
    const Shape s = in[0];
    if (!s.dims) return true;
    const int dims = s.dims;
    // extents in ncnn's axis order for this rank: (w) / (h, w) / (c, h, w)
    long long ext[3], lo[3] = {0, 0, 0}, n[3];
    const int order[3][3] = {{2, -1, -1}, {1, 2, -1}, {0, 1, 2}};  // ncnn axis -> our axis (0 c, 1 h, 2 w)
    for (int a = 0; a < 3; ++a) n[a] = ext[a] = extent(s, a);
    if (numpy) {
      if ((long long)starts.size() > dims) return bad(l, "crops " + std::to_string(starts.size()) + " axes of " + describe(s));
      for (size_t i = 0; i < starts.size(); ++i) {
        long long axis = axes.empty() ? (long long)i : axes[i];
        if (axis < 0) axis += dims;
        if (axis < 0 || axis >= dims) return bad(l, "axis " + std::to_string(axes.empty() ? i : axes[i]) + " is out of range for " + describe(s));
        const int a = order[dims - 1][axis];
        const long long e = ext[a];
        long long st = starts[i] == -233 ? 0 : starts[i], en = ends[i] == -233 ? e : ends[i];
        st = st >= 0 ? st : e + st;
        en = en > 0 ? en : e + en;
        if (en > e) en = e;
        lo[a] = st;
        n[a] = en - st;
      }
    } else {
      const long long o1[3] = {off[2], off[1], off[0]}, o2[3] = {off2[2], off2[1], off2[0]}, sz[3] = {size[2], size[1], size[0]};
      for (int i = 0; i < dims; ++i) {  // c, h, w as far as the rank goes (1-D: w; 2-D: h, w)
        const int a = order[dims - 1][i];
        lo[a] = o1[a];
        n[a] = ext[a] - o1[a] - o2[a];
        if (sz[a] != -233 && sz[a] < n[a]) n[a] = sz[a];
      }
    }
    for (int a = 0; a < 3; ++a)
      if (lo[a] < 0 || n[a] < 1 || lo[a] + n[a] > ext[a])
        return bad(l, std::string("crops ") + axis_word(a) + " [" + std::to_string(lo[a]) + ", " + std::to_string(lo[a] + n[a]) +
                          ") of " + describe(s));
    out[0] = Shape{dims, (int)n[2], (int)n[1], (int)n[0]};
    return true;
  }

  // Interp of a 3-D input to 3=h 4=w, or to the input's size times 1=h 2=w scales.
  bool check_interp(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    long long type, oh, ow, v;
    if (!int_param(l, 0, 0, 0, 3, &type) || !int_param(l, 3, 0, 0, kMaxSide, &oh) || !int_param(l, 4, 0, 0, kMaxSide, &ow) ||
        !int_param(l, 5, 0, 0, 0, &v) || !int_param(l, 6, 0, 0, 1, &v))
      return false;
    bool ok = true;
    const double hs = l.getf(1, 1.0, &ok), ws = l.getf(2, 1.0, &ok);
    if (!ok || !(hs > 0 && hs <= kMaxSide) || !(ws > 0 && ws <= kMaxSide)) return bad(l, "its scales 1= and 2= must be numbers in (0, 65536]");
    const Shape s = in[0];
    if (!s.dims) return true;
    if (s.dims != 3) return bad(l, "takes a 3-D (c, h, w) input, got " + describe(s));
    if (ow == 0 || oh == 0) {
      ow = (long long)(s.w * ws);
      oh = (long long)(s.h * hs);
    }
    if (ow < 1 || oh < 1 || ow > kMaxSide || oh > kMaxSide)
      return bad(l, "resizes " + describe(s) + " to " + std::to_string(ow) + " x " + std::to_string(oh));
    out[0] = Shape{3, (int)ow, (int)oh, s.c};
    return true;
  }

  // Gemm of 1-D / 2-D operands (a 1-D one is one row): out = A (M x K) . B (K x N), 2-D N wide and
  // M high (14=1: transposed). 3-D operands are refused (pyhpe's exports feed Gemm matrices).
  bool check_gemm_shapes(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out, long long ca, long long cb,
                         long long M, long long N, long long K) {
    long long ta, tb, n1m, ot, v;
    if (!int_param(l, 2, 0, 0, 1, &ta) || !int_param(l, 3, 0, 0, 1, &tb) || !int_param(l, 11, 0, 0, 1, &n1m) ||
        !int_param(l, 14, 0, 0, 1, &ot) || !int_param(l, 12, 0, 0, 0, &v) || !int_param(l, 13, 0, 0, 0, &v))
      return false;
    const size_t ia = 0, ib = ca ? 0 : 1;
    for (size_t j = 0; j < in.size(); ++j)
      if (in[j].dims == 3) return bad(l, "takes 1-D or 2-D operands, got " + describe(in[j]));
    long long m = ca ? M : 0, k = ca ? K : 0, n = cb ? N : 0, kb = cb ? K : 0;
    if (!ca) {
      if (!in[ia].dims) return true;
      m = ta ? in[ia].w : in[ia].h;
      k = ta ? in[ia].h : in[ia].w;
      if (M && M != m) return bad(l, "7=M " + std::to_string(M) + " differs from its operand " + describe(in[ia]));
    }
    if (!cb) {
      if (!in[ib].dims) return true;
      kb = tb ? in[ib].w : in[ib].h;
      n = tb ? in[ib].h : in[ib].w;
      if (N && N != n) return bad(l, "8=N " + std::to_string(N) + " differs from its operand " + describe(in[ib]));
    }
    if (k != kb) return bad(l, "multiplies M x K " + std::to_string(m) + " x " + std::to_string(k) + " by K x N " +
                               std::to_string(kb) + " x " + std::to_string(n));
    if (!n1m) out[0] = ot ? Shape{2, (int)m, (int)n, 1} : Shape{2, (int)n, (int)m, 1};
    return true;
  }

  bool check_mixer(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    long long down, c, affine, k[8];
    const long long defs[8] = {3, 3, 7, 7, 1, 11, 11, 1};
    if (!int_param(l, 0, 0, 0, 1, &down) || !int_param(l, 1, 0, 1, kMaxSide, &c) || !int_param(l, 10, 0, 0, 1, &affine))
      return false;
    for (int i = 0; i < 8; ++i)
      if (!int_param(l, 2 + i, defs[i], 1, 11, &k[i])) return false;
    for (long long side : k)
      if (side % 2 == 0) return bad(l, "kernel sides must be odd");
    if (!down && c % 4) return bad(l, "1=channels " + std::to_string(c) + " is not a multiple of 4 (block mixer)");
    const long long K = down ? c : c / 4, cout = down ? 2 * c : c;
    std::vector<std::pair<long long, bool>> w = {{K * k[0] * k[1], false}, {K, false}, {K * k[2] * k[3], false}, {K, false}};
    if (!down) {
      w.push_back({K * k[4] * k[5], false});
      w.push_back({K, false});
      w.push_back({K * k[6] * k[7], false});
      w.push_back({K, false});
    }
    if (affine) {
      w.push_back({cout, false});
      w.push_back({cout, false});
    }
    weights_[&l] = w;
    if (in[0].dims != 0) {
      if (in[0].dims != 3 || in[0].c != c)
        return bad(l, "has " + std::to_string(c) + " channels, the input " + describe(in[0]) + " differs");
      out[0] = down ? Shape{3, (in[0].w - 1) / 2 + 1, (in[0].h - 1) / 2 + 1, (int)cout} : in[0];
    }
    return true;
  }

  bool check_slice(const Layer& l, const std::vector<Shape>& in, std::vector<Shape>& out) {
    long long axis;
    if (!int_param(l, 1, 0, -4, 3, &axis)) return false;
    auto it = l.params.find(0), ind = l.params.find(2);
    const bool has_slices = it != l.params.end(), has_indices = ind != l.params.end();
    if (has_slices == has_indices) return bad(l, "needs exactly one of the integer arrays -23300 (sizes) and -23302 (indices)");
    const Param& p = has_slices ? it->second : ind->second;
    if (!p.is_array || p.is_float) return bad(l, "its slice sizes / indices must be an integer array");
    const int a = (int)(axis < 0 ? axis + 3 : axis);
    const bool follow = known3(in);
    if (follow && (a < 0 || a > 2)) return bad(l, "axis " + std::to_string(axis) + " is out of range for a 3-D input");
    const long long C = follow ? extent(in[0], a) : 0;
    if (has_indices) {  // ncnn: top i ends at indices[i] (negative: from the end); the last top takes the rest
      if (p.values.size() + 1 != l.tops.size())
        return bad(l, "has " + std::to_string(p.values.size()) + " indices for " + std::to_string(l.tops.size()) + " tops");
      if (!follow) return true;
      long long q = 0;
      for (size_t j = 0; j < l.tops.size(); ++j) {
        long long end = C;
        if (j + 1 < l.tops.size()) {
          end = (long long)p.values[j];
          if (end < 0) end += C;
        }
        if (end - q < 1 || end > C)
          return bad(l, "index " + std::to_string((long long)(j < p.values.size() ? p.values[j] : C)) +
                            " gives an empty or out-of-range slice of " + std::to_string(C) + " " + axis_word(a));
        out[j] = with_extent(in[0], a, (int)(end - q));
        q = end;
      }
      return true;
    }
    const std::vector<double>& sizes = p.values;
    if (sizes.size() != l.tops.size())
      return bad(l, "slices into " + std::to_string(sizes.size()) + " parts, has " + std::to_string(l.tops.size()) + " tops");
    long long fixed = 0, rest = 0;
    for (double v : sizes) {
      if (v == -233) ++rest;
      else if (v >= 1) fixed += (long long)v;
      else return bad(l, "slice size " + std::to_string((long long)v) + " is neither >= 1 nor -233");
    }
    if (!follow) return true;
    if (fixed + rest > C || (rest == 0 && fixed != C))
      return bad(l, "slices " + std::to_string(fixed) + (rest ? "+" : "") + " " + axis_word(a) + " of an input with " +
                        std::to_string(C));
    long long q = 0;
    for (size_t j = 0; j < sizes.size(); ++j) {
      long long n = (long long)sizes[j];
      if (n == -233) n = (C - q) / (long long)(sizes.size() - j);
      if (n < 1) return bad(l, "a -233 slice gets nothing");
      out[j] = with_extent(in[0], a, (int)n);
      q += n;
    }
    return true;
  }

  // --- the .bin -------------------------------------------------------------------------------

  bool walk_bin(const unsigned char* bin, size_t size) {
    size_t pos = 0;
    for (const Layer& l : layers_) {
      auto it = weights_.find(&l);
      if (it == weights_.end()) continue;
      for (size_t a = 0; a < it->second.size(); ++a) {
        const long long n = it->second[a].first;
        const bool tagged = it->second[a].second;
        const std::string what = "layer " + l.type + " '" + l.name + "' (" + pname_ + " line " + std::to_string(l.line) +
                                 ") array " + std::to_string(a + 1) + " (" + std::to_string(n) + " values)";
        size_t bytes = (size_t)n * 4;
        if (tagged) {
          if (size - pos < 4) return bad_bin("cannot read " + what + ": needs its 4-byte tag at offset " + std::to_string(pos) + ", the file has " + std::to_string(size) + " bytes");
          uint32_t tag;
          memcpy(&tag, bin + pos, 4);
          pos += 4;
          if (tag == kTagFp16) bytes = ((size_t)n * 2 + 3) / 4 * 4;
          else if (tag != kTagFp32) return bad_bin("cannot read " + what + ": storage tag 0x" + hex(tag) + " at offset " + std::to_string(pos - 4) + " (fp32 or fp16 expected)");
        }
        if (bytes > size - pos)
          return bad_bin("cannot read " + what + ": needs " + std::to_string(bytes) + " bytes at offset " + std::to_string(pos) +
                         ", the file has " + std::to_string(size) + " (truncated, or not this .param's weights)");
        pos += bytes;
      }
    }
    if (pos != size)
      return bad_bin("the .param's layers read " + std::to_string(pos) + " bytes, the file has " + std::to_string(size) +
                     " (not this .param's weights)");
    return true;
  }

  bool bad_bin(const std::string& msg) const {
    fail(PYHPE_ERR_MODEL, bname_ + ": " + msg);
    return false;
  }

  static std::string hex(uint32_t v) {
    char buf[16];
    snprintf(buf, sizeof buf, "%08x", v);
    return buf;
  }

  std::string pname_, bname_, image_blob_;
  int image_size_;
  int blob_count_ = 0;
  std::vector<Layer> layers_;
  std::set<std::string> consumed_;
  std::unordered_map<std::string, Shape> blob_shape_;
  std::map<const Layer*, std::vector<std::pair<long long, bool>>> weights_;  // (values, tagged)
};

}  // namespace

namespace {
bool g_check_enabled = true;
}  // namespace

void set_model_check_enabled(bool enabled) { g_check_enabled = enabled; }

pyhpe_status check_ncnn_model(const std::string& param, const std::string& param_name, const unsigned char* bin,
                              size_t bin_size, const std::string& bin_name, const std::string& image_blob,
                              int image_size) {
  if (!g_check_enabled) return PYHPE_OK;
  Checker c(param_name, bin_name, image_blob, image_size);
  return c.run(param, bin, bin_size);
}

}  // namespace pyhpe_rt
