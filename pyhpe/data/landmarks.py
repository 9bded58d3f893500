"""iBUG-68 landmark helpers: the left/right mirror permutation (boxes and projection: pyhpe.geometry.camera)."""

from __future__ import annotations

import numpy as np


def _ibug68_mirror() -> np.ndarray:
    pairs = [(i, 16 - i) for i in range(8)]  # jaw line
    pairs += [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips
    perm = np.arange(68)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


IBUG68_MIRROR = _ibug68_mirror()
"""``mirrored[i] = original[IBUG68_MIRROR[i]]`` relabels points after a horizontal flip."""
