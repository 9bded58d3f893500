"""`pyhpe eval --checkpoint CKPT --data DATA`: MAE per angle (both formulas), geodesic error.

CKPT is anything :func:`pyhpe.models.load` reads: a pyhpe model file (``model.safetensors`` +
``model.json``, what ``pyhpe train`` writes), a pyhpe training checkpoint
(``checkpoints/last.safetensors``), or an official 6DRepNet release ``.pth`` / training ``.tar``
(``--model`` names its architecture, e.g. sixdrepnet_repvgg_b1g2). The test crop and input size
come from the model card (``--test-resize``, ``--test-margin``, ``--input-size`` override it).

DATA is a dataset folder, file list or npz (``--format``: auto, aflw2000, 300wlp, biwi-npz, ...),
or ``synthetic`` (rendered on the fly: ``--n``, ``--seed``). With ``--format auto`` a
300W-LP-style folder or list whose path contains "aflw2000" is read as AFLW2000. AFLW2000 is filtered to
|angles| ≤ 99° (``--no-filter99`` to keep all). The protocol follows 6DRepNet's test.py: labels
are the dataset's angles, predictions are decoded from the predicted matrix.

``--split`` picks a dataset's split (ARKitFace train|test; DD-Pose train|val|test|all, TRGv2's
subject split). DD-Pose sources add the devkit's per-subset table (all / easy / moderate / hard:
BMAE, MAE_r, MAE_t, recall; pyhpe.metrics.ddpose), and ``--predictions-out DIR_OR_ZIP`` writes
the predictions in the devkit's submission layout (pyhpe.data.ddpose.write_ddpose_predictions; a
zip when the path ends in .zip).

Writes ``<out>/eval-<name>-<time>/results.json`` and ``error_vs_yaw.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import torch

from pyhpe.engine.errors import Skips, add_strict_flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="pyhpe model file, training checkpoint or official .pth/.tar")
    parser.add_argument("--data", required=True, help="dataset path (folder, file list, npz) or 'synthetic'")
    parser.add_argument("--format", default="auto",
                        help="auto | aflw2000 | 300wlp | biwi-npz | biwi-raw | sixdof | arkitface | ddpose")
    parser.add_argument("--model", help="architecture for official checkpoints (default sixdrepnet_repvgg_b1g2)")
    parser.add_argument("--input-size", type=int, help="network input side (default: from the model file, else 224)")
    parser.add_argument("--test-resize", type=int, default=None,
                        help="shorter side before the centre crop, in 224-px units (default: the model card's; "
                             "6DRepNet: 256; 224 = no centre cut, as `pyhpe demo` evaluates)")
    parser.add_argument("--test-margin", type=float, default=None,
                        help="k of the fixed-margin test box (default: the model card's; 6DRepNet / AFLW2000: 0.2)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-filter99", action="store_true", help="keep AFLW2000 samples beyond ±99°")
    parser.add_argument("--keep-bgr", action="store_true", help="BIWI npz: feed BGR pixels (the released BIWI model's input)")
    parser.add_argument("--n", type=int, default=500, help="synthetic: number of test images")
    parser.add_argument("--seed", type=int, default=1, help="synthetic: image stream (training streams use other seeds)")
    parser.add_argument("--render-size", type=int, default=128, help="synthetic: rendered frame side")
    parser.add_argument("--depth", type=float, nargs=2, metavar=("NEAR", "FAR"),
                        help="synthetic: head distance range in metres (default: the renderer's 0.3-1.5)")
    parser.add_argument("--reference-offset", metavar="FILE[:KEY]",
                        help="6DoF models: a reference-system offset file from `pyhpe align` (or 'trgv2-biwi', "
                             "TRGv2's released ARKit->BIWI offsets); the report adds the metrics with "
                             "t + R·ΔT. A file of several offsets is applied per sequence (raw BIWI: "
                             "'01'...'24'); KEY picks one for all")
    parser.add_argument("--split", default=None,
                        help="the dataset's split: arkitface train|test, ddpose train|val|test|all "
                             "(default: the loader's, ARKitFace train, DD-Pose all)")
    parser.add_argument("--predictions-out", metavar="DIR_OR_ZIP",
                        help="DD-Pose: write the predictions in the devkit's submission layout "
                             "(subject-XX/scenario-YY/<item>/t-camdriver-head-predictions.json + "
                             "metadata.json; a zip when the path ends in .zip)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--out", default="runs", help="parent folder of the results directory")
    parser.add_argument("--name", help="results directory name prefix (default: the data's name)")
    add_strict_flag(parser, "unreadable sample")
    parser.add_argument("--no-progress", action="store_true")


def build_dataset(args: argparse.Namespace, card, task, skips: Skips | None = None):
    """(dataset of dicts, source description) for --data/--format, cropped as ``card`` says
    (``--test-resize``/``--test-margin`` override it); unreadable samples go to ``skips`` and are
    left out (never replaced by another sample)."""
    from pyhpe.engine.config import SOURCE_DEFAULTS
    from pyhpe.engine.data import Transformed, open_samples

    src = dict(SOURCE_DEFAULTS)
    split = getattr(args, "split", None)
    if args.data == "synthetic":
        if split is not None:
            raise ValueError("--split: synthetic data has no splits")
        src.update(format="synthetic", n=args.n, seed=args.seed, render_size=args.render_size, name="synthetic",
                   depth=list(args.depth) if args.depth else None)
    else:
        from pyhpe.data.sources import detect_format

        path = Path(args.data)
        if not path.exists():
            raise FileNotFoundError(f"data not found: {path}")
        fmt = detect_format(path) if args.format == "auto" else args.format
        if args.format == "auto" and fmt == "300wlp" and "aflw2000" in str(path).lower():
            fmt = "aflw2000"  # same file layout; the name decides (and turns on the ±99° filter)
        from pyhpe.data.sources import SPLITS, check_split

        if split is not None and fmt not in SPLITS:
            raise ValueError(f"--split: format {fmt} has no splits (only "
                             + ", ".join(f"{f}: {'|'.join(v)}" for f, v in SPLITS.items()) + ")")
        check_split(fmt, split)
        src.update(format=fmt, path=str(path), name=fmt if split is None else f"{fmt}-{split}",
                   keep_bgr=args.keep_bgr, split=split,
                   margin_crop=fmt not in ("biwi-npz",), filter99=fmt == "aflw2000" and not args.no_filter99)
    if args.test_resize is not None and args.test_resize < 224:
        raise ValueError(f"--test-resize must be >= 224 (the crop is then cut to the input), got {args.test_resize}")
    if args.test_margin is not None and not 0.0 <= args.test_margin <= 1.0:
        raise ValueError(f"--test-margin must be in [0, 1], got {args.test_margin}")
    task.check_source(src, "--data")
    crop = dataclasses.replace(card.crop,
                               margin=card.crop.margin if args.test_margin is None else args.test_margin,
                               resize=card.crop.resize if args.test_resize is None else args.test_resize)
    ds = open_samples(src, progress=not args.no_progress, keep_mesh=task.needs_mesh, skips=skips)
    return Transformed(ds, task.test_transform(crop, card.input_size, src), task.batch_keys), src


def _reference_offset(spec: str | None, task):
    """``FILE[:KEY]`` (pyhpe align's JSON, or a shipped name such as "trgv2-biwi") -> ΔT (3,), or
    the whole table {key: ΔT} when the file holds several and no KEY is given (applied per
    sequence, :func:`_per_sequence_offsets`); for tasks that predict translation."""
    if spec is None:
        return None
    if "t" not in dict(task.result_shapes()):
        raise ValueError(f"--reference-offset needs a model that predicts translation, not a {task.name} model")
    from pyhpe.geometry.alignment import read_reference_offsets

    path, _, key = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    offsets = read_reference_offsets(path)
    if key:
        if key not in offsets:
            raise ValueError(f"{path}: no offset {key!r} (it has {', '.join(sorted(offsets))})")
        return offsets[key]
    return offsets if len(offsets) > 1 else next(iter(offsets.values()))


def _base_dataset(dataset):
    """(the loader under the evaluation's wrappers, the indices of its subset or None)."""
    from pyhpe.engine.data import Subset, Transformed

    base = dataset.base if isinstance(dataset, Transformed) else dataset
    if isinstance(base, Subset):
        return base.base, base.indices
    return base, None


def _per_sequence_offsets(dataset, offsets: dict, spec: str, n_predictions: int):
    """(N, 3) ΔT of each prediction from its sequence's entry (a loader with ``sequences()``,
    e.g. raw BIWI: "01" ... "24")."""
    import numpy as np

    base, indices = _base_dataset(dataset)
    if not hasattr(base, "sequences"):
        raise ValueError(f"{spec} holds {len(offsets)} offsets and this data has no sequences to "
                         f"match them to; pick one with {spec}:KEY ({', '.join(sorted(offsets)[:6])}, ...)")
    keys = base.sequences()
    keys = [keys[i] for i in indices] if indices is not None else keys
    if len(keys) != n_predictions:
        raise RuntimeError("the sequence keys do not line up with the predictions")
    missing = sorted(set(keys) - set(offsets))
    if missing:
        raise ValueError(f"{spec} has no offset for sequence(s) {', '.join(missing[:6])} "
                         f"(it has {', '.join(sorted(offsets)[:6])}, ...)")
    return np.stack([offsets[k] for k in keys])


def _ddpose_frames(dataset, n_predictions: int, R_gt: torch.Tensor):
    """The devkit keys (pyhpe.data.ddpose.DDPoseFrames) of an evaluated DD-Pose dataset, in
    prediction order (the evaluation reads the dataset in order); checked against the gathered
    ground truth, so a misaligned key fails loudly instead of scoring the wrong frames."""
    import numpy as np

    base, indices = _base_dataset(dataset)
    frames = base.frames()
    if indices is not None:
        frames = frames.select(indices)
    lab = frames.labelled  # unlabelled (test) frames carry a placeholder pose: compare the rest
    if len(frames) != n_predictions or not np.allclose(frames.T[lab, :3, :3], R_gt.double().numpy()[lab], atol=1e-5):
        raise RuntimeError("the DD-Pose frame keys do not line up with the predictions")
    return frames


def _unlabelled_count(dataset, src: dict) -> int:
    """Frames without ground truth (DD-Pose's test split) in the evaluated dataset."""
    if src["format"] != "ddpose":
        return 0
    base, indices = _base_dataset(dataset)
    labelled = base.frames().labelled
    if indices is not None:
        labelled = labelled[list(indices)]
    return int((~labelled).sum())


def _write_predictions(path: str, preds, args: argparse.Namespace, card, src: dict) -> None:
    from pyhpe.data.ddpose import pose_matrices, write_ddpose_predictions

    T = pose_matrices(preds.R_pred.double().numpy(), preds.t_pred.double().numpy())
    meta = {"checkpoint": str(args.checkpoint), "model": card.model, "data": str(args.data),
            "split": src.get("split") or "all", "units": "m",
            "transform": "T_camdriver_head: head -> driver camera, x_cam = R v + t"}
    out = write_ddpose_predictions(path, preds.frames, T, name=card.model, metadata=meta)
    print(f"predictions: {out} ({len(preds.frames)} frames)")


def run(args: argparse.Namespace) -> int:
    from pyhpe.engine.errors import guarded

    return guarded("eval", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from pyhpe.engine.distributed import pick_device
    from pyhpe.engine.inference import predict_dataset
    from pyhpe.models import load
    from pyhpe.models.loader import describe_kind
    from pyhpe.tasks import task_of

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.batch_size < 1:
        raise ValueError("--batch-size must be >= 1")
    model, card = load(args.checkpoint, args.model, input_size=args.input_size)
    if args.input_size:
        card = card.with_(input_size=args.input_size)
    task = task_of(model)
    device = pick_device(args.device)
    model.to(device)
    skips = Skips("eval", args.strict)
    dataset, src = build_dataset(args, card, task, skips)
    offset = _reference_offset(args.reference_offset, task)
    if args.predictions_out is not None:
        if src["format"] != "ddpose":
            raise ValueError(f"--predictions-out writes DD-Pose submissions; the data is {src['format']}")
        if "t" not in dict(task.result_shapes()):
            raise ValueError(f"--predictions-out needs a 6DoF model, not a {task.name} model")
        if Path(args.predictions_out).exists():
            raise ValueError(f"--predictions-out: {args.predictions_out} already exists")
    unlabelled = _unlabelled_count(dataset, src)
    if unlabelled and args.predictions_out is None:
        raise ValueError(f"{unlabelled} frames of {args.data} have no labels (DD-Pose's withheld test "
                         "split): nothing to score; write the benchmark submission with --predictions-out")
    preds = predict_dataset(model, dataset, device, args.batch_size, args.workers, not args.no_progress, task=task)
    if unlabelled:  # predictions only: the benchmark server scores them
        preds.frames = _ddpose_frames(dataset, len(preds.R_gt), preds.R_gt)
        print(f"{card.model} on {src['name']}: {len(preds.R_gt)} frames, {unlabelled} without labels "
              "(no metrics: the benchmark server scores the submission)")
        _write_predictions(args.predictions_out, preds, args, card, src)
        return 0
    if isinstance(offset, dict):
        offset = _per_sequence_offsets(dataset, offset, args.reference_offset, len(preds.R_gt))
    if offset is not None:
        preds.offset = offset
    if src["format"] == "ddpose" and hasattr(preds, "frames"):
        preds.frames = _ddpose_frames(dataset, len(preds.R_gt), preds.R_gt)
    report = preds.report()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) / f"eval-{args.name or src['name']}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    task.plots(preds, out, f"{card.model} on {src['name']} (n={report['n']})")
    results = {"checkpoint": str(args.checkpoint), "checkpoint_kind": describe_kind(args.checkpoint),
               "model": card.model, "task": card.task, "input_size": card.input_size, "data": str(args.data),
               "format": src["format"], "filter99": bool(src.get("filter99")), "skipped": skips.count,
               **report}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(task.format_report(report, f"{card.model} on {src['name']}"))
    if args.predictions_out is not None:
        _write_predictions(args.predictions_out, preds, args, card, src)
    print(f"results: {out / 'results.json'}{skips.summary('unreadable sample(s), left out of the metrics')}")
    return skips.status()
