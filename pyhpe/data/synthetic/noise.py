"""A fixed bank of Gaussian grain that every random texture and sensor-noise draw crops from.

Generating fresh per-pixel noise for every image costs more than rendering it; cropping a random
window from one fixed bank (the same on every machine) keeps images deterministic and cheap.
The bank is uint8 centred on 128 with standard deviation GRAIN_STD, so it can be added to an
image with saturation by ``cv2.addWeighted`` (see :func:`add_grain`).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

BANK_SIZE = 512
GRAIN_STD = 32.0


@lru_cache(maxsize=1)
def noise_bank() -> np.ndarray:
    """(BANK_SIZE, BANK_SIZE, 3) uint8 grain from a fixed seed (read-only)."""
    g = np.random.default_rng(20260101).standard_normal((BANK_SIZE, BANK_SIZE, 3))
    bank = np.clip(np.round(128.0 + GRAIN_STD * g), 0, 255).astype(np.uint8)
    bank.setflags(write=False)
    return bank


def noise_crop(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random (h, w, 3) window of the bank (contiguous copy)."""
    if not (0 < h <= BANK_SIZE and 0 < w <= BANK_SIZE):
        raise ValueError(f"noise windows must be 1..{BANK_SIZE} px, asked for {h}x{w}")
    y = int(rng.integers(0, BANK_SIZE - h + 1))
    x = int(rng.integers(0, BANK_SIZE - w + 1))
    return np.ascontiguousarray(noise_bank()[y: y + h, x: x + w])


def add_grain(rng: np.random.Generator, image: np.ndarray, sigma: float, scale: int = 1) -> np.ndarray:
    """``image`` (uint8, H x W x 3) plus Gaussian grain of std ``sigma`` (grey levels), saturated.

    ``scale`` > 1 makes coarser grain (a smaller window resized up).
    """
    h, w = image.shape[:2]
    if scale > 1:
        small = noise_crop(rng, h // scale + 1, w // scale + 1)
        grain = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        grain = noise_crop(rng, h, w)
    a = float(sigma) / GRAIN_STD
    return cv2.addWeighted(image, 1.0, grain, a, -128.0 * a)
