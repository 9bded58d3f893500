// pyhpe_status_string, pyhpe_last_error and the message behind it (status.h).
#include "status.h"

namespace pyhpe_rt {

namespace {
thread_local std::string g_last_error;
}  // namespace

pyhpe_status fail(pyhpe_status status, const std::string& message) {
  g_last_error = message;
  return status;
}

}  // namespace pyhpe_rt

extern "C" {

const char* pyhpe_status_string(pyhpe_status s) {
  switch (s) {
    case PYHPE_OK: return "ok";
    case PYHPE_ERR_ARGUMENT: return "invalid argument";
    case PYHPE_ERR_IO: return "file error";
    case PYHPE_ERR_MODEL: return "model error";
    case PYHPE_ERR_INFERENCE: return "inference error";
    case PYHPE_ERR_MEMORY: return "out of memory";
  }
  return "unknown status";
}

const char* pyhpe_last_error(void) { return pyhpe_rt::g_last_error.c_str(); }

}  // extern "C"
