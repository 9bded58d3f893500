// Native tests of the C runtime's sidecar reader (csrc/runtime/src/options.cpp over the strict
// JSON reader json.cpp): the version-2 model card and version-1 sidecars give the expected
// pyhpe_options, pyhpe_options_default keeps 6DRepNet's setting, and malformed files fail with a
// message that says what is wrong while leaving the options untouched. Fuzz-ish: every
// truncation of valid sidecars, random byte mutations, random garbage and deep nesting must fail
// cleanly (the ASan/UBSan build checks that nothing reads out of bounds). No ncnn.
// Prints "isa=..." first and "N passed, M failed" last; exits non-zero on any failure.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "options.h"
#include "pyhpe/isa.h"
#include "pyhpe_runtime.h"
#include "tests/native_check.h"

namespace {

const char* kV2 = R"({
  "format": "pyhpe-deploy",
  "version": 2,
  "card": {
    "version": 1, "task": "sixd_rotation", "model": "sixdrepnet_repnext_m0", "kwargs": {}, "form": "deploy",
    "input_size": 64,
    "crop": {"kind": "margin_box", "margin": 0.2, "resize": 224},
    "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "outputs": [{"name": "R", "shape": [3, 3]}, {"name": "sixd", "shape": [6]}]
  },
  "input_name": "in0",
  "outputs": [{"name": "sixd", "blob": "out0", "shape": [6]}],
  "fp16_weights": false,
  "dynamic_batch": false
}
)";

const char* kV1 = R"({
  "format": "pyhpe-deploy",
  "version": 1,
  "model": "sixdrepnet_repnext_m4",
  "input_size": 224,
  "output": "matrix",
  "input_name": "in0",
  "output_name": "out0",
  "mean": [0.485, 0.456, 0.406],
  "std": [0.229, 0.224, 0.225],
  "fp16_weights": false,
  "dynamic_batch": false
}
)";

void check(bool ok, const std::string& what) {
  native_check::check(ok, what.c_str(), "sidecar", ok ? 0 : 1, 0);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at == std::string::npos) {
    fprintf(stderr, "test setup: '%s' not in the text\n", from.c_str());
    abort();
  }
  return s.replace(at, from.size(), to);
}

// A pyhpe_options filled with a byte pattern, to see that a failed read leaves it untouched.
pyhpe_options sentinel() {
  pyhpe_options o;
  memset(&o, 0xa5, sizeof o);
  return o;
}

pyhpe_status read(const std::string& text, pyhpe_options* out) {
  return pyhpe_rt::options_from_sidecar_text(text, "m.ncnn.json", out);
}

// `text` must fail with PYHPE_ERR_MODEL, a message containing `expect`, and *out untouched.
void expect_error(const std::string& what, const std::string& text, const std::string& expect) {
  pyhpe_options o = sentinel();
  const pyhpe_options before = o;
  const pyhpe_status st = read(text, &o);
  const std::string err = pyhpe_last_error();
  check(st == PYHPE_ERR_MODEL, what + ": status " + std::to_string(st));
  check(err.find(expect) != std::string::npos && err.find("m.ncnn.json") == 0,
        what + ": message '" + err + "' lacks '" + expect + "'");
  check(memcmp(&o, &before, sizeof o) == 0, what + ": options changed on failure");
}

void test_valid() {
  pyhpe_options d;
  pyhpe_options_default(&d);
  check(d.input_size == 224 && d.output_kind == PYHPE_OUTPUT_6D && d.num_threads == 1 &&
            d.precision == PYHPE_PRECISION_FP32 && strcmp(d.input_blob, "in0") == 0 &&
            strcmp(d.output_blob, "out0") == 0 && d.crop_kind == PYHPE_CROP_MARGIN_BOX && d.crop_margin == 0.2 &&
            d.crop_resize == 256,
        "defaults");
  check(d.mean[0] == 0.485f && d.mean[1] == 0.456f && d.mean[2] == 0.406f && d.std[0] == 0.229f &&
            d.std[1] == 0.224f && d.std[2] == 0.225f,
        "default normalisation is ImageNet's");
  check(pyhpe_rt::check_options(d) == PYHPE_OK, "defaults pass check_options");

  pyhpe_options o = sentinel();
  check(read(kV2, &o) == PYHPE_OK, std::string("v2 reads: ") + pyhpe_last_error());
  check(o.input_size == 64 && o.output_kind == PYHPE_OUTPUT_6D && strcmp(o.input_blob, "in0") == 0 &&
            strcmp(o.output_blob, "out0") == 0 && o.crop_margin == 0.2 && o.crop_resize == 224 &&
            o.num_threads == 1 && o.precision == PYHPE_PRECISION_FP32,
        "v2 fields");
  check(memcmp(o.mean, d.mean, sizeof o.mean) == 0 && memcmp(o.std, d.std, sizeof o.std) == 0,
        "v2 mean/std equal the float literals");

  std::string v2 = replace(kV2, R"("margin": 0.2, "resize": 224)", R"("margin": 0.1, "resize": 300)");
  v2 = replace(v2, R"("mean": [0.485, 0.456, 0.406])", R"("mean": [0.5, 0.25, 1e-1])");
  v2 = replace(v2, R"({"name": "sixd", "blob": "out0", "shape": [6]})",
               R"({"name": "feat", "blob": "out9", "shape": [16]}, {"name": "R", "blob": "out1", "shape": [3, 3]},
                  {"name": "sixd", "blob": "out0", "shape": [6]})");
  v2 = replace(v2, R"("input_name": "in0")", R"("input_name": "x\u00e9\/y")");
  check(read(v2, &o) == PYHPE_OK, std::string("v2 variant reads: ") + pyhpe_last_error());
  check(o.crop_margin == 0.1 && o.crop_resize == 300 && o.mean[0] == 0.5f && o.mean[1] == 0.25f && o.mean[2] == 0.1f,
        "v2 variant crop and mean");
  check(o.output_kind == PYHPE_OUTPUT_MATRIX && strcmp(o.output_blob, "out1") == 0,
        "the first graph output named sixd or R is used");
  check(strcmp(o.input_blob, "x\xc3\xa9/y") == 0, "escapes in strings are decoded");

  // Fields the format lets out take the defaults of pyhpe's Python reader (meta.py, card.py).
  std::string sparse = replace(kV2, R"("crop": {"kind": "margin_box", "margin": 0.2, "resize": 224},)", "");
  sparse = replace(sparse, R"("input_size": 64,)", "");
  sparse = replace(sparse, R"("version": 1, "task")", R"("task")");
  sparse = replace(sparse, R"("normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},)", "");
  sparse = replace(sparse, R"("input_name": "in0",)", "");
  o = sentinel();
  check(read(sparse, &o) == PYHPE_OK, std::string("a sparse v2 reads: ") + pyhpe_last_error());
  check(o.input_size == 224 && o.crop_kind == PYHPE_CROP_MARGIN_BOX && o.crop_margin == 0.2 && o.crop_resize == 256 &&
            memcmp(o.mean, d.mean, sizeof o.mean) == 0 && memcmp(o.std, d.std, sizeof o.std) == 0 &&
            strcmp(o.input_blob, "input") == 0,
        "a sparse v2 takes the card's defaults");
  o = sentinel();
  check(read(replace(kV2, R"({"kind": "margin_box", "margin": 0.2, "resize": 224})", R"({"kind": "none"})"), &o) ==
                PYHPE_OK &&
            o.crop_kind == PYHPE_CROP_NONE && o.crop_margin == 0.2 && o.crop_resize == 256,
        "crop kind none");

  o = sentinel();
  check(read(kV1, &o) == PYHPE_OK, std::string("v1 reads: ") + pyhpe_last_error());
  check(o.input_size == 224 && o.output_kind == PYHPE_OUTPUT_MATRIX && strcmp(o.input_blob, "in0") == 0 &&
            strcmp(o.output_blob, "out0") == 0 && o.crop_margin == 0.2 && o.crop_resize == 256 &&
            memcmp(o.mean, d.mean, sizeof o.mean) == 0 && memcmp(o.std, d.std, sizeof o.std) == 0,
        "v1 fields, crop margin 0.2 and resize 256");
  o = sentinel();
  check(read(replace(kV1, R"("output": "matrix")", R"("output": "6d")"), &o) == PYHPE_OK &&
            o.output_kind == PYHPE_OUTPUT_6D,
        "v1 6d");
  check(read(" \t\r\n" + std::string(kV1) + "\n\n ", &o) == PYHPE_OK, "whitespace around the value");
  std::string v1 = replace(kV1, R"("output": "matrix",)", "");
  v1 = replace(v1, R"("input_name": "in0",)", "");
  v1 = replace(v1, R"("output_name": "out0",)", "");
  v1 = replace(v1, R"("mean": [0.485, 0.456, 0.406],)", "");
  v1 = replace(v1, R"("std": [0.229, 0.224, 0.225],)", "");
  o = sentinel();
  check(read(v1, &o) == PYHPE_OK && o.output_kind == PYHPE_OUTPUT_6D && strcmp(o.input_blob, "input") == 0 &&
            strcmp(o.output_blob, "output") == 0 && memcmp(o.mean, d.mean, sizeof o.mean) == 0 &&
            memcmp(o.std, d.std, sizeof o.std) == 0,
        "a sparse v1 takes meta.py's defaults");
}

void test_malformed() {
  const std::string v2 = kV2, v1 = kV1;
  expect_error("empty", "", "not valid JSON: line 1, column 1: expected a value, found the end of the file");
  expect_error("garbage", "garbage\n", "not valid JSON");
  expect_error("array", "[1, 2]", "the JSON value is an array, not an object");
  expect_error("format", replace(v2, "pyhpe-deploy", "onnx-meta"), "not a pyhpe-deploy sidecar");
  expect_error("no format", replace(v2, R"("format": "pyhpe-deploy",)", ""), "not a pyhpe-deploy sidecar");
  expect_error("version 3", replace(v2, R"("version": 2)", R"("version": 3)"),
               "sidecar version 3 is unknown (this runtime reads versions 1 and 2)");
  expect_error("version string", replace(v2, R"("version": 2)", R"("version": "2")"),
               "version must be a number, got a string");
  expect_error("version 2.0", replace(v2, R"("version": 2)", R"("version": 2.0)"), "version must be an integer");
  expect_error("no card", replace(v2, R"("card": {)", R"("kard": {)"), "card is missing");
  expect_error("card version", replace(v2, R"("version": 1, "task")", R"("version": 2, "task")"),
               "card.version 2 is unknown");
  expect_error("no task", replace(v2, R"("task": "sixd_rotation",)", ""), "card.task is missing");
  expect_error("task", replace(v2, "sixd_rotation", "sixdof"), "card.task is \"sixdof\"");
  expect_error("input size", replace(v2, R"("input_size": 64)", R"("input_size": 8)"),
               "card.input_size must be an integer in [16, 4096], got 8");
  expect_error("input size float", replace(v2, R"("input_size": 64)", R"("input_size": 64.5)"),
               "card.input_size must be an integer");
  expect_error("crop kind", replace(v2, "margin_box", "square"), "card.crop.kind is \"square\"");
  expect_error("crop type", replace(v2, R"({"kind": "margin_box", "margin": 0.2, "resize": 224})", "[]"),
               "card.crop must be an object, got an array");
  expect_error("crop margin type", replace(v2, R"("margin": 0.2)", R"("margin": "0.2")"),
               "card.crop.margin must be a number, got a string");
  expect_error("crop margin range", replace(v2, R"("margin": 0.2)", R"("margin": -0.1)"),
               "card.crop.margin must lie in [0, 1], got -0.1");
  expect_error("crop resize", replace(v2, R"("resize": 224)", R"("resize": 200)"),
               "card.crop.resize must be an integer in [224, 4096], got 200");
  expect_error("std zero", replace(v2, "0.229", "0"), "card.normalize.std must hold positive");
  expect_error("mean count", replace(v2, "[0.485, 0.456, 0.406]", "[0.485, 0.456]"),
               "card.normalize.mean must hold 3 numbers");
  expect_error("mean type", replace(v2, "[0.485, 0.456, 0.406]", "[0.485, null, 0.406]"),
               "card.normalize.mean must hold numbers, got null");
  expect_error("mean overflow", replace(v2, "0.485", "1e39"), "card.normalize.mean must hold finite");
  expect_error("no sixd or R", replace(v2, R"("name": "sixd", "blob")", R"("name": "yaw", "blob")"),
               "outputs has no graph output named \"sixd\" or \"R\"");
  expect_error("sixd shape", replace(v2, R"("blob": "out0", "shape": [6])", R"("blob": "out0", "shape": [9])"),
               "outputs[0].shape must be [6]");
  expect_error("R shape", replace(v2, R"("name": "sixd", "blob": "out0", "shape": [6])",
                                  R"("name": "R", "blob": "out0", "shape": [9])"),
               "outputs[0].shape must be [3, 3]");
  expect_error("output entry", replace(v2, R"([{"name": "sixd", "blob": "out0", "shape": [6]}])", "[7]"),
               "outputs[0] must be an object, got a number");
  expect_error("blob name long", replace(v2, R"("blob": "out0")", "\"blob\": \"" + std::string(64, 'b') + "\""),
               "outputs[0].blob must be a blob name of 1 to 63 bytes");
  expect_error("blob name empty", replace(v2, R"("input_name": "in0")", R"("input_name": "")"),
               "input_name must be a blob name");
  expect_error("fp16 flag", replace(v2, R"("fp16_weights": false)", R"("fp16_weights": 0)"),
               "fp16_weights must be a boolean, got a number");
  expect_error("v1 output", replace(v1, R"("output": "matrix")", R"("output": "euler")"),
               "output must be \"6d\" or \"matrix\", got \"euler\"");
  expect_error("v1 no input_size", replace(v1, R"("input_size": 224,)", ""), "input_size is missing");
  expect_error("v1 std type", replace(v1, R"("std": [0.229, 0.224, 0.225])", R"("std": {})"),
               "std must be an array, got an object");
  expect_error("no outputs", replace(v2, R"("outputs": [{"name": "sixd", "blob": "out0", "shape": [6]}],)", ""),
               "outputs is missing");
  // JSON syntax (strict)
  expect_error("trailing comma", replace(v2, R"("dynamic_batch": false)", R"("dynamic_batch": false,)"),
               "expected a string key, found '}'");
  expect_error("comment", replace(v2, R"("input_name": "in0",)", R"("input_name": "in0", // x)"),
               "expected a string key, found '/'");
  expect_error("duplicate key", replace(v2, R"("input_name": "in0",)", R"("input_name": "in0", "input_name": "a",)"),
               "duplicate key \"input_name\"");
  expect_error("single quotes", replace(v2, R"("in0")", "'in0'"), "expected a value, found '''");
  expect_error("NaN", replace(v2, "0.485", "NaN"), "expected a value, found 'N'");
  expect_error("leading zero", replace(v2, R"("input_size": 64)", R"("input_size": 064)"), "expected ',' or '}'");
  expect_error("plus sign", replace(v2, "0.485", "+0.485"), "expected a value, found '+'");
  expect_error("bare dot", replace(v2, "0.485", "0."), "expected a digit after '.'");
  expect_error("exponent", replace(v2, "0.485", "1e"), "expected a digit in the exponent");
  expect_error("huge number", replace(v2, "0.485", "1e999"), "number out of range");
  expect_error("control char", replace(v2, R"("in0")", "\"in\t0\""), "raw control character in a string");
  expect_error("bad escape", replace(v2, R"("in0")", R"("in\x0")"), "invalid escape in a string");
  expect_error("lone surrogate", replace(v2, R"("in0")", R"("\ud800x")"), "unpaired high surrogate");
  expect_error("low surrogate", replace(v2, R"("in0")", R"("\udc00")"), "unpaired low surrogate");
  expect_error("bad hex", replace(v2, R"("in0")", R"("\u12g4")"), "invalid \\u escape");
  expect_error("nul escape", replace(v2, R"("in0")", R"("\u0000")"), "\\u0000 in a string");
  expect_error("bad utf-8", replace(v2, R"("in0")", "\"in\xff\""), "invalid UTF-8 in a string");
  expect_error("overlong utf-8", replace(v2, R"("in0")", "\"\xc0\xaf\""), "invalid UTF-8");
  expect_error("utf-8 surrogate", replace(v2, R"("in0")", "\"\xed\xa0\x80\""), "invalid UTF-8");
  expect_error("truncated utf-8", replace(v2, R"("in0")", "\"\xe2\x82\""), "invalid UTF-8");
  expect_error("two values", v2 + "{}", "unexpected text after the JSON value");
  expect_error("nul byte", v2 + std::string(1, '\0'), "unexpected text after the JSON value");
  expect_error("line and column", replace(v2, R"("input_name": "in0",)", R"("input_name": "in0" "x",)"),
               "line 11, column 23: expected ',' or '}', found '\"'");
  expect_error("tru", replace(v2, "false", "fals"), "expected a value, found 'f'");
  // nesting far deeper than any sidecar: refused, not a stack overflow
  expect_error("deep nesting", std::string(200000, '['), "nested deeper than 32 levels");
  expect_error("deep objects", replace(v2, R"("kwargs": {})", "\"kwargs\": " + std::string(40, '[') + std::string(40, ']')),
               "nested deeper than 32 levels");
}

// Every proper prefix of a valid sidecar that cuts into its JSON value fails; the rest parse.
void test_truncations() {
  for (const char* text : {kV1, kV2}) {
    const std::string s = text;
    const size_t end = s.rfind('}') + 1;
    for (size_t n = 0; n < s.size(); ++n) {
      pyhpe_options o = sentinel();
      const pyhpe_status st = read(s.substr(0, n), &o);
      if (n < end) {
        check(st == PYHPE_ERR_MODEL && strlen(pyhpe_last_error()) > 0,
              "truncated at " + std::to_string(n) + " bytes fails with a message");
      } else {
        check(st == PYHPE_OK, "the value with part of its trailing whitespace parses");
      }
    }
  }
}

// Random damage: never a crash; a failure always has a message and leaves the options alone; a
// success always gives options pyhpe_model_load accepts.
void test_mutations() {
  std::mt19937 rng(7);
  for (const char* text : {kV1, kV2}) {
    const std::string s = text;
    for (int it = 0; it < 3000; ++it) {
      std::string m = s;
      const int edits = 1 + (int)(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        const size_t at = rng() % m.size();
        switch (rng() % 4) {
          case 0: m[at] = (char)(rng() % 256); break;                                      // any byte
          case 1: m[at] = "{}[]\",:0123456789.eE-+tfn \\u"[rng() % 29]; break;             // JSON syntax
          case 2: m.erase(at, 1 + rng() % 8); break;
          default: m.insert(at, 1, "{[\",:"[rng() % 5]); break;
        }
        if (m.empty()) m = "x";
      }
      pyhpe_options o = sentinel();
      const pyhpe_options before = o;
      const pyhpe_status st = read(m, &o);
      if (st == PYHPE_OK) {
        check(pyhpe_rt::check_options(o) == PYHPE_OK, "a mutated sidecar that reads gives valid options");
      } else {
        check(st == PYHPE_ERR_MODEL && strlen(pyhpe_last_error()) > 0 && memcmp(&o, &before, sizeof o) == 0,
              "a mutated sidecar fails cleanly");
      }
    }
  }
  for (int it = 0; it < 2000; ++it) {
    std::string g(rng() % 200, '\0');
    for (char& c : g) c = (char)(rng() % 256);
    pyhpe_options o = sentinel();
    check(read(g, &o) == PYHPE_ERR_MODEL && strlen(pyhpe_last_error()) > 0, "random bytes fail with a message");
  }
}

// The file entry point: missing files, NULL arguments, oversized files, a real file.
void test_files() {
  pyhpe_options o = sentinel();
  check(pyhpe_options_from_sidecar("/nonexistent/m.ncnn.json", &o) == PYHPE_ERR_IO &&
            strstr(pyhpe_last_error(), "/nonexistent/m.ncnn.json: cannot open"),
        "a missing file is a file error");
  check(pyhpe_options_from_sidecar(nullptr, &o) == PYHPE_ERR_ARGUMENT, "NULL path");
  check(pyhpe_options_from_sidecar("x", nullptr) == PYHPE_ERR_ARGUMENT, "NULL output");
  char path[] = "/tmp/pyhpe_sidecar_XXXXXX";
  const int fd = mkstemp(path);
  check(fd >= 0, "temporary file");
  if (fd < 0) return;
  close(fd);
  FILE* f = fopen(path, "wb");
  fputs(kV2, f);
  fclose(f);
  check(pyhpe_options_from_sidecar(path, &o) == PYHPE_OK && o.input_size == 64, "a sidecar file reads");
  f = fopen(path, "wb");
  const std::string big((1 << 20) + 10, ' ');
  fwrite(big.data(), 1, big.size(), f);
  fclose(f);
  o = sentinel();
  check(pyhpe_options_from_sidecar(path, &o) == PYHPE_ERR_MODEL && strstr(pyhpe_last_error(), "larger than"),
        "a file over 1 MiB is refused");
  remove(path);
}

// A 6DoF (TRGv2) sidecar as pyhpe export writes it: the camera input and four outputs.
const char* kSixDoF = R"({
  "format": "pyhpe-deploy", "version": 2,
  "card": {"version": 1, "task": "trgv2_6dof", "model": "trgv2_repnext_m0", "kwargs": {}, "form": "deploy",
           "input_size": 64, "crop": {"kind": "landmark_box", "margin": 0.5, "resize": 224},
           "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}},
  "kind": "6dof", "input_name": "in0",
  "outputs": [{"name": "sixd", "blob": "out0", "shape": [6]}, {"name": "correction", "blob": "out1", "shape": [3]},
              {"name": "vertices", "blob": "out2", "shape": [652, 3]},
              {"name": "landmarks", "blob": "out3", "shape": [68, 2]}],
  "fp16_weights": false, "dynamic_batch": false,
  "inputs": [{"name": "camera", "blob": "in1", "shape": [11],
              "layout": ["left", "top", "right", "bottom", "f", "height", "width", "fx_crop", "fy_crop", "cx_crop", "cy_crop"]}]
})";

void test_sixdof() {
  pyhpe_options d;
  pyhpe_options_default(&d);
  check(d.model_kind == PYHPE_MODEL_ROTATION && d.crop_convention == PYHPE_CONVENTION_PYHPE &&
            d.translation_form == PYHPE_FORM_PAPER && strcmp(d.camera_blob, "in1") == 0 &&
            strcmp(d.landmarks_blob, "out3") == 0,
        "6DoF defaults: a rotation model, pnnx's blob names");
  pyhpe_options o = sentinel();
  check(read(kSixDoF, &o) == PYHPE_OK, std::string("6dof reads: ") + pyhpe_last_error());
  check(o.model_kind == PYHPE_MODEL_6DOF && o.crop_kind == PYHPE_CROP_LANDMARK_BOX && o.crop_margin == 0.5 &&
            o.crop_convention == PYHPE_CONVENTION_PYHPE && o.translation_form == PYHPE_FORM_PAPER &&
            o.num_vertices == 652 && o.input_size == 64 && strcmp(o.input_blob, "in0") == 0 &&
            strcmp(o.camera_blob, "in1") == 0 && strcmp(o.output_blob, "out0") == 0 &&
            strcmp(o.correction_blob, "out1") == 0 && strcmp(o.vertices_blob, "out2") == 0 &&
            strcmp(o.landmarks_blob, "out3") == 0,
        "6dof fields");
  check(pyhpe_rt::check_options(o) == PYHPE_OK, std::string("6dof options pass check_options: ") + pyhpe_last_error());
  // the official variant: the card's crop convention and Eq. 3 form; blobs by name, in any order
  std::string off = replace(kSixDoF, R"("resize": 224})", R"("resize": 224, "convention": "official"})");
  off = replace(off, R"("kwargs": {})", R"("kwargs": {"form": "official", "topology": "arkit"})");
  off = replace(off, R"({"name": "sixd", "blob": "out0", "shape": [6]}, )", "");
  off = replace(off, R"({"name": "landmarks", "blob": "out3", "shape": [68, 2]}])",
                R"({"name": "landmarks", "blob": "out3", "shape": [68, 2]}, {"name": "sixd", "blob": "s", "shape": [6]}])");
  o = sentinel();
  check(read(off, &o) == PYHPE_OK, std::string("official 6dof reads: ") + pyhpe_last_error());
  check(o.crop_convention == PYHPE_CONVENTION_OFFICIAL && o.translation_form == PYHPE_FORM_OFFICIAL &&
            strcmp(o.output_blob, "s") == 0,
        "official convention, form and the sixd blob by name");
  expect_error("6dof: bad convention", replace(kSixDoF, R"("resize": 224})", R"("resize": 224, "convention": "x"})"),
               "card.crop.convention");
  expect_error("6dof: bad form", replace(kSixDoF, R"("kwargs": {})", R"("kwargs": {"form": "y"})"), "card.kwargs.form");
  expect_error("6dof: another crop", replace(kSixDoF, R"("kind": "landmark_box")", R"("kind": "margin_box")"),
               "landmark_box");
  expect_error("6dof: no camera input", replace(kSixDoF, R"("inputs": [)", R"("inputs_": [)"), "inputs is missing");
  expect_error("6dof: camera layout", replace(kSixDoF, R"("cx_crop", "cy_crop")", R"("cy_crop", "cx_crop")"),
               "inputs[0].layout");
  expect_error("6dof: camera shape", replace(kSixDoF, R"("shape": [11])", R"("shape": [12])"), "inputs[0].shape");
  expect_error("6dof: vertices shape", replace(kSixDoF, "[652, 3]", "[652, 2]"), "outputs[2].shape");
  expect_error("6dof: negative V", replace(kSixDoF, "[652, 3]", "[-5, 3]"), "outputs[2].shape");
  expect_error("6dof: no landmarks", replace(kSixDoF, R"("name": "landmarks")", R"("name": "lmk")"),
               "no graph output named \"landmarks\"");
  // options by hand: a 6DoF model needs the landmark box, and the landmark box a 6DoF model
  o = d;
  o.crop_kind = PYHPE_CROP_LANDMARK_BOX;
  check(pyhpe_rt::check_options(o) == PYHPE_ERR_ARGUMENT, "landmark_box on a rotation model is refused");
  o.model_kind = PYHPE_MODEL_6DOF;
  check(pyhpe_rt::check_options(o) == PYHPE_OK, "landmark_box on a 6DoF model passes");
  o.crop_convention = 7;
  check(pyhpe_rt::check_options(o) == PYHPE_ERR_ARGUMENT, "an unknown convention is refused");
  // every truncation of the 6DoF sidecar fails cleanly
  const std::string full = kSixDoF;
  for (size_t n = 0; n + 1 < full.size(); n += 7) {
    pyhpe_options t = sentinel();
    const pyhpe_options before = t;
    if (read(full.substr(0, n), &t) == PYHPE_OK || memcmp(&t, &before, sizeof t) != 0) {
      check(false, "6dof truncation at " + std::to_string(n));
      break;
    }
  }
}

}  // namespace

int main() {
  printf("isa=%s sidecar reader\n", PYHPE_ISA_NAME);
  test_valid();
  test_malformed();
  test_truncations();
  test_mutations();
  test_files();
  test_sixdof();
  return native_check::finish();
}
