"""Numerical verification of an exported model against the PyTorch deploy form.

Two input sets: random normal images (seeded) and real-looking ones (synthetic face renders from
pyhpe.data.synthetic, through the Predictor's preprocessing). The exported graph's raw output
(6D or matrix) must match PyTorch within ``tolerance`` (max absolute difference), else
:class:`VerificationError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

FP32_TOLERANCE = 1e-4
# fp16 weights (pnnx fp16=1) round every weight to 11 significant bits; the error grows with
# depth. Stated, measured bound for the registered models: see docs/deployment.md.
FP16_TOLERANCE = 5e-2


class VerificationError(RuntimeError):
    """An exported model disagrees with PyTorch beyond the tolerance."""


def random_inputs(input_size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, input_size, input_size, generator=g).numpy()


def sample_inputs(input_size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    """Synthetic face renders, preprocessed like real crops (cached per arguments)."""
    return _sample_inputs(input_size, n, seed).copy()


@functools.lru_cache(maxsize=8)
def _sample_inputs(input_size: int, n: int, seed: int) -> np.ndarray:
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads
    from pyhpe.runtime.preprocess import prepare

    size = max(64, round(input_size * 256 / 224))
    ds = SyntheticHeads(n=n, seed=seed, config=SynthConfig(size=size))
    return prepare([ds[i].image for i in range(n)], input_size)


def torch_reference(model: nn.Module, x: np.ndarray, output: str) -> np.ndarray:
    """The deploy-form PyTorch output for ``x``: (N, 6) or (N, 3, 3)."""
    from pyhpe.export.onnx import graph_module

    with torch.inference_mode():
        return graph_module(model, output)(torch.from_numpy(x)).numpy()


def verify(model: nn.Module, run: Callable[[np.ndarray], np.ndarray], input_size: int,
           output: str = "6d", tolerance: float = FP32_TOLERANCE, what: str = "export") -> dict:
    """Compare ``run(x)`` with PyTorch on random and sample inputs; returns the errors, raises
    :class:`VerificationError` beyond ``tolerance``."""
    report = {"tolerance": tolerance, "output": output}
    for name, x in (("random", random_inputs(input_size)), ("samples", sample_inputs(input_size))):
        ref = torch_reference(model, x, output)
        got = np.asarray(run(x), dtype=np.float32).reshape(ref.shape)
        if not np.all(np.isfinite(got)):
            raise VerificationError(f"{what}: non-finite output on {name} inputs")
        err = float(np.max(np.abs(got - ref)))
        report[f"max_abs_err_{name}"] = err
        report[f"max_abs_ref_{name}"] = float(np.max(np.abs(ref)))
        if err > tolerance:
            raise VerificationError(
                f"{what}: max |export - pytorch| = {err:.3g} on {name} inputs exceeds {tolerance:g}")
    return report
