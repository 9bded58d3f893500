"""Open any supported source by format name, or guess the format from what is on disk."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pyhpe.data.base import FileDataset

FORMATS = ("300wlp", "aflw2000", "biwi-npz", "biwi-raw", "arkitface", "sixdof", "ddpose")


def _is_biwi_raw(p: Path) -> bool:
    return (p / "hpdb").is_dir() or any(p.glob("[0-9][0-9]/rgb.cal"))


def detect_format(path: str | os.PathLike) -> str:
    """The format name for ``path`` (see docs/data.md), or ValueError if nothing matches."""
    p = Path(path)
    if p.is_file() and p.suffix == ".npz":
        return "biwi-npz"
    if p.is_file() and p.suffix == ".pkl" and _is_biwi_raw(p.parent):
        return "biwi-raw"  # the official FAN annotations inside hpdb/: the TRGv2 test crops
    if p.is_file() and p.suffix == ".txt":
        return "300wlp"  # a file list; its folder is the root
    if not p.is_dir():
        raise ValueError(f"{p}: no such file or folder")
    if (p / "samples.csv").is_file():
        return "sixdof"
    if (p / "ARKitFace_list").is_dir():
        return "arkitface"
    if any(p.glob("subject-*/scenario-*")):
        return "ddpose"
    if _is_biwi_raw(p):
        return "biwi-raw"
    if next(p.rglob("*.mat"), None) is not None:
        return "300wlp"
    raise ValueError(f"{p}: cannot tell the dataset format; pass --format ({', '.join(FORMATS)})")


#: the split names each format's loader takes (``open_source(split=...)``); other formats have none
SPLITS = {"arkitface": ("train", "test"), "ddpose": ("train", "val", "test", "all")}


def open_source(path: str | os.PathLike, fmt: str = "auto", split: str | None = None,
                skip_bad: bool = False, transform: Callable | None = None) -> FileDataset:
    """A loader for ``path``. ``split`` (:data:`SPLITS`; None: the loader's default, ARKitFace
    "train", DD-Pose "all") is used by ARKitFace and DD-Pose (TRGv2's subject split), ValueError
    for a name they do not have; other formats ignore it (config sources refuse one: pyhpe.engine.
    config). For 300W-LP/AFLW2000 ``path`` may be
    the dataset folder or a file list inside it; for raw BIWI the dataset folder or a FAN
    annotation pickle inside ``hpdb`` (the official ``annot_mtcnn_fan.pkl``: the released TRGv2
    test crops, :mod:`pyhpe.data.biwi_fan`; its folder is the root)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    p = Path(path)
    kw = {"skip_bad": skip_bad, "transform": transform}
    if split is not None and fmt in SPLITS:
        check_split(fmt, split)
        kw["split"] = split
    if fmt in ("300wlp", "aflw2000"):
        from pyhpe.data.aflw2000 import AFLW2000
        from pyhpe.data.w300lp import W300LP

        cls = W300LP if fmt == "300wlp" else AFLW2000
        return cls(p.parent, filelist=p, **kw) if p.is_file() else cls(p, **kw)
    if fmt == "biwi-npz":
        from pyhpe.data.biwi import BIWINpz

        return BIWINpz(p, **kw)
    if fmt == "biwi-raw":
        from pyhpe.data.biwi_raw import BIWIRaw

        if p.is_file():
            return BIWIRaw(p.parent, fan_annotations=p, **kw)
        return BIWIRaw(p, **kw)
    if fmt == "arkitface":
        from pyhpe.data.arkitface import ARKitFace

        return ARKitFace(p, **kw)
    if fmt == "sixdof":
        from pyhpe.data.sixdof import SixDoFFolder

        return SixDoFFolder(p, **kw)
    if fmt == "ddpose":
        from pyhpe.data.ddpose import DDPose

        return DDPose(p, **kw)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def check_split(fmt: str, split: str | None) -> None:
    """ValueError unless ``split`` is None or one of format ``fmt``'s :data:`SPLITS` (the message
    lists the valid names, or says the format has no splits)."""
    if split is None:
        return
    valid = SPLITS.get(fmt)
    if valid is None:
        raise ValueError(f"format {fmt} has no splits (split {split!r} given); splits exist for "
                         + ", ".join(f"{f} ({'|'.join(v)})" for f, v in SPLITS.items()))
    if split not in valid:
        raise ValueError(f"{fmt} split must be one of {', '.join(valid)}, got {split!r}")
