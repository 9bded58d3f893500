"""The kernel front door: native ops registered as ``torch.ops.pyhpe.*``.

CPU tensors run the native CPU kernel, CUDA tensors the CUDA kernel when it was built, and
anything else the pure-torch reference (:mod:`pyhpe.ops.reference`) with a one-time warning.
"""

from pyhpe.ops.repnext import repnext_mixer, repnext_mixer_ref
from pyhpe.ops.rotation import (
    geodesic_distance,
    geodesic_loss,
    gram_schmidt,
    matrix_to_euler,
    sixd_geodesic_loss,
)

__all__ = [
    "geodesic_distance",
    "geodesic_loss",
    "gram_schmidt",
    "matrix_to_euler",
    "repnext_mixer",
    "repnext_mixer_ref",
    "sixd_geodesic_loss",
]
