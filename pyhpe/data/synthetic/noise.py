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


@lru_cache(maxsize=1)
def material_bank() -> dict[str, np.ndarray]:
    """Grey (BANK_SIZE, BANK_SIZE) uint8 patterns around 128, from a fixed seed (read-only).

    ``"skin"``: soft blotches and fine grain; ``"hair"``: coarse grain and strands. A texture is
    a random window of a pattern times a colour / 128 (see :func:`tint`).
    """
    rng = np.random.default_rng(20260102)
    n = BANK_SIZE
    blotch = cv2.resize(rng.standard_normal((24, 24)).astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
    skin = 128.0 * (1.0 + 0.05 * blotch) + 3.0 * rng.standard_normal((n, n))
    coarse = cv2.resize(rng.standard_normal((n // 2, n // 2)).astype(np.float32), (n, n))
    hair = (128.0 + 10.0 * coarse).astype(np.float32)
    for x, y, dx, dy, tone in zip(*(rng.uniform(0, 1, (5, 1500)) * np.array([[n], [n], [14], [36], [1]]))):
        cv2.line(hair, (int(x), int(y)), (int(x + dx - 7), int(y + dy)), float(128 * (0.6 + 0.8 * tone)), 1, cv2.LINE_AA)
    bank = {}
    for name, grey in (("skin", skin), ("hair", hair)):
        g = np.clip(np.round(grey), 0, 255).astype(np.uint8)
        g.setflags(write=False)
        bank[name] = g
    return bank


_RAMP = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2)  # (256, 1, 3): every grey level


def tint(grey: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8: grey levels (h, w) times colour / 128 per channel, rounded and saturated.

    The same values as ``cv2.multiply`` of the grey image (as 3 channels) with that scale, through
    a 256-entry table (one ``cv2.applyColorMap``), which is several times cheaper.
    """
    scale = tuple(float(c) / 128.0 for c in colour) + (0.0,)
    return cv2.applyColorMap(grey, cv2.multiply(_RAMP, scale))


def coloured_material(rng: np.random.Generator, name: str, colour: np.ndarray, h: int, w: int,
                      rows: int | None = None) -> np.ndarray:
    """(h, w, 3) uint8: a random window of material ``name`` tinted to ``colour`` (RGB 0-255).

    ``rows``: tint only the window's first ``rows`` rows (the window is still drawn for h x w, so
    the random stream does not depend on it); the result is then (rows, w, 3).
    """
    pattern = material_bank()[name]
    y = int(rng.integers(0, BANK_SIZE - h + 1))
    x = int(rng.integers(0, BANK_SIZE - w + 1))
    return tint(pattern[y: y + (h if rows is None else min(rows, h)), x: x + w], colour)


def noise_crop(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random (h, w, 3) window of the bank (a read-only view)."""
    if not (0 < h <= BANK_SIZE and 0 < w <= BANK_SIZE):
        raise ValueError(f"noise windows must be 1..{BANK_SIZE} px, asked for {h}x{w}")
    y = int(rng.integers(0, BANK_SIZE - h + 1))
    x = int(rng.integers(0, BANK_SIZE - w + 1))
    return noise_bank()[y: y + h, x: x + w]


def grain_field(rng: np.random.Generator, h: int, w: int, scale: int = 1) -> np.ndarray:
    """(h, w, 3) uint8 grain around 128 (std GRAIN_STD): a window of the bank, or for ``scale`` > 1
    a smaller window resized up (coarser grain). Read-only when it is a view of the bank."""
    scale = max(int(scale), -(-max(h, w) // BANK_SIZE))  # images larger than the bank get coarser grain
    if scale > 1:
        small = noise_crop(rng, -(-h // scale), -(-w // scale))
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return noise_crop(rng, h, w)


def add_grain(rng: np.random.Generator, image: np.ndarray, sigma: float, scale: int = 1) -> np.ndarray:
    """``image`` (uint8, H x W x 3) plus Gaussian grain of std ``sigma`` (grey levels), saturated.

    ``scale`` > 1 makes coarser grain (a smaller window resized up).
    """
    grain = grain_field(rng, image.shape[0], image.shape[1], scale)
    a = float(sigma) / GRAIN_STD
    return cv2.addWeighted(image, 1.0, grain, a, -128.0 * a)
