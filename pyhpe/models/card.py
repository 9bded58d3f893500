"""The model card: one record that travels with a model's weights.

A card says what a weights file is and how to feed it: the task (pyhpe.tasks), the registry name
and factory kwargs, the form (train or deploy), the input size, the crop rule, the normalisation
and the named outputs. ``pyhpe train`` writes it into ``model.json``, ``pyhpe export`` into the
deploy sidecar; evaluation, ``pyhpe predict`` (every backend), the C runtime and the JNI bridge
read it, so each applies exactly the crop the model was evaluated with.

JSON form (``ModelCard.to_dict``)::

    {"version": 1, "task": "sixd_rotation", "model": "sixdrepnet_repnext_m0", "kwargs": {},
     "form": "train", "input_size": 64,
     "crop": {"kind": "margin_box", "margin": 0.2, "resize": 224},
     "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
     "outputs": [{"name": "R", "shape": [3, 3]}, {"name": "sixd", "shape": [6]}]}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["CARD_VERSION", "IMAGENET_MEAN", "IMAGENET_STD", "CropRule", "ModelCard"]

from pyhpe.data.photometric import IMAGENET_MEAN as _MEAN
from pyhpe.data.photometric import IMAGENET_STD as _STD
from pyhpe.geometry.camera import CROP_CONVENTIONS

CARD_VERSION = 1
IMAGENET_MEAN = tuple(float(v) for v in _MEAN.astype(float).round(6))
IMAGENET_STD = tuple(float(v) for v in _STD.astype(float).round(6))
CROP_KINDS = ("margin_box", "landmark_box", "none")
FORMS = ("train", "deploy")


@dataclass(frozen=True)
class CropRule:
    """How a face box becomes the network input of side S.

    kind "margin_box": 6DRepNet's fixed-margin test box with k = ``margin``
    (pyhpe.data.geometric.sixdrepnet_test_box; outside the image is black), the shorter side
    resized to max(S, round(S·resize/224)), the centre S×S cut. ``resize`` = 256 is 6DRepNet's
    Resize(256) + CenterCrop(224); 224 keeps the whole box (no centre cut).
    kind "landmark_box": TRGv2's square box of (1 + ``margin``)·max(w, h) about the centre of the
    68-landmark box (margin 0.5: the 1.5× box), corners truncated to int, resized to S×S
    (pyhpe.data.sixdof_crop; ``resize`` unused).
    kind "none": the image is already the crop (resized the same way).
    ``convention`` (landmark_box): "pyhpe" (default) crops, resizes and computes K_crop with
    integer pixel centres (one consistent map); "official" is the released TRGv2 code's crop
    (corners truncated one by one, the image warped onto 0…S−1, K_crop scaled by S/b;
    pyhpe.geometry.camera.crop_matrix), for converted official models. Written to the card's
    JSON only when not "pyhpe", so older cards read and write unchanged.
    """

    kind: str = "margin_box"
    margin: float = 0.2
    resize: int = 256
    convention: str = "pyhpe"

    def __post_init__(self) -> None:
        if self.kind not in CROP_KINDS:
            raise ValueError(f"crop kind must be one of {CROP_KINDS}, got {self.kind!r}")
        if not (isinstance(self.margin, (int, float)) and math.isfinite(self.margin) and 0 <= self.margin <= 1):
            raise ValueError(f"crop margin must be in [0, 1], got {self.margin!r}")
        if not isinstance(self.resize, int) or self.resize < 224:
            raise ValueError(f"crop resize must be an integer >= 224 (224 = no centre cut), got {self.resize!r}")
        if self.convention not in CROP_CONVENTIONS:
            raise ValueError(f"crop convention must be one of {CROP_CONVENTIONS}, got {self.convention!r}")

    def to_dict(self) -> dict:
        """The JSON form: every field, ``convention`` only when it is not the default "pyhpe"."""
        d = asdict(self)
        if self.convention == "pyhpe":
            del d["convention"]
        return d

    def resize_side(self, input_size: int) -> int:
        """The shorter side before the centre crop, for an input of side ``input_size``."""
        return max(input_size, round(self.resize * input_size / 224))


@dataclass(frozen=True)
class ModelCard:
    """Facts that travel with a model's weights (see the module docstring)."""

    task: str
    model: str
    kwargs: dict = field(default_factory=dict)
    form: str = "train"
    input_size: int = 224
    crop: CropRule = field(default_factory=CropRule)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    outputs: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"card form must be one of {FORMS}, got {self.form!r}")
        if not isinstance(self.input_size, int) or self.input_size <= 0:
            raise ValueError(f"card input_size must be a positive integer, got {self.input_size!r}")
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) != 3 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                raise ValueError(f"card normalize.{name} must be 3 finite numbers, got {values!r}")
        if any(v <= 0 for v in self.std):
            raise ValueError(f"card normalize.std must be positive, got {self.std!r}")

    def with_(self, **changes: Any) -> ModelCard:
        """A copy with some fields changed (``crop`` may be given as a dict)."""
        if isinstance(changes.get("crop"), dict):
            changes["crop"] = CropRule(**changes["crop"])
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {
            "version": CARD_VERSION, "task": self.task, "model": self.model, "kwargs": dict(self.kwargs),
            "form": self.form, "input_size": self.input_size, "crop": self.crop.to_dict(),
            "normalize": {"mean": list(self.mean), "std": list(self.std)},
            "outputs": [{"name": n, "shape": list(s)} for n, s in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "model card") -> ModelCard:
        """Parse :meth:`to_dict`'s form; ValueError naming ``where`` on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: a card must be a JSON object, got {type(data).__name__}")
        version = data.get("version", CARD_VERSION)
        if version != CARD_VERSION:
            raise ValueError(f"{where}: card version {version!r} is not supported (this pyhpe reads {CARD_VERSION})")
        try:
            norm = data.get("normalize", {})
            return cls(
                task=str(data["task"]), model=str(data["model"]), kwargs=dict(data.get("kwargs", {})),
                form=data.get("form", "train"), input_size=int(data.get("input_size", 224)),
                crop=CropRule(**data.get("crop", {})),
                mean=tuple(float(v) for v in norm.get("mean", IMAGENET_MEAN)),
                std=tuple(float(v) for v in norm.get("std", IMAGENET_STD)),
                outputs=tuple((str(o["name"]), tuple(int(d) for d in o["shape"])) for o in data.get("outputs", [])),
            )
        except KeyError as err:
            raise ValueError(f"{where}: the card has no {err.args[0]!r}") from err
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from err
