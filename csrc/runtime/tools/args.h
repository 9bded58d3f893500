// Minimal command-line handling shared by the runtime's tools.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "pyhpe_runtime.h"

namespace pyhpe_tools {

[[noreturn]] inline void die(const char* prog, const std::string& message, int code = 2) {
  fprintf(stderr, "%s: error: %s\n", prog, message.c_str());
  exit(code);
}

inline int to_int(const char* prog, const char* flag, const char* v) {
  char* end = nullptr;
  long x = strtol(v, &end, 10);
  if (!*v || *end) die(prog, std::string(flag) + " expects an integer, got '" + v + "'");
  return (int)x;
}

inline float to_float(const char* prog, const char* flag, const char* v) {
  char* end = nullptr;
  float x = strtof(v, &end);
  if (!*v || *end) die(prog, std::string(flag) + " expects a number, got '" + v + "'");
  return x;
}

inline double to_double(const char* prog, const char* flag, const char* v) {
  char* end = nullptr;
  double x = strtod(v, &end);
  if (!*v || *end) die(prog, std::string(flag) + " expects a number, got '" + v + "'");
  return x;
}

// "a,b,c" -> {parse("a"), parse("b"), parse("c")}
template <class T, class Parse>
std::vector<T> split_list(const char* v, Parse parse) {
  std::vector<T> out;
  std::string s(v);
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(parse(item.c_str()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// "1,2" -> {1, 2}
inline std::vector<int> to_int_list(const char* prog, const char* flag, const char* v) {
  return split_list<int>(v, [&](const char* item) { return to_int(prog, flag, item); });
}

// "1.5,2,3" -> {1.5, 2, 3}
inline std::vector<float> to_float_list(const char* prog, const char* flag, const char* v) {
  return split_list<float>(v, [&](const char* item) { return to_float(prog, flag, item); });
}

// "<stem>.param" -> "<stem>.bin"
inline std::string bin_for(const std::string& param) {
  const std::string suffix = ".param";
  if (param.size() > suffix.size() && param.compare(param.size() - suffix.size(), suffix.size(), suffix) == 0)
    return param.substr(0, param.size() - suffix.size()) + ".bin";
  return param + ".bin";
}

// "<stem>.ncnn.param" -> "<stem>.fused.ncnn.param" (pyhpe export's fused-mixer pair, written by
// pyhpe/export/ncnn_fuse.py); a path that already names a fused model is kept. "" if no such name.
inline std::string fused_param_for(const std::string& param) {
  const std::string fused = ".fused.ncnn.param", plain = ".ncnn.param";
  auto ends = [&](const std::string& suffix) {
    return param.size() > suffix.size() && param.compare(param.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends(fused)) return param;
  if (ends(plain)) return param.substr(0, param.size() - plain.size()) + fused;
  return "";
}

// Walks a tool's command line:
//   for (ArgParser a(kProg, argc, argv); a.next();) {
//     if (a.is("--bin")) bin = a.value();
//     else if (a.is("--threads")) threads = a.int_value();
//     else a.positional(&param);  // dies for an unknown option or one argument too many
//   }
class ArgParser {
 public:
  ArgParser(const char* prog, int argc, char** argv) : prog_(prog), argc_(argc), argv_(argv) {}

  // Moves to the next argument; false after the last.
  bool next() {
    if (++i_ >= argc_) return false;
    cur_ = argv_[i_];
    return true;
  }
  const std::string& arg() const { return cur_; }
  bool is(const char* flag) const { return cur_ == flag; }
  bool help() const { return cur_ == "-h" || cur_ == "--help"; }

  // The value after the current flag, or the end of the tool when it is missing.
  const char* value() {
    need(1);
    return argv_[++i_];
  }
  // Dies unless n values follow the current flag.
  void need(int n) const {
    if (i_ + n >= argc_) die(prog_, cur_ + (n == 1 ? " needs a value" : " needs " + std::to_string(n) + " value(s)"));
  }
  int int_value() { return to_int(prog_, cur_.c_str(), value()); }
  std::vector<float> float_list() { return to_float_list(prog_, cur_.c_str(), value()); }
  float float_value() { return to_float(prog_, cur_.c_str(), value()); }
  double double_value() { return to_double(prog_, cur_.c_str(), value()); }
  std::vector<int> int_list() { return to_int_list(prog_, cur_.c_str(), value()); }

  [[noreturn]] void unknown() const { die(prog_, "unknown option " + cur_); }
  // The current argument as the positional one (if *slot is still empty), or the end of the tool.
  void positional(std::string* slot) const {
    if (!cur_.empty() && cur_[0] == '-') unknown();
    if (!slot->empty()) die(prog_, "unexpected argument " + cur_);
    *slot = cur_;
  }
  void positional(std::vector<std::string>* list) const {
    if (!cur_.empty() && cur_[0] == '-') unknown();
    list->push_back(cur_);
  }

 private:
  const char* prog_;
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string cur_;
};

// The sidecar pyhpe export writes beside a model: "<stem>.ncnn.param" -> "<stem>.ncnn.json"
// (also for "<stem>.fused.ncnn.param"), "<stem>.param" -> "<stem>.json" (pyhpe/runtime/meta.py).
inline std::string sidecar_for(const std::string& param) {
  const std::string suffix = ".param";
  if (param.size() > suffix.size() && param.compare(param.size() - suffix.size(), suffix.size(), suffix) == 0)
    return param.substr(0, param.size() - suffix.size()) + ".json";
  return param + ".json";
}

inline bool file_exists(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f) fclose(f);
  return f != nullptr;
}

// The model options of the command line: the sidecar beside the .param when it exists (or the
// one --sidecar names; none with --no-sidecar), then the flags given explicitly.
struct ModelFlags {
  std::string sidecar;
  bool no_sidecar = false;
  pyhpe_options set{};               // the values of the flags given...
  bool has_input_size = false, has_output_kind = false, has_crop_margin = false, has_crop_resize = false;  // ...which

  static constexpr const char* kUsage =
      "[--sidecar JSON | --no-sidecar] [--input-size S] [--matrix] [--crop-margin K] [--crop-resize N]";

  // Consumes the parser's current flag (and its value) if it is one of these.
  bool parse(ArgParser& a) {
    if (a.is("--sidecar")) sidecar = a.value();
    else if (a.is("--no-sidecar")) no_sidecar = true;
    else if (a.is("--input-size")) has_input_size = (set.input_size = a.int_value(), true);
    else if (a.is("--matrix")) has_output_kind = (set.output_kind = PYHPE_OUTPUT_MATRIX, true);
    else if (a.is("--crop-margin")) has_crop_margin = (set.crop_margin = a.double_value(), true);
    else if (a.is("--crop-resize")) has_crop_resize = (set.crop_resize = a.int_value(), true);
    else return false;
    return true;
  }

  // pyhpe_options for the model `param` (exit 10 + status when its sidecar cannot be read).
  pyhpe_options options(const char* prog, const std::string& param) const {
    if (no_sidecar && !sidecar.empty()) die(prog, "give --sidecar or --no-sidecar, not both");
    pyhpe_options opt;
    pyhpe_options_default(&opt);
    std::string path = sidecar;
    if (path.empty() && !no_sidecar && file_exists(sidecar_for(param))) path = sidecar_for(param);
    if (!path.empty()) {
      pyhpe_status st = pyhpe_options_from_sidecar(path.c_str(), &opt);
      if (st != PYHPE_OK) die(prog, std::string(pyhpe_status_string(st)) + ": " + pyhpe_last_error(), 10 + (int)st);
    }
    if (has_input_size) opt.input_size = set.input_size;
    if (has_output_kind) opt.output_kind = set.output_kind;
    if (has_crop_margin) opt.crop_margin = set.crop_margin;
    if (has_crop_resize) opt.crop_resize = set.crop_resize;
    return opt;
  }
};

inline void load_or_die(const char* prog, const std::string& param, const std::string& bin,
                        const pyhpe_options& opt, pyhpe_model** model) {
  pyhpe_status st = pyhpe_model_load(param.c_str(), bin.c_str(), &opt, model);
  if (st != PYHPE_OK)
    die(prog, std::string(pyhpe_status_string(st)) + ": " + pyhpe_last_error(), 10 + (int)st);
}

}  // namespace pyhpe_tools
