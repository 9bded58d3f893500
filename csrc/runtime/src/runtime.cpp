// pyhpe runtime over ncnn: model loading, preprocessing (the options' crop of the face box,
// resize, centre crop, normalisation), inference, and post-processing with the native kernels of
// csrc/include/pyhpe. Options and their sidecar: options.cpp; errors: status.cpp.
#include "pyhpe_runtime.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "cpu.h"
#include "datareader.h"
#include "mat.h"
#include "net.h"
#include "platform.h"
#include "pyhpe/rotation_cpu.h"
#include "custom_layers.h"
#include "ffn_forward.h"
#include "image_ops.h"
#include "mixer_forward.h"
#include "model.h"
#include "model_check.h"
#include "options.h"
#include "status.h"

namespace {

using pyhpe_rt::fail;

// The whole file at `path` into *out; false when it cannot be opened or read.
bool read_file(const std::string& path, std::string* out) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return false;
  out->clear();
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  const bool ok = !ferror(f);
  fclose(f);
  return ok;
}

// The Input layer's declared w/h in an ncnn .param text (0 when not declared).
void declared_input_size(const std::string& param_text, int* w, int* h) {
  *w = *h = 0;
  std::istringstream in(param_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "Input ") != 0) continue;
    std::istringstream ss(line);
    std::string tok;
    while (ss >> tok) {
      if (tok.compare(0, 2, "0=") == 0) *w = atoi(tok.c_str() + 2);
      if (tok.compare(0, 2, "1=") == 0) *h = atoi(tok.c_str() + 2);
    }
    return;
  }
}

// ncnn's weights reader over a buffer, bounded by its size (ncnn's own DataReaderFromMemory
// has no end); it never lends the buffer (reference), so the net owns copies of its weights.
class BoundedReader : public ncnn::DataReader {
 public:
  BoundedReader(const unsigned char* data, size_t size) : data_(data), size_(size) {}
  int scan(const char*, void*) const override { return 0; }
  size_t read(void* buf, size_t size) const override {
    const size_t n = size < size_ - pos_ ? size : size_ - pos_;
    if (n) memcpy(buf, data_ + pos_, n);
    pos_ += n;
    return n;
  }
  size_t reference(size_t, const void**) const override { return 0; }

 private:
  const unsigned char* data_;
  size_t size_;
  mutable size_t pos_ = 0;
};

bool has_name(const std::vector<const char*>& names, const char* name) {
  for (const char* n : names)
    if (n && strcmp(n, name) == 0) return true;
  return false;
}

}  // namespace

namespace {

void apply_options(ncnn::Net& net, const pyhpe_options& o) {
  ncnn::Option opt;
  opt.lightmode = true;
  opt.num_threads = o.num_threads;
  opt.use_vulkan_compute = false;
  const bool fp16 = o.precision == PYHPE_PRECISION_FP16;
  opt.use_fp16_packed = fp16;
  opt.use_fp16_storage = fp16;
  opt.use_fp16_arithmetic = fp16;
  // bf16: storage only (fp32 arithmetic); ncnn acts on it only when built with NCNN_BF16.
  const bool bf16 = o.precision == PYHPE_PRECISION_BF16;
  opt.use_bf16_packed = bf16;
  opt.use_bf16_storage = bf16;
  net.opt = opt;
}

// The model's .param text and .bin bytes: its own copies (loaded from memory) or its files, read now.
pyhpe_status model_bytes(const pyhpe_model* m, std::string* param, std::string* bin) {
  if (m->from_memory) {
    *param = m->param_text;
    *bin = m->bin_data;
    return PYHPE_OK;
  }
  if (!read_file(m->param_path, param)) return fail(PYHPE_ERR_IO, m->param_path + ": cannot open");
  if (!read_file(m->bin_path, bin)) return fail(PYHPE_ERR_IO, m->bin_path + ": cannot open");
  return PYHPE_OK;
}

// (Re)loads m->net: the strict check of the .param/.bin (model_check.h), the declared input size,
// then ncnn from memory, then the blobs the options name.
pyhpe_status load_into(pyhpe_model* m) {
  m->net.clear();
  std::string param, bin;
  pyhpe_status st = model_bytes(m, &param, &bin);
  if (st != PYHPE_OK) return st;
  st = pyhpe_rt::check_ncnn_model(param, m->param_path, reinterpret_cast<const unsigned char*>(bin.data()), bin.size(),
                                  m->bin_path, m->options.input_blob, m->options.input_size);
  if (st != PYHPE_OK) return st;
  int dw = 0, dh = 0;
  declared_input_size(param, &dw, &dh);
  if ((dw > 0 && dw != m->options.input_size) || (dh > 0 && dh != m->options.input_size))
    return fail(PYHPE_ERR_ARGUMENT, m->param_path + " declares a " + std::to_string(dw) + "x" + std::to_string(dh) +
                                        " input, input_size is " + std::to_string(m->options.input_size));
  apply_options(m->net, m->options);
  pyhpe_rt::clear_custom_layer_error();
  if (m->net.load_param_mem(param.c_str()) != 0)
    return fail(PYHPE_ERR_MODEL, m->param_path + ": ncnn cannot parse it (not an ncnn .param, or a "
                                                 "layer this ncnn build does not include)" + pyhpe_rt::custom_layer_detail());
  BoundedReader reader(reinterpret_cast<const unsigned char*>(bin.data()), bin.size());
  if (m->net.load_model(reader) != 0)
    return fail(PYHPE_ERR_MODEL, m->bin_path + ": ncnn cannot read the weights (truncated, or not "
                                               "the .bin of this .param)" + pyhpe_rt::custom_layer_detail());
  if (!has_name(m->net.input_names(), m->options.input_blob))
    return fail(PYHPE_ERR_MODEL, std::string("the model has no input blob '") + m->options.input_blob + "'");
  if (!has_name(m->net.output_names(), m->options.output_blob))
    return fail(PYHPE_ERR_MODEL, std::string("the model has no output blob '") + m->options.output_blob + "'");
  if (m->options.model_kind == PYHPE_MODEL_6DOF) {
    if (!has_name(m->net.input_names(), m->options.camera_blob))
      return fail(PYHPE_ERR_MODEL, std::string("the model has no camera input blob '") + m->options.camera_blob + "'");
    const char* outs[3] = {m->options.correction_blob, m->options.vertices_blob, m->options.landmarks_blob};
    for (const char* b : outs)
      if (!has_name(m->net.output_names(), b))
        return fail(PYHPE_ERR_MODEL, std::string("the model has no output blob '") + b + "'");
  }
  return PYHPE_OK;
}

}  // namespace

namespace pyhpe_rt {

void finish_pose(const float* raw, int output_kind, pyhpe_pose* out) {
  if (output_kind == PYHPE_OUTPUT_6D) {
    memcpy(out->sixd, raw, 6 * sizeof(float));
    pyhpe::cpu::gram_schmidt<float>(out->sixd, out->R, 1, 1);
  } else {
    memcpy(out->R, raw, 9 * sizeof(float));
    for (int i = 0; i < 3; ++i) {
      out->sixd[i] = out->R[i * 3 + 0];
      out->sixd[3 + i] = out->R[i * 3 + 1];
    }
  }
  pyhpe::cpu::matrix_to_euler<float>(out->R, out->euler_deg, 1, true, 1);
}

pyhpe_status pixel_source(const uint8_t* pixels, int width, int height, int stride, int pixel_format,
                          PixelSource* out) {
  int channels = 0;
  bool bgr = false;
  switch (pixel_format) {
    case PYHPE_PIXEL_RGB: channels = 3; break;
    case PYHPE_PIXEL_BGR: channels = 3; bgr = true; break;
    case PYHPE_PIXEL_RGBA: channels = 4; break;
    case PYHPE_PIXEL_BGRA: channels = 4; bgr = true; break;
    default: return fail(PYHPE_ERR_ARGUMENT, "unknown pixel format " + std::to_string(pixel_format));
  }
  if (width <= 0 || height <= 0) return fail(PYHPE_ERR_ARGUMENT, "image width and height must be positive");
  if (stride == 0) stride = width * channels;
  if (stride < width * channels) return fail(PYHPE_ERR_ARGUMENT, "stride is smaller than width * channels");
  *out = PixelSource{pixels, width, height, stride, channels, bgr};
  return PYHPE_OK;
}

ncnn::Mat input_mat(int s, const float* chw) {
  ncnn::Mat in(s, s, 3);
  if (!in.empty() && chw)
    for (int c = 0; c < 3; ++c) memcpy(in.channel(c), chw + (size_t)c * s * s, (size_t)s * s * sizeof(float));
  return in;
}

}  // namespace pyhpe_rt

namespace {

using pyhpe_rt::finish_pose;

pyhpe_status run_net(pyhpe_model* m, const ncnn::Mat& in, pyhpe_pose* out) {
  if (m->options.model_kind == PYHPE_MODEL_6DOF)
    return fail(PYHPE_ERR_ARGUMENT, "a 6DoF model (it also takes the camera vector): use pyhpe_infer_6dof");
  pyhpe_rt::clear_custom_layer_error();
  ncnn::Extractor ex = m->net.create_extractor();
  if (ex.input(m->options.input_blob, in) != 0)
    return fail(PYHPE_ERR_INFERENCE, "ncnn rejected the input blob");
  ncnn::Mat y;
  int ret = ex.extract(m->options.output_blob, y);
  if (ret != 0)
    return fail(PYHPE_ERR_INFERENCE, "ncnn extract failed with code " + std::to_string(ret) + pyhpe_rt::custom_layer_detail());
  const size_t want = m->options.output_kind == PYHPE_OUTPUT_6D ? 6 : 9;
  const size_t got = (size_t)y.w * y.h * y.d * y.c;
  if (got != want)
    return fail(PYHPE_ERR_INFERENCE, "the model returned " + std::to_string(got) + " values, expected " +
                                         std::to_string(want) + " (check output_kind)");
  float raw[9];
  ncnn::Mat flat = y.reshape((int)got);
  for (size_t i = 0; i < got; ++i) raw[i] = flat[i];
  finish_pose(raw, m->options.output_kind, out);
  return PYHPE_OK;
}

// Python's round() for halves (banker's rounding), as torchvision's CenterCrop offsets use it.
int round_half_even(double v) { return (int)nearbyint(v); }

}  // namespace

extern "C" {

const char* pyhpe_build_info(void) {
  static std::string info;
  if (info.empty()) {
    std::ostringstream s;
    s << "ncnn " << NCNN_VERSION_STRING;
#if defined(__aarch64__)
    s << "; aarch64 NEON; fp16 arithmetic " << (ncnn::cpu_support_arm_asimdhp() ? "available" : "not available")
      << "; dotprod " << (ncnn::cpu_support_arm_asimddp() ? "yes" : "no");
#elif defined(__x86_64__)
    s << "; x86-64; avx2 " << (ncnn::cpu_support_x86_avx2() ? "yes" : "no") << "; f16c "
      << (ncnn::cpu_support_x86_f16c() ? "yes" : "no");
#endif
    s << "; bf16 storage " << (NCNN_BF16 ? "built" : "not built (NCNN_BF16=OFF)");
    s << "; fused mixer " << pyhpe_rt::mixer_isa() << "; fused ffn " << pyhpe_rt::ffn_isa();
#if defined(__x86_64__)
    // bf16 blobs in the FFN: its AVX512-BF16 kernel, or widened to fp32 around the fp32 one
    s << "; ffn bf16 " << pyhpe_rt::ffn_bf16_path();
#endif
    s << "; cpus " << ncnn::get_cpu_count();
    info = s.str();
  }
  return info.c_str();
}

namespace {

// pyhpe_model_load and pyhpe_model_load_memory: m holds the paths or the bytes.
pyhpe_status load_new(pyhpe_model* m, const pyhpe_options* options, pyhpe_model** out_model) {
  if (options) {
    m->options = *options;
  } else {
    pyhpe_options_default(&m->options);
  }
  pyhpe_status st = pyhpe_rt::check_options(m->options);
  if (st != PYHPE_OK) {
    delete m;
    return st;
  }
  // The fused RepNeXt mixer and channel MLP (pyhpe export's .fused.ncnn.param); unused by models without them.
  pyhpe_rt::register_custom_layers(m->net);
  st = load_into(m);
  if (st != PYHPE_OK) {
    delete m;
    return st;
  }
  *out_model = m;
  return PYHPE_OK;
}

}  // namespace

pyhpe_status pyhpe_model_load(const char* param_path, const char* bin_path, const pyhpe_options* options,
                              pyhpe_model** out_model) {
  if (!param_path || !bin_path || !out_model) return fail(PYHPE_ERR_ARGUMENT, "NULL path or output pointer");
  *out_model = nullptr;
  pyhpe_model* m = new (std::nothrow) pyhpe_model();
  if (!m) return fail(PYHPE_ERR_MEMORY, "cannot allocate the model");
  m->param_path = param_path;
  m->bin_path = bin_path;
  return load_new(m, options, out_model);
}

pyhpe_status pyhpe_model_load_memory(const char* param_text, size_t param_size, const void* bin, size_t bin_size,
                                     const char* name, const pyhpe_options* options, pyhpe_model** out_model) {
  if (!param_text || (!bin && bin_size) || !out_model) return fail(PYHPE_ERR_ARGUMENT, "NULL model data or output pointer");
  *out_model = nullptr;
  pyhpe_model* m = new (std::nothrow) pyhpe_model();
  if (!m) return fail(PYHPE_ERR_MEMORY, "cannot allocate the model");
  try {
    m->param_text.assign(param_text, param_size);
    m->bin_data.assign(static_cast<const char*>(bin), bin_size);
  } catch (const std::bad_alloc&) {
    delete m;
    return fail(PYHPE_ERR_MEMORY, "cannot copy the model data");
  }
  m->from_memory = true;
  const std::string stem = name ? name : "memory";
  m->param_path = stem + ".param";
  m->bin_path = stem + ".bin";
  return load_new(m, options, out_model);
}

void pyhpe_model_free(pyhpe_model* model) { delete model; }

pyhpe_status pyhpe_model_set_threads(pyhpe_model* m, int n) {
  if (!m) return fail(PYHPE_ERR_ARGUMENT, "NULL model");
  if (n < 1) return fail(PYHPE_ERR_ARGUMENT, "num_threads must be >= 1");
  if (m->options.num_threads == n) return PYHPE_OK;
  // ncnn packs convolution weights for the thread count at load time: reload with the new one.
  m->options.num_threads = n;
  return load_into(m);
}

pyhpe_status pyhpe_model_set_precision(pyhpe_model* m, int precision) {
  if (!m) return fail(PYHPE_ERR_ARGUMENT, "NULL model");
  if (precision != PYHPE_PRECISION_FP32 && precision != PYHPE_PRECISION_FP16 && precision != PYHPE_PRECISION_BF16)
    return fail(PYHPE_ERR_ARGUMENT, "precision must be PYHPE_PRECISION_FP32, PYHPE_PRECISION_FP16 or PYHPE_PRECISION_BF16");
  if (m->options.precision == precision) return PYHPE_OK;
  m->options.precision = precision;
  return load_into(m);
}

pyhpe_status pyhpe_model_get_options(const pyhpe_model* m, pyhpe_options* out) {
  if (!m || !out) return fail(PYHPE_ERR_ARGUMENT, "NULL model or output");
  *out = m->options;
  return PYHPE_OK;
}

pyhpe_status pyhpe_infer_tensor(pyhpe_model* m, const float* chw, pyhpe_pose* out) {
  if (!m || !chw || !out) return fail(PYHPE_ERR_ARGUMENT, "NULL model, input or output");
  ncnn::Mat in = pyhpe_rt::input_mat(m->options.input_size, chw);
  if (in.empty()) return fail(PYHPE_ERR_MEMORY, "cannot allocate the input");
  return run_net(m, in, out);
}

pyhpe_status pyhpe_preprocess(const pyhpe_options* o, const uint8_t* pixels, int width, int height, int stride,
                              int pixel_format, const float* box, float* out_chw) {
  if (!o || !pixels || !out_chw) return fail(PYHPE_ERR_ARGUMENT, "NULL options, pixels or output");
  pyhpe_status st = pyhpe_rt::check_options(*o);
  if (st != PYHPE_OK) return st;
  if (o->model_kind == PYHPE_MODEL_6DOF)
    return fail(PYHPE_ERR_ARGUMENT, "a 6DoF model's input (crop and camera vector): use pyhpe_preprocess_6dof");
  pyhpe_rt::PixelSource image;
  st = pyhpe_rt::pixel_source(pixels, width, height, stride, pixel_format, &image);
  if (st != PYHPE_OK) return st;

  // 1. The margin box (6DRepNet's test crop with k = crop_margin; k = 0 for crop kind none),
  //    edges moved in order, truncated like PIL's crop.
  int x0 = 0, y0 = 0, x1 = width, y1 = height;
  if (box) {
    double bx0 = box[0], by0 = box[1], bx1 = box[2], by1 = box[3];
    if (!(isfinite(bx0) && isfinite(by0) && isfinite(bx1) && isfinite(by1)) || bx1 <= bx0 || by1 <= by0)
      return fail(PYHPE_ERR_ARGUMENT, "face box must be finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0");
    const double k = o->crop_kind == PYHPE_CROP_MARGIN_BOX ? o->crop_margin : 0.0, w = bx1 - bx0, h = by1 - by0;
    bx0 -= 2 * k * w;
    by0 -= 2 * k * h;
    bx1 += 2 * k * (bx1 - bx0);
    by1 += 0.6 * k * (by1 - by0);
    x0 = (int)bx0; y0 = (int)by0; x1 = (int)bx1; y1 = (int)by1;
    if (x1 <= x0 || y1 <= y0) return fail(PYHPE_ERR_ARGUMENT, "the face box crops to nothing");
  }
  const int cw = x1 - x0, ch = y1 - y0;
  std::vector<unsigned char> crop = pyhpe_rt::crop_rgb(image, x0, y0, x1, y1);  // RGB, black outside the image
  // 2. Resize the shorter side to max(S, round(S*crop_resize/224)) (bilinear), 3. centre crop S,
  //    4. normalise.
  const int s = o->input_size;
  const long resized_side = lround(s * (double)o->crop_resize / 224.0);
  const int r = resized_side > s ? (int)resized_side : s;
  int rw, rh;
  if (cw <= ch) {
    rw = r;
    rh = (int)((double)r * ch / cw);
  } else {
    rw = (int)((double)r * cw / ch);
    rh = r;
  }
  std::vector<unsigned char> resized;
  const unsigned char* src = crop.data();
  if (rw != cw || rh != ch) {
    resized.resize((size_t)rw * rh * 3);
    ncnn::resize_bilinear_c3(crop.data(), cw, ch, resized.data(), rw, rh);
    src = resized.data();
  }
  if (rw < s || rh < s) return fail(PYHPE_ERR_ARGUMENT, "the crop is smaller than the network input");
  const int top = round_half_even((rh - s) / 2.0), left = round_half_even((rw - s) / 2.0);
  pyhpe_rt::normalize_chw(src, rw, left, top, s, o->mean, o->std, out_chw);
  return PYHPE_OK;
}

pyhpe_status pyhpe_infer(pyhpe_model* m, const uint8_t* pixels, int width, int height, int stride,
                         int pixel_format, const float* box, pyhpe_pose* out) {
  if (!m || !pixels || !out) return fail(PYHPE_ERR_ARGUMENT, "NULL model, pixels or output");
  if (m->options.model_kind == PYHPE_MODEL_6DOF)
    return fail(PYHPE_ERR_ARGUMENT, "a 6DoF model (it also takes the camera vector): use pyhpe_infer_6dof");
  const int s = m->options.input_size;
  ncnn::Mat in(s, s, 3);
  if (in.empty()) return fail(PYHPE_ERR_MEMORY, "cannot allocate the input");
  if (in.cstep != (size_t)s * s) {  // ncnn aligned each channel: preprocess densely, then copy
    std::vector<float> chw((size_t)3 * s * s);
    pyhpe_status st = pyhpe_preprocess(&m->options, pixels, width, height, stride, pixel_format, box, chw.data());
    if (st != PYHPE_OK) return st;
    for (int c = 0; c < 3; ++c) memcpy(in.channel(c), chw.data() + (size_t)c * s * s, (size_t)s * s * sizeof(float));
  } else {
    pyhpe_status st = pyhpe_preprocess(&m->options, pixels, width, height, stride, pixel_format, box, in);
    if (st != PYHPE_OK) return st;
  }
  return run_net(m, in, out);
}

}  // extern "C"
