"""The sidecar of an exported model: its model card plus what a runtime needs beyond the graph.

``pyhpe export`` writes ``<stem>.onnx.json`` beside ``<stem>.onnx`` and ``<stem>.ncnn.json``
beside ``<stem>.ncnn.param`` (version 2)::

    {"format": "pyhpe-deploy", "version": 2,
     "card": {...pyhpe.models.card, form "deploy"...},
     "kind": "6d", "input_name": "in0",
     "outputs": [{"name": "sixd", "blob": "out0", "shape": [6]}],
     "fp16_weights": false, "dynamic_batch": false, "precision": "fp32"}

``kind`` is the task's deploy kind (pyhpe.tasks; rotation: "6d" or "matrix") and ``outputs`` the
graph's outputs in order: the task's deploy output names, the graph's blob names, the per-sample
shapes. A graph with inputs beyond the image (TRGv2's camera vector) lists them, in order,
under ``"inputs"`` (absent otherwise)::

     "inputs": [{"name": "camera", "blob": "in1", "shape": [11],
                 "layout": ["left", "top", ..., "cy_crop"]}]

``precision`` is what ``pyhpe export --precision`` was asked for ("fp32", "fp16" or "bf16"; absent
in older sidecars: "fp32"): the C runtime takes it as the model's default precision
(docs/deployment.md, "Precision"); ``fp16_weights`` says whether the .bin holds fp16 weights.
The card's crop and normalisation are what every
runtime (Python backends, the C runtime, the JNI bridge) applies. Version-1 sidecars (flat:
"model", "input_size", "output" (the deploy kind), "input_name", "output_name", "mean", "std",
...) still read, with 6DRepNet's crop (margin 0.2, resize 256) that they were made for.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pyhpe.models.card import ModelCard

FORMAT = "pyhpe-deploy"
VERSION = 2
PRECISIONS = ("fp32", "fp16", "bf16")  # the sidecar's "precision" (pyhpe export --precision)


@dataclass(frozen=True)
class DeployMeta:
    """Facts about an exported model file (see the module docstring)."""

    card: ModelCard
    kind: str  # the task's deploy kind
    outputs: tuple[tuple[str, str, tuple[int, ...]], ...]  # (name, blob, per-sample shape)
    input_name: str = "input"
    fp16_weights: bool = False
    dynamic_batch: bool = False
    #: graph inputs after the image: (name, blob, per-sample shape, layout of a vector)
    extra_inputs: tuple[tuple[str, str, tuple[int, ...], tuple[str, ...]], ...] = ()
    #: the precision the model was exported for (PRECISIONS), the C runtime's default
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if not self.outputs:
            raise ValueError("an exported model needs at least one output")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def model(self) -> str:
        return self.card.model

    @property
    def input_size(self) -> int:
        return self.card.input_size

    @property
    def mean(self) -> tuple[float, ...]:
        return self.card.mean

    @property
    def std(self) -> tuple[float, ...]:
        return self.card.std

    @property
    def output(self) -> str:
        """The deploy kind (the name of version-1 sidecars' "output")."""
        return self.kind

    @property
    def output_name(self) -> str:
        """The blob of the first (for most tasks, only) output."""
        return self.outputs[0][1]

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.outputs)

    @property
    def extra_input_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _, _ in self.extra_inputs)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "card": self.card.to_dict(), "kind": self.kind,
                "input_name": self.input_name,
                "outputs": [{"name": n, "blob": b, "shape": list(s)} for n, b, s in self.outputs],
                "fp16_weights": self.fp16_weights, "dynamic_batch": self.dynamic_batch,
                "precision": self.precision,
                **({"inputs": [{"name": n, "blob": b, "shape": list(s), "layout": list(lay)}
                               for n, b, s, lay in self.extra_inputs]} if self.extra_inputs else {})}


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
    path.write_text(json.dumps(meta.to_dict(), indent=2))
    return path


def read_meta(model_file: str | os.PathLike) -> DeployMeta | None:
    """The sidecar of ``model_file``, or None when there is none; a malformed one raises ValueError."""
    path = meta_path(model_file)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        fmt = data.get("format") if isinstance(data, dict) else None
        raise ValueError(f"{path} is not a pyhpe-deploy sidecar (format={fmt!r})")
    version = data.get("version", 1)
    try:
        if version == 1:
            return _from_v1(data, path)
        if version != VERSION:
            raise ValueError(f"sidecar version {version!r} is newer than this pyhpe reads ({VERSION})")
        outputs = tuple((str(o["name"]), str(o["blob"]), tuple(int(d) for d in o["shape"])) for o in data["outputs"])
        return DeployMeta(card=ModelCard.from_dict(data["card"], str(path)), kind=str(data["kind"]), outputs=outputs,
                          input_name=str(data.get("input_name", "input")),
                          fp16_weights=bool(data.get("fp16_weights", False)),
                          dynamic_batch=bool(data.get("dynamic_batch", False)),
                          precision=str(data.get("precision", "fp32")),
                          extra_inputs=tuple((str(i["name"]), str(i["blob"]), tuple(int(d) for d in i["shape"]),
                                              tuple(str(v) for v in i.get("layout", ())))
                                             for i in data.get("inputs", ())))
    except KeyError as err:
        raise ValueError(f"{path}: incomplete sidecar: no {err.args[0]!r}") from err
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from err


V1_TASK = "sixd_rotation"  # every version-1 export was a 6DRepNet rotation graph


def _from_v1(data: dict, path: Path) -> DeployMeta:
    """A version-1 sidecar as a DeployMeta with a card."""
    from pyhpe.tasks import get_task

    task = get_task(V1_TASK)
    kind = data.get("output", task.default_deploy)
    ((name, shape),) = task.deploy_outputs(kind)
    card = task.card(str(data["model"]), {}, int(data["input_size"]), form="deploy")
    card = card.with_(mean=tuple(data.get("mean", card.mean)), std=tuple(data.get("std", card.std)))
    return DeployMeta(card=card, kind=kind, outputs=((name, str(data.get("output_name", "output")), shape),),
                      input_name=str(data.get("input_name", "input")),
                      fp16_weights=bool(data.get("fp16_weights", False)),
                      dynamic_batch=bool(data.get("dynamic_batch", False)))


def meta_without_sidecar(path: Path, input_size: int, blob_in: str, blobs_out: list[str],
                         ranks: list[int]) -> DeployMeta:
    """Meta of an export that has no sidecar (made before sidecars existed): a one-output
    graph of the version-1 task, whose deploy kind is the one with an output of that rank."""
    from pyhpe.tasks import get_task

    if len(blobs_out) != 1:
        raise ValueError(f"{path}: no sidecar, and {len(blobs_out)} outputs; a sidecar must name them")
    task = get_task(V1_TASK)
    kinds = [k for k, outs in task.deploy_kinds.items() if len(outs) == 1 and 1 + len(outs[0][1]) == ranks[0]]
    if not kinds:
        raise ValueError(f"{path}: no sidecar, and an output of rank {ranks[0]} that no {V1_TASK} graph has")
    ((name, shape),) = task.deploy_outputs(kinds[0])
    return DeployMeta(card=task.card(path.stem, {}, int(input_size), form="deploy"), kind=kinds[0],
                      outputs=((name, blobs_out[0], shape),), input_name=blob_in)
