"""``pyhpe align``: the reference-system offset dT between two mesh topologies (TRGv2, Eq. 13).

Reads the train template, one or several test templates (.obj, .npy (V, 3), ASCII .ply) and the
corresponding landmark vertex ids of each, computes dT = geometric median of (train − test)
landmarks per test template (:func:`pyhpe.geometry.alignment.reference_offset`), prints a table
in mm and writes a ``pyhpe-reference-offsets`` JSON file (metres) that evaluation reads with
:func:`pyhpe.geometry.alignment.read_reference_offsets`.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
from pathlib import Path

import numpy as np

from pyhpe.geometry.alignment import (
    landmarks_from_template,
    reference_offset,
    write_reference_offsets,
)

DESCRIPTION = """\
Compute the reference-system offset dT between two face-mesh topologies (TRGv2 Eq. 13).

A model trained on one dataset (e.g. ARKitFace) predicts the pose of THAT topology's head
origin; a test set (e.g. BIWI) measures its ground truth at its own mesh's origin. dT (3,) is
the test topology's origin in the train topology's head frame (OpenCV axes: x right, y down,
z into the head; metres): the translation-only fit that minimises the sum of UNSQUARED distances
sum_i |a_i - (b_i + dT)| between corresponding landmarks a_i (train template) and b_i (test
template), i.e. the geometric median of a_i - b_i (robust to a bad landmark, unlike the mean).

Evaluation moves each prediction onto the test topology's origin with
    t_aligned = t_pred + R_pred . dT        (rotation unchanged),
then computes the translation errors / ADD (TRGv2's "aligned" BIWI numbers).

Templates: .obj (the 'v x y z' lines), .npy of shape (V, 3), or ASCII .ply. --scale multiplies
the test template(s) (BIWI's hpdb/XX.obj are in mm: --scale 0.001). Landmark ids: zero-based
vertex indices, a comma-separated list (1069,1168,...) or a file with one integer per line; the
i-th train id corresponds to the i-th test id. --per-sequence DIR_OR_GLOB gives one dT per test
mesh (e.g. hpdb/ holding 01.obj ... 24.obj), keyed by the file name without its suffix.

Example (TRGv2's 7 landmarks: eye corners, nose tip, mouth corners):
  pyhpe align --train-template arkit_mean.npy --per-sequence 'hpdb/*.obj' --scale 0.001 \\
      --train-landmarks 1069,1168,1101,1193,8,639,190 \\
      --test-landmarks 429,265,4574,4713,2812,2532,6672 --out arkit_to_biwi.json

Output: the table of dT (mm) per test template with the mean landmark distance before and
after alignment (mm); --out writes JSON {"format": "pyhpe-reference-offsets", "version": 1,
"units": "m", "offsets": {key: [dx, dy, dz]}, ...}.
"""

TEMPLATE_SUFFIXES = (".obj", ".npy", ".ply")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-template", required=True, metavar="FILE",
                        help="template mesh of the training topology (.obj, .npy (V, 3), ASCII .ply), metres")
    test = parser.add_mutually_exclusive_group(required=True)
    test.add_argument("--test-template", metavar="FILE", help="template mesh of the test topology")
    test.add_argument("--per-sequence", metavar="DIR_OR_GLOB",
                      help="several test meshes (a folder's .obj/.npy/.ply files, or a quoted glob): "
                           "one dT per file, keyed by its name without suffix")
    parser.add_argument("--train-landmarks", required=True, metavar="IDS",
                        help="vertex ids on the train template: 'i,j,k,...' or a file, one id per line")
    parser.add_argument("--test-landmarks", required=True, metavar="IDS",
                        help="the corresponding vertex ids on the test template(s), same count and order")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="factor applied to the test template(s) to get metres (BIWI mm: 0.001; "
                             "default 1)")
    parser.add_argument("--out", metavar="FILE.json", help="write the offsets (metres) as JSON")


# ---- reading -----------------------------------------------------------------------------------

def read_ids(text: str, flag: str) -> list[int]:
    """Landmark ids from ``text``: a file with one integer per line ('#' comments and blank lines
    allowed) or a comma-separated list."""
    from pyhpe.data.files import DataFileError

    p = Path(text)
    if p.is_file():
        ids = []
        for k, line in enumerate(p.read_text().splitlines(), 1):
            item = line.split("#", 1)[0].strip()
            if not item:
                continue
            try:
                ids.append(int(item))
            except ValueError:
                raise DataFileError(p, f"line {k}: not an integer: {item!r}") from None
        if not ids:
            raise DataFileError(p, "no landmark ids in the file")
        return ids
    parts = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    try:
        ids = [int(s) for s in parts]
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is neither an existing file nor a comma-separated list "
                         "of integers") from None
    if not ids:
        raise ValueError(f"{flag}: no landmark ids given")
    return ids


def _read_ply_ascii(p: Path) -> np.ndarray:
    """The vertices (V, 3) of an ASCII .ply (the x, y, z properties of the vertex element)."""
    from pyhpe.data.files import DataFileError

    try:
        lines = p.read_text().splitlines()
    except UnicodeDecodeError:
        raise DataFileError(p, "only ASCII .ply is supported (this one is binary)") from None
    if not lines or lines[0].strip() != "ply":
        raise DataFileError(p, "not a .ply file (no 'ply' header)")
    n_vertex, props, element, skip, end = None, [], None, 0, None
    for k, line in enumerate(lines[1:], 1):
        w = line.split()
        if not w:
            continue
        if w[0] == "format" and (len(w) < 2 or w[1] != "ascii"):
            raise DataFileError(p, f"only ASCII .ply is supported, not {' '.join(w[1:2]) or '?'}")
        if w[0] == "element" and len(w) >= 3:
            element = w[1]
            if element == "vertex":
                n_vertex = int(w[2])
            elif n_vertex is None:
                skip += int(w[2])  # elements stored before the vertices
        elif w[0] == "property" and element == "vertex":
            if w[1] == "list":
                raise DataFileError(p, "list properties on vertices are not supported")
            props.append(w[-1])
        elif w[0] == "end_header":
            end = k + 1
            break
    if end is None or n_vertex is None:
        raise DataFileError(p, "malformed .ply header (no vertex element or no end_header)")
    if not {"x", "y", "z"} <= set(props):
        raise DataFileError(p, f"the vertex element has no x, y, z properties ({props})")
    cols = [props.index(c) for c in "xyz"]
    body = [ln for ln in lines[end:] if ln.strip()][skip:skip + n_vertex]
    try:
        rows = [[float(ln.split()[c]) for c in cols] for ln in body]
    except (ValueError, IndexError) as exc:
        raise DataFileError(p, f"malformed vertex line ({exc})") from None
    if len(rows) != n_vertex:
        raise DataFileError(p, f"expected {n_vertex} vertices, found {len(rows)}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def read_template(path: str | os.PathLike) -> np.ndarray:
    """The vertices (V, 3) float64 of a template mesh: .obj, .npy (V, 3) or ASCII .ply."""
    from pyhpe.data.files import DataFileError, require_file

    p = require_file(path)
    suffix = p.suffix.lower()
    if suffix == ".obj":
        from pyhpe.data.biwi_raw import read_obj

        v = read_obj(p)[0]
    elif suffix == ".npy":
        try:
            v = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataFileError(p, f"not a readable .npy array ({exc})") from None
        if not np.issubdtype(v.dtype, np.number):
            raise DataFileError(p, f"expected numbers, got dtype {v.dtype}")
        v = np.asarray(v, dtype=np.float64)
    elif suffix == ".ply":
        v = _read_ply_ascii(p)
    else:
        raise DataFileError(p, f"unsupported template format {suffix or '(no suffix)'!r} "
                               "(expected .obj, .npy or .ply)")
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise DataFileError(p, f"expected vertices of shape (V, 3) with V >= 1, got {v.shape}")
    return v


def per_sequence_files(spec: str) -> list[Path]:
    """The test meshes of ``--per-sequence``: a folder's template files, a glob, or one file."""
    from pyhpe.data.files import DataFileError

    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in TEMPLATE_SUFFIXES)
        if not files:
            raise DataFileError(p, "no .obj, .npy or .ply files in this folder")
        return files
    if p.is_file():
        return [p]
    files = sorted(Path(f) for f in glob.glob(spec) if os.path.isfile(f))
    if not files:
        raise DataFileError(p, "no such folder, and no file matches it as a glob pattern")
    return files


def _landmarks(vertices: np.ndarray, ids: list[int], path: Path, flag: str) -> np.ndarray:
    try:
        lm = landmarks_from_template(vertices, ids)
    except ValueError as exc:
        raise ValueError(f"{path}: {flag}: {exc}") from None
    bad = ~np.isfinite(lm).all(axis=1)
    if bad.any():
        raise ValueError(f"{path}: landmark vertex {ids[int(np.flatnonzero(bad)[0])]} is not finite (NaN/inf)")
    return lm


# ---- the command ------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    scale = float(args.scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"--scale must be a finite number > 0, got {args.scale}")
    train_ids = read_ids(args.train_landmarks, "--train-landmarks")
    test_ids = read_ids(args.test_landmarks, "--test-landmarks")
    if len(train_ids) != len(test_ids):
        raise ValueError(f"landmark count mismatch: --train-landmarks has {len(train_ids)} ids, "
                         f"--test-landmarks has {len(test_ids)}")
    train_path = Path(args.train_template)
    a = _landmarks(read_template(train_path), train_ids, train_path, "--train-landmarks")

    files = [Path(args.test_template)] if args.test_template else per_sequence_files(args.per_sequence)
    keys: dict[str, Path] = {}
    for f in files:
        if f.stem in keys:
            raise ValueError(f"two test templates share the key {f.stem!r}: {keys[f.stem]} and {f}")
        keys[f.stem] = f

    offsets: dict[str, np.ndarray] = {}
    residuals: dict[str, dict[str, float]] = {}
    for key, f in keys.items():
        b = _landmarks(read_template(f) * scale, test_ids, f, "--test-landmarks")
        dT = reference_offset(a, b)
        offsets[key] = dT
        residuals[key] = {"before": 1e3 * float(np.linalg.norm(a - b, axis=1).mean()),
                          "after": 1e3 * float(np.linalg.norm(a - (b + dT), axis=1).mean())}

    print(f"dT per test template (mm, head frame: x right, y down, z into the head), "
          f"{len(train_ids)} landmarks; residual = mean landmark distance before / after (mm)")
    width = max(8, *(len(k) for k in offsets))
    print(f"{'key':<{width}} {'dx':>8} {'dy':>8} {'dz':>8} {'|dT|':>8} {'before':>8} {'after':>8}")
    for key, dT in offsets.items():
        mm = 1e3 * dT
        print(f"{key:<{width}} {mm[0]:8.2f} {mm[1]:8.2f} {mm[2]:8.2f} {np.linalg.norm(mm):8.2f} "
              f"{residuals[key]['before']:8.2f} {residuals[key]['after']:8.2f}")
    if len(offsets) > 1:
        mean = 1e3 * np.mean(list(offsets.values()), axis=0)
        print(f"{'mean':<{width}} {mean[0]:8.2f} {mean[1]:8.2f} {mean[2]:8.2f} {np.linalg.norm(mean):8.2f}")

    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_reference_offsets(
            out, offsets,
            train_template=str(train_path),
            test_templates={k: str(f) for k, f in keys.items()},
            scale=scale,
            landmarks={"train": train_ids, "test": test_ids},
            residual_mm=residuals,
        )
        print(f"wrote {out}")
    return 0
