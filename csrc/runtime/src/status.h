// The C API's per-thread error message (pyhpe_last_error), for the runtime's sources.
#pragma once

#include <string>

#include "pyhpe_runtime.h"

namespace pyhpe_rt {

// Records `message` as this thread's last error and returns `status`.
pyhpe_status fail(pyhpe_status status, const std::string& message);

}  // namespace pyhpe_rt
