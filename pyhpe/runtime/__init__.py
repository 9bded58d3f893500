"""Inference: one :class:`Predictor` over three backends (torch, onnxruntime, ncnn), shared
preprocessing (6DRepNet test crop, ImageNet normalisation) and post-processing (``pyhpe.ops``)."""

from __future__ import annotations

from pyhpe.runtime.predictor import BACKENDS, Predictor

__all__ = ["BACKENDS", "Predictor"]
