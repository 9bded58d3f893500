// Minimal command-line handling shared by pyhpe-infer and pyhpe-bench.
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

// "1,2" -> {1, 2}
inline std::vector<int> to_int_list(const char* prog, const char* flag, const char* v) {
  std::vector<int> out;
  std::string s(v);
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(to_int(prog, flag, item.c_str()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
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

inline void load_or_die(const char* prog, const std::string& param, const std::string& bin,
                        const pyhpe_options& opt, pyhpe_model** model) {
  pyhpe_status st = pyhpe_model_load(param.c_str(), bin.c_str(), &opt, model);
  if (st != PYHPE_OK)
    die(prog, std::string(pyhpe_status_string(st)) + ": " + pyhpe_last_error(), 10 + (int)st);
}

}  // namespace pyhpe_tools
