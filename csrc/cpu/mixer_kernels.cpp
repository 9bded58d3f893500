// Instantiates the fused RepNeXt mixer (include/pyhpe/repnext_mixer.h) for this translation
// unit's instruction set, as the table PYHPE_ISA_TABLE(kMixerKernels) (pyhpe/isa.h).
#include "cpu/mixer_kernels.h"

namespace pyhpe {
namespace cpu {

extern const MixerKernels PYHPE_ISA_TABLE(kMixerKernels);
const MixerKernels PYHPE_ISA_TABLE(kMixerKernels) = {
    PYHPE_ISA_NAME,
    {&mixer::forward<float>, &mixer::backward<float>},
    {&mixer::forward<double>, &mixer::backward<double>},
};

}  // namespace cpu
}  // namespace pyhpe
