// Reading pyhpe_options from an export sidecar's text (options.cpp; the C API's
// pyhpe_options_from_sidecar reads the file and calls this).
#pragma once

#include <string>

#include "pyhpe_runtime.h"

namespace pyhpe_rt {

// PYHPE_OK, or PYHPE_ERR_ARGUMENT (message set) for options pyhpe_model_load refuses.
pyhpe_status check_options(const pyhpe_options& o);
// The part of check_options for the 6DoF fields (model kind, crop convention, form, blobs).
pyhpe_status check_6dof_options(const pyhpe_options& o);

// Parses `text` (the content of `file`, named in messages) as a sidecar into *out; on failure
// returns PYHPE_ERR_MODEL with pyhpe_last_error set and leaves *out unchanged.
pyhpe_status options_from_sidecar_text(const std::string& text, const std::string& file, pyhpe_options* out);

}  // namespace pyhpe_rt
