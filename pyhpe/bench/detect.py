"""Detection rate and false positives per |yaw| bin on synthetic heads pasted into larger frames.

``pyhpe bench detect --detector haar --frames 600 --seed 1 --out DIR`` writes DIR/results.json,
DIR/table.md and DIR/detection_rate.png.

Each frame holds one head of the repo's synthetic renderer (`pyhpe.data.synthetic`), cut out by
its head mask and pasted at a random position and scale into a random background frame (default
640×480). Frame i takes |yaw| bin i mod 6 (0–15°, …, 75–90°), |yaw| uniform in the bin, random
sign; pitch in ±20°, roll in ±10°, no occluders, the renderer's own glasses, light, blur and noise.
A detection finds the head when its IoU with the head-mask box (hair included) or with the
face's landmark box is at least ``--min-iou`` (default 0.4): a detector's face box lies between
the two (the landmark box is the 68 landmarks' extent, the mask box the whole head). Every other
detection is a false positive; a second detection on an already found head counts as a duplicate.

The backgrounds (`random_background`: colour fields, shapes, stripes, strong grain) are harder
and slower for a cascade than most real frames. ``--background plain --clean`` (one grey level,
heads without glasses, blur or noise) and ``--pitch 0 0 --roll 0 0`` isolate what the heads
themselves allow; results.json keeps one record per frame (pose, head size, found).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from pyhpe.detect.base import Detector, box_iou

BIN_EDGES = (0, 15, 30, 45, 60, 75, 90)
RENDER_SIZE = 384


def head_frame(seed: int, index: int, yaw: float, width: int, height: int,
               head_px: tuple[float, float], pitch: tuple[float, float] = (-20.0, 20.0),
               roll: tuple[float, float] = (-10.0, 10.0), background: str = "random",
               clean: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One frame: a random background with one synthetic head (yaw ``yaw``) pasted into it.

    Returns (frame RGB uint8, head-mask box, landmark box, Euler (pitch, yaw, roll) degrees); boxes
    are xyxy in frame pixels. The head's height in the frame is uniform in ``head_px``.
    ``background`` "plain": one random grey level instead of `random_background` (textured, grainy);
    ``clean``: heads without glasses, blur or noise (both to find what limits a detector).
    """
    from pyhpe.data.synthetic.background import random_background
    from pyhpe.data.synthetic.config import SynthConfig
    from pyhpe.data.synthetic.render import render_index

    extra = {"glasses_prob": 0.0, "blur_prob": 0.0, "noise_sigma": (0.0, 0.0)} if clean else {}
    cfg = SynthConfig(size=RENDER_SIZE, yaw=(yaw, yaw), pitch=tuple(pitch), roll=tuple(roll),
                      occluder_prob=0.0, **extra)
    sample = render_index(cfg, seed, index)
    rng = np.random.default_rng([seed, index, 1])
    mask = sample.extra["head_mask"]
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    s = rng.uniform(*head_px) / (y1 - y0)
    w, h = max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))
    w, h = min(w, width), min(h, height)
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    head = cv2.resize(sample.image[y0:y1, x0:x1], (w, h), interpolation=interp).astype(np.float32)
    alpha = cv2.resize(mask[y0:y1, x0:x1].astype(np.float32), (w, h), interpolation=interp)[..., None]
    if background == "plain":
        frame = np.full((height, width, 3), rng.uniform(40, 215), np.float32)
    else:
        frame = random_background(rng, max(width, height))[:height, :width].astype(np.float32)
    px, py = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    region = frame[py:py + h, px:px + w]
    frame[py:py + h, px:px + w] = alpha * head + (1 - alpha) * region
    head_box = np.array([px, py, px + w, py + h], dtype=np.float64)
    lm = sample.bbox  # landmark box in render pixels (centre coordinates) -> frame
    lm_box = np.array([(lm[0] - x0 + 0.5) * sx - 0.5 + px, (lm[1] - y0 + 0.5) * sy - 0.5 + py,
                       (lm[2] - x0 + 0.5) * sx - 0.5 + px, (lm[3] - y0 + 0.5) * sy - 0.5 + py])
    return np.clip(frame, 0, 255).astype(np.uint8), head_box, lm_box, np.asarray(sample.euler, float)


def frame_yaw(seed: int, index: int) -> float:
    """Frame ``index``'s yaw: bin index mod 6, uniform |yaw| in the bin, random sign."""
    rng = np.random.default_rng([seed, index, 2])
    b = index % (len(BIN_EDGES) - 1)
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(BIN_EDGES[b], BIN_EDGES[b + 1]))


def score_frame(boxes: np.ndarray, head_box: np.ndarray, lm_box: np.ndarray,
                min_iou: float) -> tuple[bool, int, int]:
    """(head found, false positives, duplicates) of one frame's detections (see module doc)."""
    if len(boxes) == 0:
        return False, 0, 0
    iou = np.maximum(box_iou(boxes, head_box[None])[:, 0], box_iou(boxes, lm_box[None])[:, 0])
    hits = int((iou >= min_iou).sum())
    return hits > 0, len(boxes) - hits, max(hits - 1, 0)


def measure(detector: Detector, frames: int, seed: int, width: int = 640, height: int = 480,
            head_px: tuple[float, float] = (80.0, 240.0), min_iou: float = 0.4,
            examples: Path | None = None, n_examples: int = 12, **scene) -> dict:
    """Run ``detector`` on ``frames`` composited frames; counts per |yaw| bin and overall, and
    one record per frame (pose, head height, found, false positives, duplicates).
    ``scene``: `head_frame`'s pitch, roll, background, clean."""
    n_bins = len(BIN_EDGES) - 1
    rows = [{"bin": f"{BIN_EDGES[b]}-{BIN_EDGES[b + 1]}", "frames": 0, "found": 0, "false_pos": 0,
             "duplicates": 0} for b in range(n_bins)]
    seconds = 0.0
    records: list[dict] = []
    for i in range(frames):
        yaw = frame_yaw(seed, i)
        frame, head_box, lm_box, euler = head_frame(seed, i, yaw, width, height, head_px, **scene)
        t0 = time.perf_counter()
        dets = detector(frame, key=i)
        seconds += time.perf_counter() - t0
        found, fp, dup = score_frame(dets.boxes, head_box, lm_box, min_iou)
        records.append({"index": i, "pitch": round(float(euler[0]), 2), "yaw": round(float(euler[1]), 2),
                        "roll": round(float(euler[2]), 2), "head_px": float(head_box[3] - head_box[1]),
                        "found": bool(found), "false_pos": fp, "duplicates": dup})
        row = rows[i % n_bins]
        row["frames"] += 1
        row["found"] += int(found)
        row["false_pos"] += fp
        row["duplicates"] += dup
        if examples is not None and i < n_examples:
            _save_example(examples / f"frame{i:03d}.jpg", frame, dets, head_box, lm_box, yaw)
    for row in rows:
        n = max(row["frames"], 1)
        row.update(rate=row["found"] / n, false_pos_per_frame=row["false_pos"] / n,
                   duplicates_per_frame=row["duplicates"] / n)
    total = {k: sum(r[k] for r in rows) for k in ("frames", "found", "false_pos", "duplicates")}
    n = max(total["frames"], 1)
    total.update(rate=total["found"] / n, false_pos_per_frame=total["false_pos"] / n,
                 duplicates_per_frame=total["duplicates"] / n, ms_per_frame=1000 * seconds / n)
    return {"bins": rows, "total": total, "per_frame": records}


def _save_example(path: Path, frame, dets, head_box, lm_box, yaw: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    for box, colour in ((head_box, (0, 200, 0)), (lm_box, (0, 120, 0))):
        cv2.rectangle(img, tuple(int(v) for v in box[:2]), tuple(int(v) for v in box[2:]), colour, 1)
    for k, box in enumerate(dets.boxes):
        label = f"{dets.scores[k]:.0f} {dets.kinds[k] if dets.kinds is not None else ''}"
        cv2.rectangle(img, tuple(int(v) for v in box[:2]), tuple(int(v) for v in box[2:]), (0, 0, 255), 2)
        cv2.putText(img, label, (int(box[0]), int(box[1]) - 3), 0, 0.45, (0, 0, 255), 1)
    cv2.putText(img, f"yaw {yaw:.0f}", (8, 20), 0, 0.6, (255, 255, 255), 2)
    cv2.imwrite(str(path), img)


def table_markdown(results: dict) -> str:
    """The per-bin table as Markdown."""
    lines = ["| abs(yaw) ° | frames | detection rate | false pos / frame | duplicates / frame |",
             "|---|---|---|---|---|"]
    for r in results["bins"] + [dict(results["total"], bin="all")]:
        lines.append(f"| {r['bin']} | {r['frames']} | {100 * r['rate']:.1f} % | "
                     f"{r['false_pos_per_frame']:.3f} | {r['duplicates_per_frame']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path, title: str) -> None:
    """Bar plot: detection rate per |yaw| bin, false positives per frame beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = [r["bin"] for r in results["bins"]]
    x = np.arange(len(bins))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(x - 0.2, [100 * r["rate"] for r in results["bins"]], 0.4, label="detection rate (%)")
    ax.axhline(90, color="grey", ls="--", lw=1, label="target 90 %")
    ax.set_ylim(0, 100)
    ax.set_xticks(x, bins)
    ax.set_xlabel("|yaw| (degrees)")
    ax.set_ylabel("detection rate (%)")
    ax2 = ax.twinx()
    ax2.bar(x + 0.2, [r["false_pos_per_frame"] for r in results["bins"]], 0.4, color="tab:red",
            label="false positives / frame")
    ax2.set_ylabel("false positives / frame")
    ax2.set_ylim(0, max(1.0, max(r["false_pos_per_frame"] for r in results["bins"]) * 1.2))
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


DESCRIPTION = __doc__


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", choices=("haar", "yunet"), default="haar")
    p.add_argument("--detector-weights", metavar="FILE", help="YuNet ONNX file (--detector yunet)")
    p.add_argument("--frames", type=int, default=600, help="frames (one head each; default 600)")
    p.add_argument("--seed", type=int, default=1, help="seed of the heads, poses and backgrounds")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    p.add_argument("--head-px", type=float, nargs=2, default=(80.0, 240.0), metavar=("MIN", "MAX"),
                   help="head height in the frame, pixels (default 80 240)")
    p.add_argument("--min-iou", type=float, default=0.4, help="match criterion (default 0.4)")
    p.add_argument("--examples", type=int, default=12, help="annotated frames to save (default 12)")
    p.add_argument("--pitch", type=float, nargs=2, default=(-20.0, 20.0), metavar=("LO", "HI"))
    p.add_argument("--roll", type=float, nargs=2, default=(-10.0, 10.0), metavar=("LO", "HI"))
    p.add_argument("--background", choices=("random", "plain"), default="random",
                   help="random: pyhpe's textured synthetic backgrounds; plain: one grey level")
    p.add_argument("--clean", action="store_true", help="heads without glasses, blur or noise")
    g = p.add_argument_group("haar settings (defaults: HaarDetector's)")
    g.add_argument("--min-face", type=int, default=40)
    g.add_argument("--max-side", type=int, default=640)
    g.add_argument("--scale-factor", type=float)
    g.add_argument("--min-neighbors", type=int)
    g.add_argument("--profile-min-neighbors", type=int)
    g.add_argument("--profile-scale-factor", type=float)
    g.add_argument("--equalize", choices=("none", "global", "clahe"))
    g.add_argument("--nms-iou", type=float)


def _detector_kwargs(args: argparse.Namespace) -> dict:
    if args.detector == "yunet":
        if not args.detector_weights:
            raise ValueError("--detector yunet needs --detector-weights FILE.onnx")
        return {"weights": args.detector_weights, "min_face": args.min_face, "max_side": args.max_side}
    kw = {"min_face": args.min_face, "max_side": args.max_side}
    for name in ("scale_factor", "min_neighbors", "profile_min_neighbors", "profile_scale_factor",
                 "equalize", "nms_iou"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    return kw


def run(args: argparse.Namespace) -> int:
    from pyhpe.detect import make_detector
    from pyhpe.models.stats import cpu_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = _detector_kwargs(args)
    detector = make_detector(args.detector, **kwargs)
    width, height = args.size
    scene = {"pitch": tuple(args.pitch), "roll": tuple(args.roll), "background": args.background,
             "clean": args.clean}
    results = measure(detector, args.frames, args.seed, width, height, tuple(args.head_px), args.min_iou,
                      out / "examples" if args.examples else None, args.examples, **scene)
    cpu = cpu_model() or platform.machine()
    results.update(
        detector=args.detector,
        settings=getattr(detector, "settings", {k: v for k, v in kwargs.items() if k != "weights"}),
        seed=args.seed, frame_size=[width, height], head_px=list(args.head_px), min_iou=args.min_iou,
        poses={"yaw": "uniform in each |yaw| bin, random sign", "pitch": list(args.pitch),
               "roll": list(args.roll), "occluders": 0.0},
        scene={"background": args.background, "clean_heads": args.clean}, cpu=cpu, cpu_count=os.cpu_count(),
        opencv=cv2.__version__, threads=cv2.getNumThreads(),
        command="pyhpe bench detect " + " ".join(sys.argv[3:]),
    )
    (out / "results.json").write_text(json.dumps(results, indent=2))
    head = (f"{args.detector} {results['settings']}, seed {args.seed}, {args.frames} frames "
            f"{width}x{height}, pitch {list(args.pitch)}, roll {list(args.roll)}, background "
            f"{args.background}{', clean heads' if args.clean else ''}; CPU {cpu}, "
            f"{results['total']['ms_per_frame']:.1f} ms/frame\n\n")
    table = table_markdown(results)
    (out / "table.md").write_text(head + table)
    plot(results, out / "detection_rate.png", f"{args.detector} on synthetic heads, seed {args.seed}")
    print(head + table, end="")
    return 0
