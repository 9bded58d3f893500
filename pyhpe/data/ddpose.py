"""DD-Pose (Roth & Gavrila 2019): driver-camera frames with 4×4 head -> camera transforms.

Layout from the public devkit; rectification and head-frame axes are not verifiable here: see
docs/data.md. Also here: the subject splits (the devkit's test subjects, TRGv2's validation
subjects), each frame's key (:class:`DDPoseFrames`) and the predictions writer / reader in the
devkit's submission layout (:func:`write_ddpose_predictions`, :func:`read_ddpose_predictions`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.data.base import FileDataset
from pyhpe.data.files import DataFileError, read_image_rgb, require_file
from pyhpe.data.pose import euler_degrees_from_matrix, is_rotation
from pyhpe.data.sample import Sample

log = logging.getLogger(__name__)

TEST_SUBJECTS = (3, 6, 10, 11, 14, 15, 16, 17)  # devkit resources/dataset-items-test.txt
TRGV2_VAL_SUBJECTS = (8, 19, 23)
ALL_SUBJECTS = tuple(range(1, 28))  # 27 subjects; trainval = the others of the test subjects
TRAINVAL_SUBJECTS = tuple(s for s in ALL_SUBJECTS if s not in TEST_SUBJECTS)
#: TRGv2's split (paper §4.2, after intrApose): validation {8, 19, 23}, the devkit's test
#: subjects, train = the remaining 16 trainval subjects; "all" = no subject filter
SPLITS: dict[str, tuple[int, ...] | None] = {
    "train": tuple(s for s in TRAINVAL_SUBJECTS if s not in TRGV2_VAL_SUBJECTS),
    "val": TRGV2_VAL_SUBJECTS,
    "test": TEST_SUBJECTS,
    "all": None,
}
ITEM_RE = re.compile(r"^subject-(\d+)$")
#: pyhpe's optional per-item landmark file (not part of DD-Pose; written by an offline landmark
#: detector): ``<item>/<resolution>-resolution/driver-left-landmarks-68.json``, stamp -> 68 × 2
#: pixels of that resolution's left image. The TRGv2 crop needs them (docs/data.md).
LANDMARKS_FILE = "driver-left-landmarks-68.json"
PREDICTIONS_FILE = "t-camdriver-head-predictions.json"  # the devkit's submission file per item


def read_json(path: str | os.PathLike) -> Any:
    p = require_file(path)
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(p, f"not valid JSON ({exc})") from exc


def read_stamped_transforms(path: str | os.PathLike) -> dict[int, np.ndarray]:
    """``t-camdriver-head.json``: stamp -> 4×4 transform (entries set to null are dropped)."""
    return stamped_transforms(read_json(path), path)


def stamped_transforms(data: Any, where: str | os.PathLike) -> dict[int, np.ndarray]:
    """A parsed stamp -> 4×4 JSON object (ground truth or predictions) → {stamp: (4, 4)}; null
    entries dropped; DataFileError naming ``where`` otherwise."""
    if not isinstance(data, dict):
        raise DataFileError(where, "expected a JSON object stamp -> 4x4 matrix")
    out = {}
    for stamp, T in data.items():
        if T is None:
            continue
        try:
            M = np.asarray(T, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataFileError(where, f"transform for stamp {stamp} is not numeric ({exc})") from exc
        if M.shape != (4, 4):
            raise DataFileError(where, f"transform for stamp {stamp} has shape {M.shape}, expected (4, 4)")
        out[int(stamp)] = M
    return out


def read_camera_json(path: str | os.PathLike) -> np.ndarray:
    """K (3, 3) from a devkit camera-model json (ROS fields; K as 9 numbers or 3×3)."""
    data = read_json(path)
    try:
        return np.asarray(data["K"], dtype=np.float64).reshape(3, 3)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(path, f"no usable 'K' ({exc})") from exc


def split_subjects(split: str) -> tuple[int, ...] | None:
    """The subject numbers of a split name (:data:`SPLITS`; None for "all"), ValueError naming
    the valid ones for any other name."""
    if split not in SPLITS:
        raise ValueError(f"DD-Pose split must be one of {', '.join(SPLITS)}, got {split!r}")
    return SPLITS[split]


def read_landmarks(path: str | os.PathLike) -> dict[int, np.ndarray]:
    """:data:`LANDMARKS_FILE`: stamp -> (68, 2) float64 pixels (null entries dropped)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataFileError(path, "expected a JSON object stamp -> 68 x 2 landmarks")
    out = {}
    for stamp, pts in data.items():
        if pts is None:
            continue
        try:
            a = np.asarray(pts, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataFileError(path, f"landmarks of stamp {stamp} are not numbers ({exc})") from exc
        if a.shape != (68, 2) or not np.isfinite(a).all():
            raise DataFileError(path, f"landmarks of stamp {stamp} have shape {a.shape}, expected (68, 2) finite")
        out[int(stamp)] = a
    return out


@dataclass
class DDPoseFrames:
    """The key of each frame of a :class:`DDPose` dataset, in its order: the devkit's item
    (``subject``, ``scenario``, ``humanhash``), the ``stamp``, the ``occlusion`` label (None
    where the item has none) and the GT transform ``T`` (N, 4, 4) head -> driver camera (NaN
    for an unlabelled frame: :attr:`labelled` is False there)."""

    subject: list[int]
    scenario: list[int]
    humanhash: list[str]
    stamp: list[int]
    occlusion: list[str | None]
    T: np.ndarray

    def __len__(self) -> int:
        return len(self.stamp)

    @property
    def labelled(self) -> np.ndarray:
        """(N,) bool: the frame has a ground-truth transform (the withheld test split has none)."""
        return np.isfinite(self.T).all(axis=(1, 2))

    def select(self, indices: Sequence[int]) -> DDPoseFrames:
        """The frames at ``indices`` (a subset of the dataset), in that order."""
        idx = list(indices)
        pick = lambda xs: [xs[i] for i in idx]
        return DDPoseFrames(pick(self.subject), pick(self.scenario), pick(self.humanhash),
                            pick(self.stamp), pick(self.occlusion), self.T[idx])


def find_ddpose_items(root: str | os.PathLike) -> list[Path]:
    """``subject-XX/scenario-YY/<humanhash>`` folders under root (sorted)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(root, "DD-Pose folder not found")
    return sorted(p for p in root.glob("subject-*/scenario-*/*") if p.is_dir())


class DDPose(FileDataset):
    """Labelled driver-left frames: R, t (head -> camera), K, subject, occlusion label in ``extra``.

    ``split``: "train" | "val" | "test" | "all" (:data:`SPLITS`, TRGv2's subject split; default
    all); ``subjects``: subject numbers to keep (default all; with a split, both filter);
    ``resolution``: "small" or "full". Items without ``t-camdriver-head.json`` (the withheld test
    split's) contribute no frames, except with ``split="test"``: then their frames are read from
    ``stamps.txt`` (stamps without an image are skipped and counted in :attr:`missing_images`,
    as the devkit skips them) as **unlabelled** frames — a placeholder pose (R = I, t = (0, 0, 1),
    never to be scored) and ``extra["labelled"] = False`` —, for writing the benchmark submission
    (``pyhpe eval --split test --predictions-out``). Landmarks come from pyhpe's optional
    :data:`LANDMARKS_FILE`. :meth:`frames` gives every frame's devkit key (item, stamp, occlusion).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        subjects: Sequence[int] | None = None,
        resolution: str = "small",
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
        split: str = "all",
    ):
        if resolution not in ("small", "full"):
            raise ValueError(f"resolution must be 'small' or 'full', got {resolution!r}")
        in_split = split_subjects(split)
        self.resolution, self.split = resolution, split
        self.occlusion: dict[Path, dict[int, Any]] = {}
        self.landmarks: dict[Path, dict[int, np.ndarray]] = {}
        items, bad = [], []
        self.missing_images = 0
        for item_dir in find_ddpose_items(root):
            subject = int(item_dir.parent.parent.name.split("-")[1])
            if subjects is not None and subject not in subjects:
                continue
            if in_split is not None and subject not in in_split:
                continue
            pose_file = item_dir / "t-camdriver-head.json"
            if not pose_file.is_file() and split != "test":
                continue
            try:
                transforms = (read_stamped_transforms(pose_file) if pose_file.is_file()
                              else self._unlabelled_stamps(item_dir))
                occ = item_dir / "occlusion-labels.json"
                self.occlusion[item_dir] = (
                    {int(k): v for k, v in read_json(occ).items()} if occ.is_file() else {}
                )
                lm = item_dir / f"{resolution}-resolution" / LANDMARKS_FILE
                self.landmarks[item_dir] = read_landmarks(lm) if lm.is_file() else {}
            except DataFileError as exc:
                if not skip_bad:
                    raise
                bad.append(exc)
                continue
            items += [(item_dir, subject, stamp, T) for stamp, T in sorted(transforms.items())]
        if self.missing_images:
            log.warning("DD-Pose %s: %d test stamps listed in stamps.txt have no image and are "
                        "skipped (as the devkit skips them)", root, self.missing_images)
        super().__init__(items, transform, skip_bad)
        for exc in bad:
            self.record_bad(exc)

    def _unlabelled_stamps(self, item_dir: Path) -> dict[int, None]:
        """The stamps of a test item (``stamps.txt``) that have an image, each without a pose."""
        stamps_file = require_file(item_dir / "stamps.txt")
        try:
            stamps = [int(line) for line in stamps_file.read_text().split()]
        except ValueError as exc:
            raise DataFileError(stamps_file, f"expected one integer stamp per line ({exc})") from exc
        folder = item_dir / f"{self.resolution}-resolution" / "driver-left-img"
        kept = {s: None for s in stamps if (folder / f"{s}.png").is_file()}
        self.missing_images += len(stamps) - len(kept)
        return kept

    def frames(self) -> DDPoseFrames:
        """Every frame's devkit key, in the dataset's order (no image is read)."""
        return DDPoseFrames(
            subject=[subject for _, subject, _, _ in self.items],
            scenario=[int(d.parent.name.split("-")[1]) for d, _, _, _ in self.items],
            humanhash=[d.name for d, _, _, _ in self.items],
            stamp=[int(stamp) for _, _, stamp, _ in self.items],
            occlusion=[self.occlusion.get(d, {}).get(stamp) for d, _, stamp, _ in self.items],
            T=(np.stack([np.full((4, 4), np.nan) if T is None else T for *_, T in self.items])
               if self.items else np.zeros((0, 4, 4))),
        )

    def image_paths(self, item) -> tuple[Path, Path]:
        item_dir, _, stamp, _ = item
        folder = item_dir / f"{self.resolution}-resolution" / "driver-left-img"
        return folder / f"{stamp}.png", folder / f"{stamp}.json"

    def item_files(self, item) -> Sequence[str]:
        return tuple(str(p) for p in self.image_paths(item))

    def load_sample(self, item) -> Sample:
        item_dir, subject, stamp, T = item
        image_path, camera_path = self.image_paths(item)
        raw = read_image_rgb(image_path, unchanged=True)
        if raw.dtype == np.uint16:
            raw = (raw >> 8).astype(np.uint8)
        image = np.repeat(raw[..., None], 3, axis=2) if raw.ndim == 2 else raw[..., :3][..., ::-1]
        labelled = T is not None
        if not labelled:  # a withheld test frame: a placeholder pose, flagged, for predicting only
            T = np.eye(4)
            T[2, 3] = 1.0
        R = T[:3, :3]
        if not is_rotation(R):
            raise DataFileError(item_dir / "t-camdriver-head.json", f"stamp {stamp}: not a rotation")
        return Sample(
            image=np.ascontiguousarray(image), R=R.copy(), euler=euler_degrees_from_matrix(R),
            t=T[:3, 3].copy(), K=read_camera_json(camera_path), subject=f"{subject:02d}",
            landmarks=self.landmarks.get(item_dir, {}).get(stamp), source=str(image_path),
            extra={"stamp": stamp, "occlusion": self.occlusion.get(item_dir, {}).get(stamp),
                   "labelled": labelled},
        )


# --- predictions in the devkit's submission layout --------------------------------------------


def pose_matrices(R, t) -> np.ndarray:
    """(N, 3, 3) rotations and (N, 3) translations (metres) → (N, 4, 4) head -> driver-camera
    transforms [[R, t], [0, 0, 0, 1]], the devkit's T_camdriver_head (x_cam = R·v + t)."""
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if R.ndim != 3 or R.shape[1:] != (3, 3) or t.shape != (len(R), 3):
        raise ValueError(f"need (N, 3, 3) rotations and (N, 3) translations, got {R.shape} and {t.shape}")
    T = np.tile(np.eye(4), (len(R), 1, 1))
    T[:, :3, :3], T[:, :3, 3] = R, t
    return T


def item_path(subject: int, scenario: int, humanhash: str) -> str:
    """``subject-XX/scenario-YY/<humanhash>``, an item's folder as the devkit names it."""
    return f"subject-{int(subject):02d}/scenario-{int(scenario):02d}/{humanhash}"


def write_ddpose_predictions(path: str | os.PathLike, frames: DDPoseFrames, T_pred: np.ndarray,
                             name: str = "pyhpe", metadata: dict | None = None) -> Path:
    """Write predictions as the devkit's evaluation reads them (``ZipFilePredictor`` /
    ``FilePredictor``): per item ``subject-XX/scenario-YY/<humanhash>/`` +
    :data:`PREDICTIONS_FILE` (JSON object stamp -> 4×4 nested list, head -> driver camera,
    metres) and ``metadata.json`` (``{"name", "dirname", "metadata"}``, as the devkit's example
    submission) at the top. ``path`` ending in ``.zip``: a zip with those entries at its root
    (the layout the benchmark server takes); otherwise a folder. ``T_pred`` (N, 4, 4) for the N
    ``frames`` (:func:`pose_matrices`). Refuses an existing path; written to a temporary name
    and renamed, so nothing is left half-written."""
    path = Path(path)
    T_pred = np.asarray(T_pred, dtype=np.float64)
    if T_pred.shape != (len(frames), 4, 4):
        raise ValueError(f"T_pred must be ({len(frames)}, 4, 4) for {len(frames)} frames, got {T_pred.shape}")
    if not np.isfinite(T_pred).all():
        raise ValueError("the predicted transforms hold NaN or inf values")
    if path.exists():
        raise FileExistsError(f"{path} already exists; remove it or choose another path")
    per_item: dict[str, dict[str, list]] = {}
    for i in range(len(frames)):
        key = item_path(frames.subject[i], frames.scenario[i], frames.humanhash[i])
        per_item.setdefault(key, {})[str(frames.stamp[i])] = T_pred[i].tolist()
    meta = {"name": name, "dirname": name, "metadata": dict(metadata or {})}
    files = {f"{key}/{PREDICTIONS_FILE}": json.dumps(preds, sort_keys=True, indent=1)
             for key, preds in sorted(per_item.items())}
    files["metadata.json"] = json.dumps(meta, sort_keys=True, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        if path.suffix.lower() == ".zip":
            target = tmp / path.name
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                for arcname, text in files.items():
                    zf.writestr(arcname, text)
            os.replace(target, path)
        else:
            for rel, text in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_text(text)
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def read_ddpose_predictions(path: str | os.PathLike) -> tuple[dict[str, dict[int, np.ndarray]], dict]:
    """A predictions folder or zip (:func:`write_ddpose_predictions`, or any submission in the
    devkit's layout) → ({``subject-XX/scenario-YY/<humanhash>``: {stamp: (4, 4)}}, metadata).
    DataFileError naming the entry for malformed JSON or a transform that is not 4×4."""
    path = Path(path)
    texts: dict[str, str] = {}
    try:
        if path.is_file():
            with zipfile.ZipFile(path) as zf:
                texts = {n: zf.read(n).decode() for n in zf.namelist() if not n.endswith("/")}
        elif path.is_dir():
            texts = {p.relative_to(path).as_posix(): p.read_text() for p in path.rglob("*") if p.is_file()}
        else:
            raise DataFileError(path, "predictions not found")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise DataFileError(path, f"not a readable predictions zip ({exc})") from exc
    items: dict[str, dict[int, np.ndarray]] = {}
    metadata: dict = {}
    for rel, text in texts.items():
        where = path / rel
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFileError(where, f"not valid JSON ({exc})") from exc
        if rel == "metadata.json":
            metadata = data if isinstance(data, dict) else {}
            continue
        if not rel.endswith("/" + PREDICTIONS_FILE):
            continue
        items[rel[: -len(PREDICTIONS_FILE) - 1]] = stamped_transforms(data, where)
    return items, metadata
