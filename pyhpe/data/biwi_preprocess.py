"""Raw BIWI -> FSA-Net-style npz: detect, enlarge (FSA), resize, label (FSA), split by sequence."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from pyhpe.data.biwi import fsa_label_from_pose_matrix, write_biwi_npz
from pyhpe.data.biwi_raw import BIWIRaw
from pyhpe.data.face_detect import choose_box, enlarge_box
from pyhpe.data.files import DataFileError

log = logging.getLogger(__name__)

Detector = Callable[[np.ndarray], np.ndarray]  # RGB image -> (N, 4) x, y, w, h


@dataclass
class PreprocessReport:
    frames: int = 0
    written: int = 0
    dropped: int = 0  # no detection / temporal check failed, with on_miss="drop"
    reused: int = 0  # previous box reused, with on_miss="reuse"
    skipped_bad: int = 0
    outputs: dict[str, int] = field(default_factory=dict)  # file -> frames
    train_sequences: list[str] = field(default_factory=list)
    test_sequences: list[str] = field(default_factory=list)
    seed: int | None = None


def split_sequences(sequences: list[str], seed: int, train_fraction: float = 0.7,
                    train_count: int | None = None) -> tuple[list[str], list[str]]:
    """A seeded random split of sequence names: round(fraction·n) (or ``train_count``) for train."""
    seqs = sorted(sequences)
    n_train = train_count if train_count is not None else round(train_fraction * len(seqs))
    if not 0 < n_train < len(seqs):
        raise ValueError(f"a split needs 0 < train count < {len(seqs)}, got {n_train}")
    order = np.random.default_rng(seed).permutation(len(seqs))
    train = sorted(seqs[i] for i in order[:n_train])
    return train, sorted(set(seqs) - set(train))


def crop_face(image_rgb: np.ndarray, box_xyxy: np.ndarray, size: int) -> np.ndarray:
    """The box's pixels resized to size×size (aspect not kept), as BGR (FSA's npz stores BGR)."""
    x0, y0, x1, y1 = (int(v) for v in box_xyxy)
    patch = image_rgb[y0:y1, x0:x1]
    return cv2.cvtColor(cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)


def preprocess_biwi(
    root: str | os.PathLike,
    out: str | os.PathLike,
    detector: Detector,
    img_size: int = 256,
    on_miss: str = "drop",
    rule: str = "largest",
    max_jump: float = 80.0,
    margin: float = 0.4,
    split: float | None = None,
    train_count: int | None = None,
    seed: int = 0,
    skip_bad: bool = False,
    on_bad: Callable[[DataFileError], None] | None = None,
    progress: bool = True,
) -> PreprocessReport:
    """Write ``<out>.npz`` (or ``<out>_train.npz``/``<out>_test.npz`` + ``<out>_split.json``)."""
    if on_miss not in ("drop", "reuse"):
        raise ValueError(f"on_miss must be 'drop' or 'reuse', got {on_miss!r}")
    out = str(out).removesuffix(".npz")
    data = BIWIRaw(root, load_mesh=False, skip_bad=skip_bad)
    if on_bad is not None:
        data.report_bad(on_bad)
    if not len(data) and not data.skipped:
        raise DataFileError(root, "no BIWI frames found (NN/frame_XXXXX_rgb.png with frame_XXXXX_pose.txt)")
    report = PreprocessReport(seed=seed if (split or train_count) else None)
    crops: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[np.ndarray]] = {}
    prev_box, prev_seq = None, None
    for index in tqdm(range(len(data)), desc="biwi-preprocess", unit="frame", disable=not progress):
        seq_dir, _ = data.items[index]
        try:
            sample = data.load_sample(data.items[index])
        except DataFileError as exc:
            if not skip_bad:
                raise
            data.record_bad(exc)
            continue
        report.frames += 1
        if seq_dir.name != prev_seq:
            prev_box, prev_seq = None, seq_dir.name
        h, w = sample.image.shape[:2]
        found = choose_box(detector(sample.image), w, h, rule, margin)
        box = enlarge_box(found, w, h, margin) if found is not None else None
        if box is not None and prev_box is not None and abs(box[0] - prev_box[0]) >= max_jump:
            box = None
        if box is None:
            if on_miss == "reuse" and prev_box is not None:
                box = prev_box
                report.reused += 1
            else:
                report.dropped += 1
                continue
        prev_box = box
        crops.setdefault(seq_dir.name, []).append(crop_face(sample.image, box, img_size))
        labels.setdefault(seq_dir.name, []).append(fsa_label_from_pose_matrix(sample.extra["R_depth"]))
    report.skipped_bad = data.skipped
    if split is None and train_count is None:
        groups = {out + ".npz": sorted(crops)}
    else:
        all_seqs = sorted({item[0].name for item in data.items})
        train, test = split_sequences(all_seqs, seed, split if split is not None else 0.7, train_count)
        report.train_sequences, report.test_sequences = train, test
        groups = {out + "_train.npz": train, out + "_test.npz": test}
    for path, seqs in groups.items():
        imgs = [c for s in seqs for c in crops.get(s, [])]
        poses = [p for s in seqs for p in labels.get(s, [])]
        images = np.stack(imgs) if imgs else np.zeros((0, img_size, img_size, 3), np.uint8)
        write_biwi_npz(path, images, np.array(poses).reshape(-1, 3))
        report.outputs[path] = len(imgs)
        report.written += len(imgs)
    if split is not None or train_count is not None:
        Path(out + "_split.json").write_text(json.dumps(asdict(report), indent=2))
    log.info("biwi-preprocess: %s", report)
    return report
