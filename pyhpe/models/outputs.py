"""What a pose model returns: one typed record instead of a bare tensor.

Every pose model's ``forward`` returns a :class:`PoseOutput`. ``R`` is always there (head → camera,
(B, 3, 3), the convention of docs/conventions.md); the other fields are filled where the model
has them. Tasks (pyhpe.tasks) read the fields they need; nothing downstream parses a raw tensor.
The record is a registered pytree, so DDP, ``torch.compile`` and ``torch.export`` see its tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch
from torch import Tensor
from torch.utils import _pytree

__all__ = ["PoseOutput"]


@dataclass
class PoseOutput:
    """Named outputs of a pose model for a batch of B images.

    R: (B, 3, 3) rotation head → camera.
    sixd: (B, 6) the regressed 6D vector (first two matrix columns, pyhpe.geometry.rotation),
        for models that regress rotation as 6D.
    t: (B, 3) translation of the head centre in camera coordinates, metres.
    vertices: (B, V, 3) dense face vertices in camera coordinates, metres.
    landmarks: (B, L, 2) image landmarks, pixels of the model's input.
    extra: further named tensors of a task (e.g. a toy task's scalar).
    """

    R: Tensor
    sixd: Tensor | None = None
    t: Tensor | None = None
    vertices: Tensor | None = None
    landmarks: Tensor | None = None
    extra: dict[str, Tensor] = field(default_factory=dict)

    def named(self) -> dict[str, Tensor]:
        """The tensors present, by name (``extra``'s entries under their own names)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out = {k: v for k, v in out.items() if v is not None}
        out.update(self.extra)
        return out

    def __getitem__(self, name: str) -> Tensor:
        named = self.named()
        if name not in named:
            raise KeyError(f"this model has no output {name!r} (it has {sorted(named)})")
        return named[name]

    def to(self, *args, **kwargs) -> PoseOutput:
        """Every tensor moved/cast like ``Tensor.to``."""
        return _pytree.tree_map(lambda v: v.to(*args, **kwargs) if isinstance(v, torch.Tensor) else v, self)


_pytree.register_dataclass(PoseOutput)
