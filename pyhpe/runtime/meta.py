"""The sidecar of an exported model: what a runtime needs beyond the graph itself.

``pyhpe export`` writes ``<stem>.onnx.json`` beside ``<stem>.onnx`` and ``<stem>.ncnn.json``
beside ``<stem>.ncnn.param``::

    {"format": "pyhpe-deploy", "version": 1, "model": "sixdrepnet_repnext_m4",
     "input_size": 224, "output": "6d" | "matrix", "input_name": "in0", "output_name": "out0",
     "mean": [...], "std": [...], "fp16_weights": false, "dynamic_batch": false}

``mean``/``std`` apply to RGB values scaled to [0, 1] (ImageNet by default).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = "pyhpe-deploy"
VERSION = 1
OUTPUT_KINDS = ("6d", "matrix")


@dataclass
class DeployMeta:
    """Facts about an exported model file (see the module docstring)."""

    model: str
    input_size: int
    output: str = "6d"
    input_name: str = "input"
    output_name: str = "output"
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    fp16_weights: bool = False
    dynamic_batch: bool = False

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {OUTPUT_KINDS}, got {self.output!r}")
        if int(self.input_size) <= 0:
            raise ValueError(f"input_size must be positive, got {self.input_size}")


def meta_path(model_file: str | os.PathLike) -> Path:
    """``x.onnx`` -> ``x.onnx.json``; ``x.ncnn.param`` / ``x.ncnn.bin`` -> ``x.ncnn.json``.

    (Distinct from a pyhpe model file's ``x.json``, so exports can sit beside their checkpoint.)
    """
    p = Path(model_file)
    name = p.name
    for suffix, keep in ((".ncnn.param", ".ncnn"), (".ncnn.bin", ".ncnn"), (".onnx", ".onnx"),
                         (".param", ""), (".bin", "")):
        if name.endswith(suffix):
            return p.with_name(name[: -len(suffix)] + keep + ".json")
    return p.with_name(name + ".json")


def write_meta(model_file: str | os.PathLike, meta: DeployMeta) -> Path:
    path = meta_path(model_file)
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, **asdict(meta)}, indent=2))
    return path


def read_meta(model_file: str | os.PathLike) -> DeployMeta | None:
    """The sidecar of ``model_file``, or None when there is none; a malformed one raises ValueError."""
    path = meta_path(model_file)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a pyhpe-deploy sidecar (format={data.get('format')!r})")
    fields = DeployMeta.__dataclass_fields__
    try:
        return DeployMeta(**{k: v for k, v in data.items() if k in fields})
    except TypeError as err:
        raise ValueError(f"{path}: incomplete sidecar: {err}") from err
