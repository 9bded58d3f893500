"""Numerical verification of an exported model against the PyTorch deploy form.

Two input sets: random normal images (seeded) and real-looking ones (synthetic face renders from
pyhpe.data.synthetic, through the Predictor's preprocessing). A task with inputs beyond the
image (``task.deploy_inputs``) supplies its real-looking set itself (``task.deploy_samples``:
TRGv2's evaluation crops with their camera vectors); the random images go with its extra inputs.
Every output of the exported graph (the task's deploy outputs, e.g. the 6D vector or the matrix)
must match PyTorch within ``tolerance`` (max absolute difference), else :class:`VerificationError`.
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


def torch_reference(model: nn.Module, x: np.ndarray, output: str,
                    extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The deploy-form PyTorch outputs of kind ``output`` for ``x`` (and the task's extra inputs
    ``extra``, by name), by name."""
    from pyhpe.export.onnx import extra_inputs, graph_module, output_names

    args = [torch.from_numpy(x), *(torch.from_numpy(extra[e.name]) for e in extra_inputs(model))]
    with torch.inference_mode():
        out = graph_module(model, output)(*args)
    outs = out if isinstance(out, tuple) else (out,)
    return {name: o.numpy() for name, o in zip(output_names(model, output), outs)}


def input_sets(model: nn.Module, input_size: int) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """[(set name, images, extra inputs by name)]: random images, then real-looking ones."""
    from pyhpe.tasks import task_of

    samples = task_of(model).deploy_samples(input_size, 2, 0)
    if samples is None:
        return [("random", random_inputs(input_size), {}), ("samples", sample_inputs(input_size), {})]
    extra = {k: v for k, v in samples.items() if k != "image"}
    return [("random", random_inputs(input_size), extra), ("samples", samples["image"], extra)]


def verify(model: nn.Module, run: Callable[..., np.ndarray | dict], input_size: int,
           output: str | None = None, tolerance: float = FP32_TOLERANCE, what: str = "export") -> dict:
    """Compare ``run(x)`` (``run(x, extra)`` for a task with extra inputs; outputs by name, or one
    array for a one-output graph) with PyTorch on random and sample inputs; returns the largest
    errors (overall and per output, each in the task's unit for it:
    ``PoseTask.deploy_output_unit``), raises :class:`VerificationError` beyond ``tolerance``."""
    from pyhpe.tasks import task_of

    task = task_of(model)
    report = {"tolerance": tolerance, "output": output}
    for name, x, extra in input_sets(model, input_size):
        refs = torch_reference(model, x, output, extra)
        got_all = run(x, extra) if extra else run(x)
        if not isinstance(got_all, dict):
            (only,) = refs
            got_all = {only: got_all}
        err, largest = 0.0, 0.0
        for key, ref in refs.items():
            if key not in got_all:
                raise VerificationError(f"{what}: the export has no output {key!r}")
            got = np.asarray(got_all[key], dtype=np.float32).reshape(ref.shape)
            if not np.all(np.isfinite(got)):
                raise VerificationError(f"{what}: non-finite output {key!r} on {name} inputs")
            err_key = float(np.max(np.abs(got - ref))) / task.deploy_output_unit(key, input_size)
            if len(refs) > 1:
                report.setdefault("per_output", {})[f"{key}_{name}"] = err_key
            err = max(err, err_key)
            largest = max(largest, float(np.max(np.abs(ref))))
        report[f"max_abs_err_{name}"] = err
        report[f"max_abs_ref_{name}"] = largest
        if err > tolerance:
            raise VerificationError(
                f"{what}: max |export - pytorch| = {err:.3g} on {name} inputs exceeds {tolerance:g}")
    return report
