"""Pixel-value augmentations on (H, W, 3) uint8 RGB images; labels are untouched."""

from __future__ import annotations

import cv2
import numpy as np
import torch

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# PIL's ImageFilter.BLUR kernel (6DRepNet's p = 0.05 blur): a 5×5 ring of ones, divided by 16.
_PIL_BLUR = np.ones((5, 5), dtype=np.float32)
_PIL_BLUR[1:4, 1:4] = 0
_PIL_BLUR /= _PIL_BLUR.sum()

_GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def pil_blur(image: np.ndarray) -> np.ndarray:
    """PIL's ``BLUR`` filter (5×5 ring kernel), edges replicated."""
    return cv2.filter2D(image, -1, _PIL_BLUR, borderType=cv2.BORDER_REPLICATE)


def color_jitter(image: np.ndarray, rng: np.random.Generator, brightness: float = 0.4,
                 contrast: float = 0.4, saturation: float = 0.4) -> np.ndarray:
    """Scale brightness, contrast (about the mean grey) and saturation by U(1 ± amount) each.

    The three steps are linear in the pixel, so they run as one 3×4 colour transform: with
    factors b, c, s, grey weights g (summing to 1) and m = b · mean(grey(image)),
    out = c·b·(s·I + (1 - s)·1gᵀ)·pixel + (1 - c)·m, rounded and clipped to [0, 255]."""
    b = rng.uniform(1 - brightness, 1 + brightness) if brightness else 1.0
    c = rng.uniform(1 - contrast, 1 + contrast) if contrast else 1.0
    s = rng.uniform(1 - saturation, 1 + saturation) if saturation else 1.0
    m = b * float(np.dot(cv2.mean(image)[:3], _GRAY_WEIGHTS)) if contrast else 0.0
    M = np.empty((3, 4), np.float32)
    M[:, :3] = c * b * (s * np.eye(3, dtype=np.float32) + (1 - s) * _GRAY_WEIGHTS[None, :])
    M[:, 3] = (1 - c) * m
    return cv2.transform(np.ascontiguousarray(image), M)


def gaussian_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 5.0) -> np.ndarray:
    """Add N(0, sigma²) noise (grey levels) per pixel and channel, clipped to [0, 255].

    Adding rounded noise to an integer image equals rounding the noisy image, so the noise is
    drawn straight into int16 (OpenCV's generator, seeded from ``rng``: ~3× faster than NumPy's
    normal) and added with saturation."""
    cv2.setRNGSeed(int(rng.integers(2**31)))
    noise = np.empty((image.size, 1), np.int16)  # one channel: randn's scalar sigma covers it all
    cv2.randn(noise, 0.0, float(sigma))
    return cv2.add(image, noise.reshape(image.shape), dtype=cv2.CV_8U)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32, scaled to [0, 1] and ImageNet-normalised."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    x = (image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def to_batch(images: list[np.ndarray]) -> torch.Tensor:
    """A list of same-size (H, W, 3) uint8 images -> (N, 3, H, W) float32, ImageNet-normalised."""
    if not images:
        raise ValueError("to_batch needs at least one image")
    return torch.stack([to_tensor(im) for im in images])
