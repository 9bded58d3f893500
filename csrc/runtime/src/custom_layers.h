// pyhpe's ncnn custom layers as one set: PyhpeRepNeXtMixer (mixer_layer.h), PyhpeRepNeXtFFN
// (ffn_layer.h), PyhpeSplit (split_layer.h), PyhpeWiden (widen_layer.h) and PyhpeRepNeXtStem
// (stem_layer.h). Every net the runtime and its tools load registers all five (models without
// them load as before), and the layers report their
// failures through one per-thread message, so callers check a single place.
#pragma once

#include <string>

#include "layer.h"
#include "modelbin.h"
#include "net.h"

namespace pyhpe_rt {

// Registers the five layers on net (before load_param). Returns ncnn's code (0 ok).
int register_custom_layers(ncnn::Net& net);

// For the layers: records "<type> <name>: <message>" as this thread's error, logs it through
// ncnn, and returns -1 (ncnn's failure code) for the layer to return.
int custom_layer_fail(const char* type, const std::string& name, const std::string& message);

// The last custom-layer error on this thread ("" if none), the same as " (<error>)" to append
// to a caller's own message ("" if none), and clearing it.
const std::string& custom_layer_error();
std::string custom_layer_detail();
void clear_custom_layer_error();

// What a blob's elements are, as a layer reads them. ncnn's Mat does not say whether 16-bit
// elements are fp16 or bf16: like ncnn's own layers, a layer decides from the options it runs
// with (fp16 where it declares fp16 storage and opt.use_fp16_storage is on, else bf16 where
// opt.use_bf16_storage is on).
enum class Storage { kFp32, kFp16, kBf16, kOther };

// The storage of `m` for `layer` under `opt` (kOther: neither 4-byte fp32 nor a 16-bit type the
// layer declared; the caller reports it).
Storage storage_of(const ncnn::Layer& layer, const ncnn::Mat& m, const ncnn::Option& opt);
const char* storage_name(Storage s);

// 16-bit planes <-> fp32: channel c of src (elempack 1, elemsize 2, fp16 or bf16) widened into
// dst + c * dst_plane (dst_plane >= w * h), and back. Round to nearest even (fp16: IEEE; bf16:
// ties to even, NaN kept quiet).
void widen_planes(const ncnn::Mat& src, Storage s, float* dst, size_t dst_plane, int threads);
void narrow_planes(const float* src, size_t src_plane, Storage s, ncnn::Mat& dst, int threads);

// The base of the layers: elempack 1 (ncnn converts the layout around the layer), never in
// place; errors name the layer type. Storage (docs/deployment.md, "Precision"): fp32 always;
// bf16 always declared (the layers convert to fp32 around fp32 arithmetic; ncnn's net casts to
// bf16 only when built with NCNN_BF16), fp16 where ncnn's own arm layers take it (NCNN_ARM82 and
// a CPU with ARMv8.2 fp16 arithmetic: then the net casts to fp16 in front of the layer). On x86 ncnn never casts blobs to
// fp16 (its net converts only on ARM and RISC-V), so no fp16 storage is declared there.
class CustomLayer : public ncnn::Layer {
 protected:
  CustomLayer(const char* type, bool one_blob);

  // custom_layer_fail for this layer.
  int fail(const std::string& message) const { return custom_layer_fail(type_, name, message); }

  // Reads n raw float32 values (`what`, for the message) from the .bin into dst; false, with the
  // error recorded, when the file ends first.
  bool load_floats(const ncnn::ModelBin& mb, ncnn::Mat& dst, int n, const char* what) const {
    dst = mb.load(n, 1);
    if (dst.empty() || dst.w != n) {
      fail(std::string("cannot read ") + what + " (" + std::to_string(n) +
           " floats) from the .bin: truncated, or not this .param's weights");
      return false;
    }
    return true;
  }

 private:
  const char* type_;
};

// Registers layer class L under `type` on net (ncnn creates and deletes it).
template <class L>
int register_layer(ncnn::Net& net, const char* type) {
  return net.register_custom_layer(
      type, [](void*) -> ncnn::Layer* { return new L; }, [](ncnn::Layer* layer, void*) { delete layer; });
}

}  // namespace pyhpe_rt
