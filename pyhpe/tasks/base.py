"""The pose-task interface: everything that differs between kinds of pose model.

A task says what a batch holds, how the model is called, the loss, the evaluation report, the
deploy outputs and their decoding, and the preprocessing. The engine (trainer, evaluation, demo),
the export and the runtime call a task and never a model's output convention directly, so a new
kind of model is a new task module plus its model family, with no edit to pyhpe/engine,
pyhpe/export or pyhpe/runtime.

Tasks register by name (``@register_task``); a model names its task with the class attribute
``pose_task`` and a model card carries it (pyhpe.models.card).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from pyhpe.models.card import CropRule, ModelCard
from pyhpe.models.outputs import PoseOutput

__all__ = ["DeployInput", "PoseTask", "get_task", "register_task", "task_names", "task_of"]

_TASKS: dict[str, type[PoseTask]] = {}


@dataclass(frozen=True)
class DeployInput:
    """A deployed graph's input after the image: its name, per-sample shape and, for a vector,
    what each entry is (written into the export's sidecar)."""

    name: str
    shape: tuple[int, ...]
    layout: tuple[str, ...] = ()


class PoseTask:
    """Base class of pose tasks; subclasses fill the class attributes and methods below."""

    name: ClassVar[str] = ""
    #: keys of a training/evaluation batch (what the dataset items keep)
    batch_keys: ClassVar[tuple[str, ...]] = ("image", "R", "euler")
    #: column name of the mean training loss in log.csv, in :meth:`loss_value` units
    loss_label: ClassVar[str] = "train_loss"
    #: exported graph outputs per deploy kind: kind -> ((name, per-sample shape), ...)
    deploy_kinds: ClassVar[dict[str, tuple[tuple[str, tuple[int, ...]], ...]]] = {}
    default_deploy: ClassVar[str] = ""
    #: graph inputs after the image (e.g. TRGv2's camera vector); none for image-only graphs
    deploy_inputs: ClassVar[tuple[DeployInput, ...]] = ()
    #: the crop a model of this task is evaluated with unless its card says otherwise
    default_crop: ClassVar[CropRule] = CropRule()
    #: samples keep their dense vertices (6DoF tasks; rotation tasks drop them to save memory)
    needs_mesh: ClassVar[bool] = False

    # --- training -------------------------------------------------------------------------
    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> PoseOutput:
        """The model's outputs for a batch (already on the model's device)."""
        return model(batch["image"])

    def loss(self, out: PoseOutput, batch: dict[str, Tensor]) -> Tensor:
        """Scalar training loss."""
        raise NotImplementedError

    def loss_value(self, loss: float) -> float:
        """The loss in the units logged under :attr:`loss_label`."""
        return loss

    def loss_text(self, loss: float) -> str:
        """The loss as shown on the progress bar."""
        return f"{self.loss_value(loss):.4f}"

    def train_transform(self, cfg: dict, src: dict) -> Callable[[int | None], Callable]:
        """``make(seed)`` → a training pipeline Sample → dict holding :attr:`batch_keys`."""
        raise NotImplementedError

    def test_transform(self, crop: CropRule, input_size: int, src: dict, output: str = "tensors") -> Callable:
        """The evaluation pipeline Sample → dict holding :attr:`batch_keys` (``output="sample"``:
        the cropped Sample itself, for pictures)."""
        raise NotImplementedError

    # --- evaluation -----------------------------------------------------------------------
    def gather(self, out: PoseOutput, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per-sample tensors (CPU) that the report needs, for one batch."""
        raise NotImplementedError

    def predictions(self, gathered: dict[str, Tensor]) -> Any:
        """The record of a whole dataset's predictions (it has ``.report() -> dict``)."""
        raise NotImplementedError

    def flat_report(self, report: dict, prefix: str) -> dict[str, float]:
        """Scalars of a report as ``prefix/metric`` (CSV columns)."""
        raise NotImplementedError

    def format_report(self, report: dict, title: str) -> str:
        """A small text table of a report."""
        raise NotImplementedError

    def plots(self, predictions: Any, out_dir: Path, title: str) -> list[Path]:
        """Pictures of an evaluation written into ``out_dir``."""
        return []

    # --- model card, preprocessing, deployment ---------------------------------------------
    def check_source(self, src: dict, where: str) -> None:
        """Raise ValueError (one line) when a configured data source cannot feed this task."""

    def config_crop(self, data: dict) -> CropRule:
        """The test crop a training config asks for (its ``data`` section)."""
        return CropRule(margin=float(data["test_margin"]), resize=int(data["test_resize"]))

    def card(self, model: str, kwargs: dict | None = None, input_size: int = 224,
             crop: CropRule | None = None, form: str = "train") -> ModelCard:
        """The card of a model of this task (kwargs made self-contained: :meth:`card_kwargs`)."""
        return ModelCard(task=self.name, model=model, kwargs=self.card_kwargs(kwargs or {}), form=form,
                         input_size=int(input_size), crop=crop or self.default_crop,
                         outputs=self.model_outputs())

    def card_kwargs(self, kwargs: dict) -> dict:
        """Registry kwargs as a model file stores them: a copy with every reference to a file
        outside the model file replaced by what it names, so the file rebuilds its model anywhere."""
        return dict(kwargs)

    def model_outputs(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Named per-sample outputs of the model (``PoseOutput`` fields) for the card."""
        return ()

    def deploy_module(self, model: nn.Module, kind: str) -> nn.Module:
        """A module whose ``forward(x, *extra)`` returns the exported graph's outputs of ``kind``
        (a tensor for one output, a tuple for several), in :attr:`deploy_kinds` order, from the
        image and one tensor per :attr:`deploy_inputs`; exportable ops only."""
        raise NotImplementedError

    def deploy_outputs(self, kind: str, model: nn.Module | None = None
                       ) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The graph outputs of ``kind`` (name, per-sample shape); ``model`` lets a task fill in
        sizes that depend on the model (a -1 in :attr:`deploy_kinds`)."""
        if kind not in self.deploy_kinds:
            raise ValueError(f"task {self.name} exports {sorted(self.deploy_kinds)}, not {kind!r}")
        return self.deploy_kinds[kind]

    def deploy_output_unit(self, name: str, input_size: int) -> float:
        """The unit export verification measures graph output ``name`` in (its tolerance is in
        these units): 1 by default; a task with outputs in pixels may give the scale that makes
        them resolution-free."""
        return 1.0

    def deploy_samples(self, input_size: int, n: int, seed: int) -> dict[str, np.ndarray] | None:
        """Representative graph inputs for verifying an export: {"image": (n, 3, S, S) normalised,
        one array per :attr:`deploy_inputs`}. None (image-only tasks): synthetic renders through
        the Predictor's preprocessing (pyhpe.export.verify)."""
        if self.deploy_inputs:
            raise NotImplementedError(f"task {self.name} has extra deploy inputs but no deploy_samples")
        return None

    def decode(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A deployed graph's outputs (by name, batch first; with the :attr:`deploy_inputs` they
        were computed from) → the user-facing result arrays."""
        raise NotImplementedError

    def decode_for(self, raw: dict[str, np.ndarray], card: ModelCard) -> dict[str, np.ndarray]:
        """:meth:`decode` for the model ``card`` describes (tasks whose decoding depends on the
        model's settings override this)."""
        return self.decode(raw)

    def result_shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Names of :meth:`decode`'s arrays with their per-sample shapes (for empty results)."""
        raise NotImplementedError


def register_task(cls: type[PoseTask]) -> type[PoseTask]:
    """Class decorator: make a task available under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _TASKS and _TASKS[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} is already registered by {_TASKS[cls.name].__name__}")
    _TASKS[cls.name] = cls
    return cls


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str) -> PoseTask:
    """An instance of the task registered as ``name``."""
    import pyhpe.tasks  # noqa: F401  (registers the built-in tasks)

    if name not in _TASKS:
        raise ValueError(f"unknown pose task {name!r} (known: {', '.join(task_names())})")
    return _TASKS[name]()


def task_of(model: nn.Module | str) -> PoseTask:
    """The task of a model instance (its ``pose_task`` attribute) or of a registry name."""
    if isinstance(model, str):
        from pyhpe.models.registry import get_factory

        factory = get_factory(model)
        name = getattr(factory, "pose_task", None)
        if name is None:
            raise ValueError(f"model {model!r} names no pose task (not a pose model)")
        return get_task(name)
    name = getattr(model, "pose_task", None)
    if name is None and isinstance(model, nn.parallel.DistributedDataParallel):
        name = getattr(model.module, "pose_task", None)
    if name is None:
        raise TypeError(f"{type(model).__name__} names no pose task (class attribute `pose_task`)")
    return get_task(name)


def empty_results(task: PoseTask) -> dict[str, np.ndarray]:
    """Zero-length result arrays of a task (a frame without faces)."""
    return {n: np.zeros((0, *shape), np.float32) for n, shape in task.result_shapes()}


def to_device(batch: dict[str, Tensor], device: torch.device, layout=None) -> dict[str, Tensor]:
    """A batch on ``device``; the image in ``layout`` (a torch.memory_format) when given."""
    out = {k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}
    if layout is not None:
        out["image"] = out["image"].contiguous(memory_format=layout)
    return out
