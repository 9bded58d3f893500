"""ONNX export of a SixDRepNet model's deploy form (TorchScript exporter, opset 17, one file).

The graph returns the raw 6D vector (``output="6d"``, what deployments run; Gram-Schmidt is then
native post-processing) or the rotation matrix (``output="matrix"``, Gram-Schmidt in the graph,
written with the pure-torch reference so that it exports as plain ONNX ops).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 17


class SixDOutput(nn.Module):
    """``forward(x) = model.forward_6d(x)``: (B, 6)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_6d(x)


class MatrixOutput(nn.Module):
    """``forward(x) = gram_schmidt(model.forward_6d(x))``: (B, 3, 3), exportable ops only."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from pyhpe.ops.reference import gram_schmidt_ref

        return gram_schmidt_ref(self.model.forward_6d(x))


def graph_module(model: nn.Module, output: str) -> nn.Module:
    """The module whose forward is exported, for ``output`` "6d" or "matrix"."""
    if not hasattr(model, "forward_6d"):
        raise TypeError(f"{type(model).__name__} has no forward_6d: not a SixDRepNet model")
    if output == "6d":
        return SixDOutput(model).eval()
    if output == "matrix":
        return MatrixOutput(model).eval()
    raise ValueError(f"output must be '6d' or 'matrix', got {output!r}")


def export_onnx(model: nn.Module, path: str | os.PathLike, input_size: int, output: str = "6d",
                dynamic_batch: bool = False, input_name: str = "input",
                output_name: str = "output") -> Path:
    """Write ``model`` (already in deploy form, eval mode) to ``path`` as one ONNX file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = graph_module(model, output)
    x = torch.zeros(1, 3, input_size, input_size)
    dynamic_axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    return path
