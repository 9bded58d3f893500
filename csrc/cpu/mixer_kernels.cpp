// Instantiates the fused RepNeXt mixer (include/pyhpe/repnext_mixer.h) for this translation
// unit's instruction set. PYHPE_MIXER_TABLE names the table it defines.
#include "cpu/mixer_kernels.h"

#ifndef PYHPE_MIXER_TABLE
#define PYHPE_MIXER_TABLE kMixerKernelsBaseline
#endif

#if defined(__ARM_NEON)
#define PYHPE_MIXER_ISA "neon"
#elif defined(__AVX2__)
#define PYHPE_MIXER_ISA "avx2"
#elif defined(__SSE2__)
#define PYHPE_MIXER_ISA "sse2"
#else
#define PYHPE_MIXER_ISA "scalar"
#endif

namespace pyhpe {
namespace cpu {

extern const MixerKernels PYHPE_MIXER_TABLE;
const MixerKernels PYHPE_MIXER_TABLE = {
    PYHPE_MIXER_ISA,
    {&mixer::forward<float>, &mixer::backward<float>},
    {&mixer::forward<double>, &mixer::backward<double>},
};

}  // namespace cpu
}  // namespace pyhpe
