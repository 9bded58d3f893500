// pyhpe_options: the defaults, their checks, and reading them from an export sidecar (the model
// card of `pyhpe export`, pyhpe/runtime/meta.py) with the strict JSON reader of json.h.
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <locale>
#include <sstream>

#include "json.h"
#include "status.h"

namespace pyhpe_rt {

namespace {

using json::Value;

constexpr size_t kMaxSidecarBytes = 1 << 20;

// Field access with messages that name the file and the field's path (e.g. "card.crop.margin").
class SidecarReader {
 public:
  explicit SidecarReader(std::string file) : file_(std::move(file)) {}

  const std::string& error() const { return error_; }

  bool bad(const std::string& path, const std::string& problem) {
    if (error_.empty()) error_ = file_ + ": " + (path.empty() ? "" : path + " ") + problem;
    return false;
  }

  // Fields the format gives a default (as pyhpe/runtime/meta.py and pyhpe/models/card.py read
  // them): the readers below keep *out when such a field is absent.
  enum Presence { kRequired, kOptional };

  // obj[key] of the given type; nullptr (error set) when it is missing or of another type.
  const Value* need(const Value& obj, const std::string& path, const char* key, Value::Type type) {
    const std::string where = join(path, key);
    const Value* v = obj.find(key);
    if (!v) {
      bad(where, "is missing");
      return nullptr;
    }
    if (v->type != type) {
      bad(where, std::string("must be ") + json::type_name(type) + ", got " + json::type_name(v->type));
      return nullptr;
    }
    return v;
  }

  // obj[key] of `type`, or nullptr: absent where `presence` allows it (error() stays empty), or
  // missing or mistyped (error() set).
  const Value* field(const Value& obj, const std::string& path, const char* key, Value::Type type,
                     Presence presence) {
    return presence == kOptional && !obj.find(key) ? nullptr : need(obj, path, key, type);
  }

  bool string(const Value& obj, const std::string& path, const char* key, std::string* out,
              Presence presence = kRequired) {
    const Value* v = field(obj, path, key, Value::kString, presence);
    if (!v) return error_.empty();
    *out = v->text;
    return true;
  }

  // An integer (JSON number without fraction or exponent) in [lo, hi].
  bool integer(const Value& obj, const std::string& path, const char* key, int lo, int hi, int* out,
               Presence presence = kRequired) {
    const Value* v = field(obj, path, key, Value::kNumber, presence);
    if (!v) return error_.empty();
    if (v->text.find_first_of(".eE") != std::string::npos || v->number < lo || v->number > hi)
      return bad(join(path, key), "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                      "], got " + v->text);
    *out = (int)v->number;
    return true;
  }

  bool number(const Value& obj, const std::string& path, const char* key, double lo, double hi, double* out,
              Presence presence = kRequired) {
    const Value* v = field(obj, path, key, Value::kNumber, presence);
    if (!v) return error_.empty();
    if (!(v->number >= lo && v->number <= hi))
      return bad(join(path, key), "must lie in [" + fmt(lo) + ", " + fmt(hi) + "], got " + v->text);
    *out = v->number;
    return true;
  }

  // Three numbers, each read as a float straight from its text (as a C++ float literal is), finite,
  // and positive when `positive`.
  bool floats3(const Value& obj, const std::string& path, const char* key, bool positive, float out[3],
               Presence presence = kRequired) {
    const Value* v = field(obj, path, key, Value::kArray, presence);
    if (!v) return error_.empty();
    const std::string where = join(path, key);
    if (v->items.size() != 3) return bad(where, "must hold 3 numbers (R, G, B), got " + std::to_string(v->items.size()));
    float f[3];
    for (int i = 0; i < 3; ++i) {
      const Value& item = v->items[i];
      if (item.type != Value::kNumber) return bad(where, std::string("must hold numbers, got ") + json::type_name(item.type));
      std::istringstream in(item.text);
      in.imbue(std::locale::classic());
      in >> f[i];
      if (in.fail() || !isfinite(f[i]) || (positive && !(f[i] > 0)))
        return bad(where, std::string("must hold ") + (positive ? "positive " : "") + "finite float32 values, got " +
                              item.text);
    }
    memcpy(out, f, sizeof f);
    return true;
  }

  // A blob name: a non-empty string that fits pyhpe_options' 64-byte field.
  bool blob(const Value& obj, const std::string& path, const char* key, char (&out)[64],
            Presence presence = kRequired) {
    std::string s;
    if (!obj.find(key) && presence == kOptional) return true;
    if (!string(obj, path, key, &s)) return false;
    if (s.empty() || s.size() >= sizeof out || s.find('\0') != std::string::npos)
      return bad(join(path, key), "must be a blob name of 1 to 63 bytes, got \"" + s + "\"");
    memcpy(out, s.c_str(), s.size() + 1);
    return true;
  }

  // An optional boolean (absent is fine).
  bool optional_bool(const Value& obj, const std::string& path, const char* key) {
    field(obj, path, key, Value::kBool, kOptional);
    return error_.empty();
  }

  // An array of integers equal to `want` (a tensor shape).
  bool shape(const Value& obj, const std::string& path, const char* key, const std::vector<int>& want) {
    const Value* v = need(obj, path, key, Value::kArray);
    if (!v) return false;
    bool ok = v->items.size() == want.size();
    for (size_t i = 0; ok && i < want.size(); ++i)
      ok = v->items[i].type == Value::kNumber && v->items[i].text == std::to_string(want[i]);
    if (ok) return true;
    std::string w = "[";
    for (size_t i = 0; i < want.size(); ++i) w += (i ? ", " : "") + std::to_string(want[i]);
    return bad(join(path, key), "must be " + w + "]");
  }

  static std::string join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

 private:
  static std::string fmt(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  std::string file_;
  std::string error_;
};

using Presence = SidecarReader::Presence;
constexpr Presence kOptional = SidecarReader::kOptional;

// The precision the model was exported for (pyhpe export --precision: "fp32", "fp16" or "bf16";
// absent: left as it is, fp32 by default), the model's default precision (pyhpe_model_set_precision
// and the tools' flags override it).
bool read_precision(SidecarReader& r, const Value& root, pyhpe_options* o) {
  if (!root.find("precision")) return true;
  std::string p;
  if (!r.string(root, "", "precision", &p)) return false;
  if (p == "fp32") o->precision = PYHPE_PRECISION_FP32;
  else if (p == "fp16") o->precision = PYHPE_PRECISION_FP16;
  else if (p == "bf16") o->precision = PYHPE_PRECISION_BF16;
  else return r.bad("precision", "must be \"fp32\", \"fp16\" or \"bf16\", got \"" + p + "\"");
  return true;
}

// Version 1: the flat format of the first exports; 6DRepNet's crop (margin 0.2, resize 256).
// Defaults as pyhpe/runtime/meta.py reads it: output "6d", blobs "input"/"output", ImageNet.
bool read_v1(SidecarReader& r, const Value& root, pyhpe_options* o) {
  std::string output = "6d";
  strcpy(o->input_blob, "input");
  strcpy(o->output_blob, "output");
  if (!r.integer(root, "", "input_size", 16, 4096, &o->input_size) || !r.string(root, "", "output", &output, kOptional))
    return false;
  if (output == "6d") o->output_kind = PYHPE_OUTPUT_6D;
  else if (output == "matrix") o->output_kind = PYHPE_OUTPUT_MATRIX;
  else return r.bad("output", "must be \"6d\" or \"matrix\", got \"" + output + "\"");
  return r.blob(root, "", "input_name", o->input_blob, kOptional) &&
         r.blob(root, "", "output_name", o->output_blob, kOptional) &&
         r.floats3(root, "", "mean", false, o->mean, kOptional) && r.floats3(root, "", "std", true, o->std, kOptional) &&
         r.optional_bool(root, "", "fp16_weights") && r.optional_bool(root, "", "dynamic_batch") &&
         read_precision(r, root, o);
}

// The card's crop rule (pyhpe/models/card.py CropRule; absent fields keep 6DRepNet's values).
bool read_crop(SidecarReader& r, const Value& card, pyhpe_options* o) {
  const Value* crop = card.find("crop");
  if (!crop) return true;
  if (crop->type != Value::kObject)
    return r.bad("card.crop", std::string("must be an object, got ") + json::type_name(crop->type));
  std::string kind = "margin_box";
  if (!r.string(*crop, "card.crop", "kind", &kind, kOptional)) return false;
  if (kind == "margin_box") o->crop_kind = PYHPE_CROP_MARGIN_BOX;
  else if (kind == "none") o->crop_kind = PYHPE_CROP_NONE;
  else if (kind == "landmark_box") o->crop_kind = PYHPE_CROP_LANDMARK_BOX;
  else return r.bad("card.crop.kind", "is \"" + kind + "\": this runtime knows the crop kinds margin_box, none "
                                      "and landmark_box");
  std::string convention = "pyhpe";
  if (!r.string(*crop, "card.crop", "convention", &convention, kOptional)) return false;
  if (convention == "pyhpe") o->crop_convention = PYHPE_CONVENTION_PYHPE;
  else if (convention == "official") o->crop_convention = PYHPE_CONVENTION_OFFICIAL;
  else return r.bad("card.crop.convention", "must be \"pyhpe\" or \"official\", got \"" + convention + "\"");
  return r.number(*crop, "card.crop", "margin", 0.0, 1.0, &o->crop_margin, kOptional) &&
         r.integer(*crop, "card.crop", "resize", 224, 4096, &o->crop_resize, kOptional);
}

// pyhpe/tasks/trgv2_6dof.py CAMERA_LAYOUT: the camera vector this runtime computes.
const char* const kCameraLayout[PYHPE_CAMERA_SIZE] = {"left", "top", "right", "bottom", "f", "height", "width",
                                                      "fx_crop", "fy_crop", "cx_crop", "cy_crop"};

// A 6DoF graph's blobs (the sidecar's "inputs" and "outputs" of deploy kind "6dof") and the
// card's Eq. 3 form (kwargs "form", default "paper").
bool read_6dof(SidecarReader& r, const Value& root, const Value& card, pyhpe_options* o) {
  o->model_kind = PYHPE_MODEL_6DOF;
  if (const Value* kwargs = card.find("kwargs")) {
    if (kwargs->type != Value::kObject)
      return r.bad("card.kwargs", std::string("must be an object, got ") + json::type_name(kwargs->type));
    std::string form = "paper";
    if (!r.string(*kwargs, "card.kwargs", "form", &form, kOptional)) return false;
    if (form == "paper") o->translation_form = PYHPE_FORM_PAPER;
    else if (form == "official") o->translation_form = PYHPE_FORM_OFFICIAL;
    else return r.bad("card.kwargs.form", "must be \"paper\" or \"official\", got \"" + form + "\"");
  }
  if (o->crop_kind != PYHPE_CROP_LANDMARK_BOX)
    return r.bad("card.crop.kind", "must be \"landmark_box\" for a trgv2_6dof model");
  // the camera input: the first of "inputs", named "camera", 11 values in CAMERA_LAYOUT
  const Value* inputs = r.need(root, "", "inputs", Value::kArray);
  if (!inputs) return false;
  if (inputs->items.size() != 1 || inputs->items[0].type != Value::kObject)
    return r.bad("inputs", "must hold one object (the camera vector input)");
  const Value& cam = inputs->items[0];
  std::string name;
  if (!r.string(cam, "inputs[0]", "name", &name)) return false;
  if (name != "camera") return r.bad("inputs[0].name", "must be \"camera\", got \"" + name + "\"");
  if (!r.shape(cam, "inputs[0]", "shape", {PYHPE_CAMERA_SIZE}) || !r.blob(cam, "inputs[0]", "blob", o->camera_blob))
    return false;
  if (const Value* layout = cam.find("layout")) {
    bool ok = layout->type == Value::kArray && layout->items.size() == PYHPE_CAMERA_SIZE;
    for (size_t i = 0; ok && i < layout->items.size(); ++i)
      ok = layout->items[i].type == Value::kString && layout->items[i].text == kCameraLayout[i];
    if (!ok) return r.bad("inputs[0].layout", "is not the camera layout this runtime computes (left, top, right, "
                                              "bottom, f, height, width, fx_crop, fy_crop, cx_crop, cy_crop)");
  }
  // the four outputs, by name
  const Value* outputs = r.need(root, "", "outputs", Value::kArray);
  if (!outputs) return false;
  bool seen[4] = {false, false, false, false};
  const char* names[4] = {"sixd", "correction", "vertices", "landmarks"};
  char(*blobs[4])[64] = {&o->output_blob, &o->correction_blob, &o->vertices_blob, &o->landmarks_blob};
  for (size_t i = 0; i < outputs->items.size(); ++i) {
    const Value& out = outputs->items[i];
    const std::string path = "outputs[" + std::to_string(i) + "]";
    if (out.type != Value::kObject) return r.bad(path, std::string("must be an object, got ") + json::type_name(out.type));
    if (!r.string(out, path, "name", &name)) return false;
    for (int k = 0; k < 4; ++k) {
      if (name != names[k]) continue;
      if (k == 2) {  // vertices: [V, 3], V from the model's topology
        const Value* shape = r.need(out, path, "shape", Value::kArray);
        if (!shape) return false;
        const bool ok = shape->items.size() == 2 && shape->items[0].type == Value::kNumber &&
                        shape->items[0].text.find_first_of(".eE-") == std::string::npos &&
                        shape->items[0].number >= 1 && shape->items[0].number <= 1e6 &&
                        shape->items[1].type == Value::kNumber && shape->items[1].text == "3";
        if (!ok) return r.bad(path + ".shape", "must be [V, 3] with 1 <= V <= 1000000");
        o->num_vertices = (int)shape->items[0].number;
      } else if (!r.shape(out, path, "shape", k == 0 ? std::vector<int>{6} : k == 1 ? std::vector<int>{3}
                                                                          : std::vector<int>{PYHPE_NUM_LANDMARKS, 2})) {
        return false;
      }
      if (!r.blob(out, path, "blob", *blobs[k])) return false;
      seen[k] = true;
    }
  }
  for (int k = 0; k < 4; ++k)
    if (!seen[k]) return r.bad("outputs", std::string("has no graph output named \"") + names[k] + "\" (a 6dof graph has "
                                          "sixd, correction, vertices and landmarks)");
  o->output_kind = PYHPE_OUTPUT_6D;
  return r.optional_bool(root, "", "fp16_weights") && r.optional_bool(root, "", "dynamic_batch") &&
         read_precision(r, root, o);
}

// Version 2: the model card ("card") and the graph's blobs. Defaults as pyhpe/models/card.py
// and pyhpe/runtime/meta.py read them: card version 1, input 224, 6DRepNet's crop, ImageNet
// normalisation, input blob "input".
bool read_v2(SidecarReader& r, const Value& root, pyhpe_options* o) {
  const Value* card = r.need(root, "", "card", Value::kObject);
  if (!card) return false;
  int card_version = 1;
  if (!r.integer(*card, "card", "version", 0, 1 << 30, &card_version, kOptional)) return false;
  if (card_version != 1)
    return r.bad("card.version", std::to_string(card_version) + " is unknown (this runtime reads card version 1)");
  std::string task;
  if (!r.string(*card, "card", "task", &task)) return false;
  if (task != "sixd_rotation" && task != "trgv2_6dof")
    return r.bad("card.task", "is \"" + task + "\": this runtime estimates sixd_rotation and trgv2_6dof");
  if (!r.integer(*card, "card", "input_size", 16, 4096, &o->input_size, kOptional) || !read_crop(r, *card, o))
    return false;
  if (const Value* norm = card->find("normalize")) {
    if (norm->type != Value::kObject)
      return r.bad("card.normalize", std::string("must be an object, got ") + json::type_name(norm->type));
    if (!r.floats3(*norm, "card.normalize", "mean", false, o->mean, kOptional) ||
        !r.floats3(*norm, "card.normalize", "std", true, o->std, kOptional))
      return false;
  }
  strcpy(o->input_blob, "input");
  if (!r.blob(root, "", "input_name", o->input_blob, kOptional)) return false;
  if (task == "trgv2_6dof") return read_6dof(r, root, *card, o);
  // The graph output the runtime reads: the first named "sixd" (6 values) or "R" (3 x 3).
  const Value* outputs = r.need(root, "", "outputs", Value::kArray);
  if (!outputs) return false;
  for (size_t i = 0; i < outputs->items.size(); ++i) {
    const Value& out = outputs->items[i];
    const std::string path = "outputs[" + std::to_string(i) + "]";
    if (out.type != Value::kObject) return r.bad(path, std::string("must be an object, got ") + json::type_name(out.type));
    std::string name;
    if (!r.string(out, path, "name", &name)) return false;
    if (name != "sixd" && name != "R") continue;
    const bool sixd = name == "sixd";
    if (!r.shape(out, path, "shape", sixd ? std::vector<int>{6} : std::vector<int>{3, 3}) ||
        !r.blob(out, path, "blob", o->output_blob))
      return false;
    o->output_kind = sixd ? PYHPE_OUTPUT_6D : PYHPE_OUTPUT_MATRIX;
    return r.optional_bool(root, "", "fp16_weights") && r.optional_bool(root, "", "dynamic_batch") &&
         read_precision(r, root, o);
  }
  return r.bad("outputs", "has no graph output named \"sixd\" or \"R\" (the outputs this runtime reads)");
}

}  // namespace

pyhpe_status check_options(const pyhpe_options& o) {
  if (o.input_size < 16 || o.input_size > 4096)
    return fail(PYHPE_ERR_ARGUMENT, "input_size must be in [16, 4096], got " + std::to_string(o.input_size));
  if (o.output_kind != PYHPE_OUTPUT_6D && o.output_kind != PYHPE_OUTPUT_MATRIX)
    return fail(PYHPE_ERR_ARGUMENT, "output_kind must be PYHPE_OUTPUT_6D or PYHPE_OUTPUT_MATRIX");
  if (o.num_threads < 1) return fail(PYHPE_ERR_ARGUMENT, "num_threads must be >= 1");
  if (o.precision != PYHPE_PRECISION_FP32 && o.precision != PYHPE_PRECISION_FP16 &&
      o.precision != PYHPE_PRECISION_BF16)
    return fail(PYHPE_ERR_ARGUMENT, "precision must be PYHPE_PRECISION_FP32, PYHPE_PRECISION_FP16 or PYHPE_PRECISION_BF16");
  if (!memchr(o.input_blob, 0, sizeof o.input_blob) || !o.input_blob[0] ||
      !memchr(o.output_blob, 0, sizeof o.output_blob) || !o.output_blob[0])
    return fail(PYHPE_ERR_ARGUMENT, "input_blob and output_blob must be non-empty strings");
  if (o.crop_kind != PYHPE_CROP_MARGIN_BOX && o.crop_kind != PYHPE_CROP_NONE && o.crop_kind != PYHPE_CROP_LANDMARK_BOX)
    return fail(PYHPE_ERR_ARGUMENT, "crop_kind must be PYHPE_CROP_MARGIN_BOX, PYHPE_CROP_NONE or PYHPE_CROP_LANDMARK_BOX");
  if (!(o.crop_margin >= 0.0 && o.crop_margin <= 1.0))
    return fail(PYHPE_ERR_ARGUMENT, "crop_margin must lie in [0, 1]");
  if (o.crop_resize < 224 || o.crop_resize > 4096)
    return fail(PYHPE_ERR_ARGUMENT, "crop_resize must be in [224, 4096], got " + std::to_string(o.crop_resize));
  for (int c = 0; c < 3; ++c)
    if (!isfinite(o.mean[c]) || !isfinite(o.std[c]) || !(o.std[c] > 0))
      return fail(PYHPE_ERR_ARGUMENT, "mean must be finite and std finite and positive");
  return check_6dof_options(o);
}

pyhpe_status check_6dof_options(const pyhpe_options& o) {
  if (o.model_kind != PYHPE_MODEL_ROTATION && o.model_kind != PYHPE_MODEL_6DOF)
    return fail(PYHPE_ERR_ARGUMENT, "model_kind must be PYHPE_MODEL_ROTATION or PYHPE_MODEL_6DOF");
  if (o.crop_kind == PYHPE_CROP_LANDMARK_BOX && o.model_kind != PYHPE_MODEL_6DOF)
    return fail(PYHPE_ERR_ARGUMENT, "crop_kind PYHPE_CROP_LANDMARK_BOX is the crop of 6DoF models");
  if (o.model_kind == PYHPE_MODEL_ROTATION) return PYHPE_OK;
  if (o.crop_kind != PYHPE_CROP_LANDMARK_BOX)
    return fail(PYHPE_ERR_ARGUMENT, "a 6DoF model's crop_kind must be PYHPE_CROP_LANDMARK_BOX");
  if (o.output_kind != PYHPE_OUTPUT_6D) return fail(PYHPE_ERR_ARGUMENT, "a 6DoF model's output_kind is PYHPE_OUTPUT_6D");
  if (o.crop_convention != PYHPE_CONVENTION_PYHPE && o.crop_convention != PYHPE_CONVENTION_OFFICIAL)
    return fail(PYHPE_ERR_ARGUMENT, "crop_convention must be PYHPE_CONVENTION_PYHPE or PYHPE_CONVENTION_OFFICIAL");
  if (o.translation_form != PYHPE_FORM_PAPER && o.translation_form != PYHPE_FORM_OFFICIAL)
    return fail(PYHPE_ERR_ARGUMENT, "translation_form must be PYHPE_FORM_PAPER or PYHPE_FORM_OFFICIAL");
  if (o.num_vertices < 0 || o.num_vertices > 1000000)
    return fail(PYHPE_ERR_ARGUMENT, "num_vertices must be in [0, 1000000] (0: any)");
  const char* blobs[4] = {o.camera_blob, o.correction_blob, o.vertices_blob, o.landmarks_blob};
  for (const char* b : blobs)
    if (!memchr(b, 0, 64) || !b[0])
      return fail(PYHPE_ERR_ARGUMENT, "camera_blob, correction_blob, vertices_blob and landmarks_blob must be "
                                      "non-empty strings");
  return PYHPE_OK;
}

pyhpe_status options_from_sidecar_text(const std::string& text, const std::string& file, pyhpe_options* out) {
  json::Value root;
  std::string err;
  if (!json::parse(text, &root, &err)) return fail(PYHPE_ERR_MODEL, file + ": not valid JSON: " + err);
  SidecarReader r(file);
  if (root.type != Value::kObject)
    return fail(PYHPE_ERR_MODEL, file + ": not a pyhpe-deploy sidecar (the JSON value is " +
                                     json::type_name(root.type) + ", not an object)");
  const Value* format = root.find("format");
  if (!format || format->type != Value::kString || format->text != "pyhpe-deploy")
    return fail(PYHPE_ERR_MODEL, file + ": not a pyhpe-deploy sidecar (\"format\" is not \"pyhpe-deploy\")");
  int version = 0;
  if (!r.integer(root, "", "version", 0, 1 << 30, &version)) return fail(PYHPE_ERR_MODEL, r.error());
  if (version != 1 && version != 2)
    return fail(PYHPE_ERR_MODEL, file + ": sidecar version " + std::to_string(version) +
                                     " is unknown (this runtime reads versions 1 and 2)");
  pyhpe_options o;
  pyhpe_options_default(&o);
  if (!(version == 1 ? read_v1(r, root, &o) : read_v2(r, root, &o))) return fail(PYHPE_ERR_MODEL, r.error());
  *out = o;
  return PYHPE_OK;
}

}  // namespace pyhpe_rt

extern "C" {

void pyhpe_options_default(pyhpe_options* o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->input_size = 224;
  o->output_kind = PYHPE_OUTPUT_6D;
  o->num_threads = 1;
  o->precision = PYHPE_PRECISION_FP32;
  strcpy(o->input_blob, "in0");
  strcpy(o->output_blob, "out0");
  o->crop_kind = PYHPE_CROP_MARGIN_BOX;
  o->crop_margin = 0.2;
  o->crop_resize = 256;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  memcpy(o->mean, mean, sizeof mean);
  memcpy(o->std, std, sizeof std);
  // a rotation model; a 6DoF model's blobs as pnnx names them (image in0, camera in1; out0..out3)
  o->model_kind = PYHPE_MODEL_ROTATION;
  o->crop_convention = PYHPE_CONVENTION_PYHPE;
  o->translation_form = PYHPE_FORM_PAPER;
  o->num_vertices = 0;
  strcpy(o->camera_blob, "in1");
  strcpy(o->correction_blob, "out1");
  strcpy(o->vertices_blob, "out2");
  strcpy(o->landmarks_blob, "out3");
}

pyhpe_status pyhpe_options_from_sidecar(const char* json_path, pyhpe_options* out) {
  using pyhpe_rt::fail;
  if (!json_path || !out) return fail(PYHPE_ERR_ARGUMENT, "NULL sidecar path or output");
  FILE* f = fopen(json_path, "rb");
  if (!f) return fail(PYHPE_ERR_IO, std::string(json_path) + ": cannot open");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && text.size() <= pyhpe_rt::kMaxSidecarBytes) text.append(buf, n);
  const bool read_error = ferror(f) != 0;
  fclose(f);
  if (read_error) return fail(PYHPE_ERR_IO, std::string(json_path) + ": read error");
  if (text.size() > pyhpe_rt::kMaxSidecarBytes)
    return fail(PYHPE_ERR_MODEL, std::string(json_path) + ": larger than " +
                                     std::to_string(pyhpe_rt::kMaxSidecarBytes) + " bytes, not a sidecar");
  return pyhpe_rt::options_from_sidecar_text(text, json_path, out);
}

}  // extern "C"
