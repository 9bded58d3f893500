"""ONNX export of a pose model's deploy form (TorchScript exporter, opset 17, one file).

The graph computes the task's deploy outputs of a chosen kind (pyhpe.tasks says which kinds a
task has and what each computes). Graph outputs are named after the task's outputs; inputs are
the image ("input") then the task's extra inputs (``task.deploy_inputs``, e.g. TRGv2's camera
vector), named after them. Graphs with extra inputs have batch 1.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 17


def graph_module(model: nn.Module, kind: str | None = None) -> nn.Module:
    """The module whose forward is exported: the model's task's deploy outputs of ``kind``
    (None: the task's default)."""
    from pyhpe.tasks import task_of

    task = task_of(model)
    return task.deploy_module(model, kind or task.default_deploy)


def output_names(model: nn.Module, kind: str | None = None) -> list[str]:
    """Names of the graph's outputs, in order."""
    from pyhpe.tasks import task_of

    task = task_of(model)
    return [name for name, _ in task.deploy_outputs(kind or task.default_deploy)]


def extra_inputs(model: nn.Module) -> tuple:
    """The graph's inputs after the image (:class:`pyhpe.tasks.base.DeployInput`, in order)."""
    from pyhpe.tasks import task_of

    return tuple(task_of(model).deploy_inputs)


def example_inputs(model: nn.Module, input_size: int) -> tuple[torch.Tensor, ...]:
    """The inputs a graph is traced with: a zero image (batch 1) and, for a task with extra
    inputs, representative values of them (the task's ``deploy_samples``)."""
    from pyhpe.tasks import task_of

    x = torch.zeros(1, 3, input_size, input_size)
    extras = extra_inputs(model)
    if not extras:
        return (x,)
    samples = task_of(model).deploy_samples(input_size, 1, 0)
    return (x, *(torch.from_numpy(samples[e.name][:1]) for e in extras))


def export_onnx(model: nn.Module, path: str | os.PathLike, input_size: int, output: str | None = None,
                dynamic_batch: bool = False, input_name: str = "input") -> Path:
    """Write ``model`` (already in deploy form, eval mode) to ``path`` as one ONNX file;
    ``output`` is the deploy kind."""
    path = Path(path)
    extras = extra_inputs(model)
    if dynamic_batch and extras:
        raise ValueError("--dynamic-batch: graphs with inputs beyond the image are batch 1 (backends "
                         "run them sample by sample)")
    path.parent.mkdir(parents=True, exist_ok=True)
    module = graph_module(model, output)
    names = output_names(model, output)
    inputs = example_inputs(model, input_size)
    dynamic_axes = {n: {0: "batch"} for n in (input_name, *names)} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, inputs, str(path), dynamo=False, opset_version=OPSET,
                          input_names=[input_name, *(e.name for e in extras)], output_names=names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    return path
