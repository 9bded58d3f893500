"""Transforms: the front door to the geometric and photometric ops, plus ready pipelines.

Pipelines take a :class:`~pyhpe.data.sample.Sample` and return a dict of tensors
(``sample_to_tensors``) or, with ``output="sample"``, the transformed Sample. Randomness: pass
``seed`` for a reproducible stream; without it each call draws a seed from torch's RNG, so
DataLoader workers (which torch seeds per worker) get different, reproducible augmentations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from pyhpe.data.geometric import (
    center_crop,
    crop,
    hflip,
    random_resized_crop_box,
    resize,
    resize_shorter_side,
    sixdrepnet_test_box,
    sixdrepnet_train_box,
    square_box,
)
from pyhpe.data.photometric import (  # noqa: F401 (re-exported)
    IMAGENET_MEAN,
    IMAGENET_STD,
    color_jitter,
    gaussian_noise,
    pil_blur,
    to_batch,
    to_tensor,
)
from pyhpe.data.sample import Sample

_TENSOR_FIELDS = ("R", "euler", "t", "K", "bbox", "landmarks", "vertices")


def sample_to_tensors(sample: Sample) -> dict[str, torch.Tensor]:
    """``image`` (3, H, W) normalised float32 and every present label as a float32 tensor."""
    out = {"image": to_tensor(sample.image)}
    for name in _TENSOR_FIELDS:
        value = getattr(sample, name)
        if value is not None:
            out[name] = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if sample.landmarks_visible is not None:
        out["landmarks_visible"] = torch.as_tensor(np.asarray(sample.landmarks_visible, dtype=bool))
    return out


class _Pipeline:
    def __init__(self, output: str, seed: int | None):
        if output not in ("tensors", "sample"):
            raise ValueError(f"output must be 'tensors' or 'sample', got {output!r}")
        self.output = output
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def rng(self) -> np.random.Generator:
        if self._rng is not None:
            return self._rng
        return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))

    def finish(self, sample: Sample):
        return sample_to_tensors(sample) if self.output == "tensors" else sample


@dataclass
class Augment:
    """Photometric training extras (off by default, 6DRepNet uses none of them)."""

    jitter: float = 0.0  # brightness/contrast/saturation amount, 0 = off
    noise_sigma: float = 0.0  # grey levels, 0 = off


class SixDRepNetTrain(_Pipeline):
    """6DRepNet's training chain: random-margin crop from the landmark box (k ~ U[0.2, 0.4)),
    flip p = 0.5 with labels mirrored, PIL blur p = 0.05, RandomResizedCrop(size, scale), then
    optional colour jitter / Gaussian noise. ``margin_crop=False`` for pre-cropped data (BIWI npz)."""

    def __init__(self, size: int = 224, margin_crop: bool = True, flip_p: float = 0.5,
                 blur_p: float = 0.05, scale=(0.8, 1.0), augment: Augment | None = None,
                 output: str = "tensors", seed: int | None = None):
        super().__init__(output, seed)
        self.size, self.margin_crop, self.flip_p, self.blur_p = size, margin_crop, flip_p, blur_p
        self.scale, self.augment = scale, augment or Augment()

    def __call__(self, sample: Sample):
        rng = self.rng()
        if self.margin_crop:
            if sample.bbox is None:
                raise ValueError(f"{sample.source}: margin crop needs a box (or landmarks)")
            sample = crop(sample, sixdrepnet_train_box(sample.bbox, rng))
        if rng.random() < self.flip_p:
            sample = hflip(sample)
        image = sample.image
        if rng.random() < self.blur_p:
            image = pil_blur(image)
        if self.augment.jitter:
            image = color_jitter(image, rng, self.augment.jitter, self.augment.jitter, self.augment.jitter)
        if self.augment.noise_sigma:
            image = gaussian_noise(image, rng, self.augment.noise_sigma)
        sample = dataclasses.replace(sample, image=image)
        h, w = sample.image.shape[:2]
        sample = resize(crop(sample, random_resized_crop_box(h, w, rng, self.scale)), self.size)
        return self.finish(sample)


class SixDRepNetTest(_Pipeline):
    """6DRepNet's test chain: fixed-margin crop (k = ``margin`` = 0.2, AFLW2000), Resize(256) on
    the shorter side, CenterCrop(224). ``margin_crop=False`` for pre-cropped data (BIWI npz)."""

    def __init__(self, resize_to: int = 256, size: int = 224, margin_crop: bool = True,
                 output: str = "tensors", margin: float = 0.2):
        super().__init__(output, seed=0)
        if not 0.0 <= margin <= 1.0:
            raise ValueError(f"test margin must be in [0, 1], got {margin}")
        self.resize_to, self.size, self.margin_crop, self.margin = resize_to, size, margin_crop, margin

    def __call__(self, sample: Sample):
        if self.margin_crop:
            if sample.bbox is None:
                raise ValueError(f"{sample.source}: margin crop needs a box (or landmarks)")
            sample = crop(sample, sixdrepnet_test_box(sample.bbox, self.margin))
        sample = center_crop(resize_shorter_side(sample, self.resize_to), self.size)
        return self.finish(sample)


class SquareCrop(_Pipeline):
    """TRG-style 6DoF crop: square box of 1.5× the landmark extent, resized to ``size``; with
    ``train=True`` the centre/side are jittered and the image flipped with p = ``flip_p``.
    K, box, landmarks and vertices stay consistent (see :mod:`pyhpe.data.geometric`)."""

    def __init__(self, size: int = 192, scale: float = 1.5, train: bool = False,
                 flip_p: float = 0.0, output: str = "tensors", seed: int | None = None):
        super().__init__(output, seed)
        self.size, self.scale, self.train, self.flip_p = size, scale, train, flip_p

    def __call__(self, sample: Sample):
        rng = self.rng()
        if sample.bbox is None:
            raise ValueError(f"{sample.source}: square crop needs a box (or landmarks)")
        box = square_box(sample.bbox, self.scale, rng if self.train else None)
        sample = resize(crop(sample, box), self.size)
        if self.train and rng.random() < self.flip_p:
            sample = hflip(sample)
        return self.finish(sample)
