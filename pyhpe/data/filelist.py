"""6DRepNet-format file lists for 300W-LP / AFLW2000: ``./dir/stem`` per line, ±99° filter.

The list is newline-joined with no trailing newline; entries are relative to the dataset root and
carry no extension (the loader appends ``.jpg`` and ``.mat``). See docs/data.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pyhpe.data.files import DataFileError, require_file

log = logging.getLogger(__name__)

ANGLE_LIMIT_DEG = 99.0


def scan_pose_mat_dir(root: str | os.PathLike) -> list[str]:
    """Every ``*.jpg`` under ``root`` (recursive, sorted) as a ``./dir/stem`` entry."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(root, "dataset folder not found")
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root).as_posix()
        prefix = "." if rel == "." else "./" + rel
        entries += [f"{prefix}/{name[:-4]}" for name in sorted(filenames) if name.endswith(".jpg")]
    return entries


def keeps_pose(euler_deg: np.ndarray, limit: float = ANGLE_LIMIT_DEG) -> bool:
    """6DRepNet's filter: |pitch|, |yaw| and |roll| all <= limit degrees (inclusive)."""
    return bool(np.all(np.abs(np.asarray(euler_deg)[:3]) <= limit))


@dataclass
class FilelistResult:
    kept: list[str] = field(default_factory=list)
    rejected: int = 0  # outside the angle limit
    bad: list[str] = field(default_factory=list)  # unreadable .mat files (skip_bad only)


def build_filelist(
    root: str | os.PathLike,
    limit: float = ANGLE_LIMIT_DEG,
    skip_bad: bool = False,
    progress: bool = True,
    on_bad: Callable[[DataFileError], None] | None = None,
) -> FilelistResult:
    """Scan ``root`` and keep the images whose three angles lie within ±``limit`` degrees.
    A bad ``.mat`` raises, or with ``skip_bad`` is skipped: logged, or given to ``on_bad``."""
    from pyhpe.data.w300lp import read_pose_mat

    result = FilelistResult()
    entries = scan_pose_mat_dir(root)
    for entry in tqdm(entries, desc="filelist", unit="mat", disable=not progress):
        try:
            euler, _, _ = read_pose_mat(Path(root) / (entry + ".mat"))
        except DataFileError as exc:
            if not skip_bad:
                raise
            if on_bad is None:
                log.warning("skipping bad file %s", exc)
            else:
                on_bad(exc)
            result.bad.append(exc.path)
            continue
        if keeps_pose(euler, limit):
            result.kept.append(entry)
        else:
            result.rejected += 1
    return result


def write_filelist(entries: list[str], path: str | os.PathLike) -> None:
    """Write entries joined by newlines, with no trailing newline (6DRepNet's format)."""
    Path(path).write_text("\n".join(entries))


def read_filelist(path: str | os.PathLike) -> list[str]:
    """The entries of a list file (blank lines ignored)."""
    p = require_file(path)
    try:
        return [line.strip() for line in p.read_text().splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise DataFileError(p, f"not a text file list ({exc})") from exc
