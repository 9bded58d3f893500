"""ONNX export of a pose model's deploy form (TorchScript exporter, opset 17, one file).

The graph computes the task's deploy outputs of a chosen kind (pyhpe.tasks: e.g. the rotation
task's "6d" — the raw 6D vector, Gram-Schmidt as native post-processing — or "matrix", with
Gram-Schmidt in the graph as plain ONNX ops). Graph outputs are named after the task's outputs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 17


def graph_module(model: nn.Module, kind: str) -> nn.Module:
    """The module whose forward is exported: the model's task's deploy outputs of ``kind``."""
    from pyhpe.tasks import task_of

    return task_of(model).deploy_module(model, kind)


def output_names(model: nn.Module, kind: str) -> list[str]:
    """Names of the graph's outputs, in order."""
    from pyhpe.tasks import task_of

    return [name for name, _ in task_of(model).deploy_outputs(kind)]


def export_onnx(model: nn.Module, path: str | os.PathLike, input_size: int, output: str = "6d",
                dynamic_batch: bool = False, input_name: str = "input") -> Path:
    """Write ``model`` (already in deploy form, eval mode) to ``path`` as one ONNX file;
    ``output`` is the deploy kind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = graph_module(model, output)
    names = output_names(model, output)
    x = torch.zeros(1, 3, input_size, input_size)
    dynamic_axes = {n: {0: "batch"} for n in (input_name, *names)} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=[input_name], output_names=names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    return path
