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
    """Scale brightness, contrast (about the mean grey) and saturation by U(1 ± amount) each."""
    img = image.astype(np.float32)
    if brightness:
        img *= rng.uniform(1 - brightness, 1 + brightness)
    if contrast:
        mean = float((img @ _GRAY_WEIGHTS).mean())
        img = (img - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    if saturation:
        gray = (img @ _GRAY_WEIGHTS)[..., None]
        img = (img - gray) * rng.uniform(1 - saturation, 1 + saturation) + gray
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def gaussian_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 5.0) -> np.ndarray:
    """Add N(0, sigma²) noise (grey levels) per pixel and channel, clipped to [0, 255]."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


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
