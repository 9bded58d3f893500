// pyhpe._C binding of the C++ runtime's strict ncnn model check (csrc/runtime/src/model_check.h):
// the ncnn Python backend and `pyhpe bench winograd` run the very check pyhpe_model_load runs,
// so there is one set of rules (pyhpe/runtime/ncnn_check.py wraps this).
#include <string>

#include "model_check.h"
#include "python/common.h"

namespace pyhpe {
namespace binding {

namespace {

// None when the pair passes, else the check's message (the file, the line, the problem).
py::object check_ncnn_model(py::bytes param, py::bytes bin, const std::string& param_name,
                            const std::string& bin_name, const std::string& image_blob, int image_size) {
  const std::string param_text = param, bin_bytes = bin;
  pyhpe_status s;
  {
    py::gil_scoped_release release;
    s = pyhpe_rt::check_ncnn_model(param_text, param_name, reinterpret_cast<const unsigned char*>(bin_bytes.data()),
                                   bin_bytes.size(), bin_name, image_blob, image_size);
  }
  if (s == PYHPE_OK) return py::none();
  return py::str(pyhpe_last_error());
}

}  // namespace

void register_model_check_bindings(py::module_& m) {
  m.def("check_ncnn_model", &check_ncnn_model, py::arg("param"), py::arg("bin"), py::arg("param_name"),
        py::arg("bin_name"), py::arg("image_blob") = "", py::arg("image_size") = 0,
        "The C++ runtime's strict check of an ncnn .param text and .bin bytes: None when they pass, "
        "else the message naming the file, the line and the problem.");
}

}  // namespace binding
}  // namespace pyhpe
