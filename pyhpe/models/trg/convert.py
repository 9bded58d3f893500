"""The official TRGv2 checkpoint (``state_dict.bin``) → a pyhpe ``trgv2_resnet18`` model file.

The released checkpoint is ``torch.save(model.state_dict())`` of the official model
(github.com/asw91666/TRGv2_PR26_Released, ``models/trg_model/trg.py``); its layout and how it
maps onto ours is written down in docs/trgv2.md ("Official checkpoint layout"). In short:

- keys are renamed (:data:`RENAMES`): ``feature_extractor.`` → ``backbone.``, the three
  deconvolutions → ``neck`` (two) and ``heatmaps.body`` (the third), ``predict_68_lmk.0`` →
  ``heatmaps.out``, ``laf_extractor.{i}.conv{0,1,2}`` → ``samplers.{i}.fc{1,2,3}``,
  ``regressor.{i}.{fc1,fc2,decshape,decpose}`` → ``regressors.{i}.{fc1,fc2,shape_head,pose_head}``;
- the regressors' first layer has its input columns permuted (the sampled features are
  channel-major there, point-major here; the first iteration's 18×18 grid runs x-slowest there;
  the 6D rotation is interleaved there, column-major here) and ``decpose``'s first six rows too;
- ``fc.block.*`` (defined, never called) and the ``points_grid`` buffer are dropped; the
  ``init_face`` / ``init_head_pose`` buffers are checked against the topology (a checkpoint is
  only valid with the initial face it was trained from) and dropped.

The model is ``trgv2_resnet18`` with ``form="official"`` (third-deconvolution heatmap head, the
code's τ̃ and I_bbox scalings, its sampling-point normalisation) on the ARKit topology read by
:func:`pyhpe.models.trg.official.read_official_topology`. Checkpoints are read with
``torch.load(weights_only=True)`` only (no code runs); topology pickles with the restricted
unpickler.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pyhpe.geometry.rotation import SIXD_INTERLEAVED_TO_COLUMNS
from pyhpe.models.checkpoints import CheckpointMismatchError, load_weights_only
from pyhpe.models.trg.blocks import sampling_grid
from pyhpe.models.trg.topology import FaceTopology

__all__ = ["MODEL_NAME", "RENAMES", "convert_official", "convert_official_state_dict", "grid_permutation",
           "official_model_kwargs", "read_official_checkpoint"]

MODEL_NAME = "trgv2_resnet18"
GRID = 18
PER_POINT = 5  # the sampler's output channels (MLP_DIM[-1])
POSE = 9  # [6D rotation, s, τ̃x, τ̃y]

# official key pattern -> ours (first match wins; groups carried over)
RENAMES: tuple[tuple[str, str], ...] = (
    (r"feature_extractor\.(.+)", r"backbone.\1"),
    (r"deconv_layers\.0\.(.+)", r"neck.layers.0.0.\1"),
    (r"deconv_layers\.1\.(.+)", r"neck.layers.0.1.\1"),
    (r"deconv_layers\.3\.(.+)", r"neck.layers.1.0.\1"),
    (r"deconv_layers\.4\.(.+)", r"neck.layers.1.1.\1"),
    (r"deconv_layers\.6\.(.+)", r"heatmaps.body.0.\1"),
    (r"deconv_layers\.7\.(.+)", r"heatmaps.body.1.\1"),
    (r"predict_68_lmk\.0\.(.+)", r"heatmaps.out.\1"),
    (r"laf_extractor\.(\d+)\.conv0\.(.+)", r"samplers.\1.fc1.\2"),
    (r"laf_extractor\.(\d+)\.conv1\.(.+)", r"samplers.\1.fc2.\2"),
    (r"laf_extractor\.(\d+)\.conv2\.(.+)", r"samplers.\1.fc3.\2"),
    (r"regressor\.(\d+)\.fc1\.(.+)", r"regressors.\1.fc1.\2"),
    (r"regressor\.(\d+)\.fc2\.(.+)", r"regressors.\1.fc2.\2"),
    (r"regressor\.(\d+)\.decshape\.(.+)", r"regressors.\1.shape_head.\2"),
    (r"regressor\.(\d+)\.decpose\.(.+)", r"regressors.\1.pose_head.\2"),
)
DROPPED = (r"fc\.block\..+", r"points_grid")  # the unused 1×1 block; the grid (ours is built)
CHECKED = r"regressor\.(\d+)\.(init_face|init_head_pose)"  # must match the topology, then dropped


def official_model_kwargs(topology: FaceTopology) -> dict:
    """The registry kwargs of ``trgv2_resnet18`` as the official code builds it."""
    return {"topology": topology.to_dict(), "form": "official", "iterations": 2, "input_size": 192}


def read_official_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The state_dict in an official ``state_dict.bin`` (or ``{"state_dict": ...}`` /
    ``{"model": ...}`` wrappers; a ``module.`` prefix from DataParallel is removed), read with
    ``torch.load(weights_only=True)``; anything else is a one-line ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    obj = load_weights_only(path)
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not obj or \
            not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise ValueError(f"{path}: expected a state_dict (a mapping of names to tensors), got "
                         f"{type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def grid_permutation(n: int = GRID) -> np.ndarray:
    """``m`` with our grid point k = the official grid point m[k]: the official grid is
    ``meshgrid(lin, lin, 'ij')`` stacked [x, y] (x slowest), ours row by row (x fastest)
    (:func:`pyhpe.models.trg.blocks.sampling_grid`). Matched by coordinates, not by formula."""
    lin = torch.linspace(-1, 1, n)
    xv, yv = torch.meshgrid(lin, lin, indexing="ij")
    official = torch.stack([xv.reshape(-1), yv.reshape(-1)], dim=1)
    ours = sampling_grid(n)
    match = torch.cdist(ours.double(), official.double()).argmin(dim=1).numpy()
    if len(np.unique(match)) != n * n:
        raise AssertionError("grid matching is not one-to-one")  # cannot happen for n >= 2
    return match


def _fc1_columns(iteration: int, num_points: int, num_subsampled: int) -> np.ndarray:
    """Our fc1 input column j ← official column cols[j], for regressor ``iteration``.

    Blocks (both layouts): [features (5·P), subsampled vertices (3·S), 6D (6), c (3), I_bbox (3)].
    Features: ours n·5 + c (point-major), official c·P + m(n) (channel-major, m = the grid
    matching for iteration 0, identity for the projected vertices). 6D: ours column-major,
    official interleaved (SIXD_INTERLEAVED_TO_COLUMNS).
    """
    P = num_points
    m = grid_permutation(GRID) if iteration == 0 else np.arange(P)
    n, c = np.divmod(np.arange(P * PER_POINT), PER_POINT)
    features = c * P + m[n]
    start = P * PER_POINT
    vertices = start + np.arange(3 * num_subsampled)
    start += 3 * num_subsampled
    sixd = start + np.asarray(SIXD_INTERLEAVED_TO_COLUMNS)
    rest = start + 6 + np.arange(6)  # c, I_bbox: same order
    return np.concatenate([features, vertices, sixd, rest])


def _pose_rows() -> np.ndarray:
    """Our pose-head row r ← official decpose row rows[r] ([Δ6D, Δc])."""
    return np.concatenate([np.asarray(SIXD_INTERLEAVED_TO_COLUMNS), np.arange(6, POSE)])


def _rename(key: str) -> str | None:
    for pattern, repl in RENAMES:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, repl, key)
    return None


def _check_buffer(key: str, value: Tensor, topology: FaceTopology) -> None:
    """init_face must be the topology's template; init_head_pose its R_0 (official 6D), c = (1, 0, 0)."""
    name = re.fullmatch(CHECKED, key).group(2)
    if name == "init_face":
        expected = np.asarray(topology.template, np.float32)[None]
        what = "initial face (init_vtx_cam.pkl['t_vtx_1220'])"
    else:
        R0 = np.asarray(topology.R0, np.float64)
        expected = np.concatenate([R0[:, :2].reshape(-1), [1.0, 0.0, 0.0]])[None]
        what = "initial pose (init_vtx_cam.pkl['R_t'], c = (1, 0, 0))"
    got = value.detach().cpu().double().numpy()
    if got.shape != expected.shape:
        raise ValueError(f"checkpoint {key} has shape {got.shape}, the topology's {what} "
                         f"{expected.shape}: a checkpoint of a different topology")
    err = float(np.abs(got - expected).max())
    if err > 1e-4:
        raise ValueError(f"checkpoint {key} differs from the topology's {what} by up to {err:.3g}: "
                         "the checkpoint was trained from other topology files (use the data files "
                         "of the repository the checkpoint came from)")


def convert_official_state_dict(official: Mapping[str, Tensor], topology: FaceTopology,
                                expected: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The official ``state_dict`` in our key layout (renamed, permuted, unused entries dropped).

    ``expected`` is our model's state_dict (names and shapes to fill). Every official key must
    map, every one of ours must be filled, shapes must agree: otherwise
    :class:`~pyhpe.models.checkpoints.CheckpointMismatchError` (a ``ValueError``) lists the
    differences (a checkpoint of another architecture, iteration count or topology).
    """
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in official.items():
        if any(re.fullmatch(p, key) for p in DROPPED):
            continue
        if re.fullmatch(CHECKED, key):
            _check_buffer(key, value, topology)
            continue
        ours = _rename(key)
        if ours is None:
            unknown.append(key)
        else:
            converted[ours] = value.detach().clone()
    missing = sorted(set(expected) - set(converted))
    unexpected = unknown + sorted(set(converted) - set(expected))
    shapes = [(k, converted[k].shape, expected[k].shape) for k in expected
              if k in converted and converted[k].shape != expected[k].shape]
    if missing or unexpected or shapes:  # another architecture, iteration count or topology
        raise CheckpointMismatchError(missing, unexpected, shapes)
    for i in range(sum(1 for k in expected if re.fullmatch(r"regressors\.\d+\.fc1\.weight", k))):
        points = GRID * GRID if i == 0 else topology.num_subsampled
        cols = _fc1_columns(i, points, topology.num_subsampled)
        w = converted[f"regressors.{i}.fc1.weight"]
        if w.shape[1] != len(cols):
            raise ValueError(f"regressor {i}: fc1 takes {w.shape[1]} inputs, the layout "
                             f"{len(cols)}")
        converted[f"regressors.{i}.fc1.weight"] = w[:, torch.from_numpy(cols)].contiguous()
        rows = torch.from_numpy(_pose_rows())
        for leaf in ("weight", "bias"):
            k = f"regressors.{i}.pose_head.{leaf}"
            converted[k] = converted[k][rows].contiguous()
    return converted


def _flip_source(data_dir: Path) -> str:
    from pyhpe.models.trg.official import FLIP_LOCATIONS, OFFICIAL_FILES

    for rel in FLIP_LOCATIONS:
        if (data_dir / rel).is_file():
            return f"flip_index.npy ({rel})"
    mean = Path(OFFICIAL_FILES["mean_face"])
    if (data_dir / mean).is_file() or (data_dir / mean.name).is_file():
        return f"derived from the mean face {mean.name}"
    return "derived from the template"


def convert_official(checkpoint: str | Path, data_dir: str | Path):
    """(model in eval mode, its card, report) for an official checkpoint and its topology files.

    ``report``: vertices, subsampled count and where the flip permutation came from. Raises
    ``FileNotFoundError`` / ``ValueError`` (one line each) for missing files, pickles that are
    not plain data, out-of-range topology indices, or a checkpoint of another architecture or
    topology — before anything is written.
    """
    from pyhpe.models import create_model
    from pyhpe.models.card import CropRule
    from pyhpe.models.trg.official import read_official_topology
    from pyhpe.tasks import task_of

    data_dir = Path(data_dir)
    topology = read_official_topology(data_dir)
    state = read_official_checkpoint(checkpoint)
    kwargs = official_model_kwargs(topology)
    model = create_model(MODEL_NAME, **kwargs)
    model.load_state_dict(convert_official_state_dict(state, topology, model.state_dict()),
                          strict=True)
    crop = CropRule(kind="landmark_box", margin=0.5, convention="official")
    card = task_of(model).card(MODEL_NAME, kwargs, kwargs["input_size"], crop)
    report = {"vertices": topology.num_vertices, "subsampled": topology.num_subsampled,
              "flip": _flip_source(data_dir)}
    return model.eval(), card, report
