"""``pyhpe data biwi-preprocess ROOT OUT``: raw BIWI -> FSA-Net-style npz (256 px crops)."""

from __future__ import annotations

import argparse

from pyhpe.data.biwi_preprocess import preprocess_biwi
from pyhpe.data.face_detect import HaarFaceDetector
from pyhpe.engine.errors import Skips, add_strict_flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import add_renamed, positive_int

    parser.add_argument("root", help="raw BIWI folder (kinect_head_pose_db or its hpdb/)")
    parser.add_argument("out", help="output path prefix: OUT.npz or OUT_train.npz / OUT_test.npz")
    add_renamed(parser, "--size", old="--img-size", dest="img_size", type=positive_int, default=256,
                help="crop side in pixels (default 256)")
    parser.add_argument("--on-miss", choices=("drop", "reuse"), default="drop",
                        help="frames without an accepted detection: drop (FSA protocol 1) or reuse "
                             "the previous box (FSA protocol 2)")
    parser.add_argument("--rule", choices=("largest", "fsa"), default="largest",
                        help="which detection to keep when several are found")
    parser.add_argument("--max-jump", type=float, default=80.0,
                        help="reject a box whose left edge moved this many px or more (default 80)")
    add_renamed(parser, "--train-fraction", old="--split", dest="split", type=float,
                help="train fraction of sequences (e.g. 0.7); writes OUT_train.npz / OUT_test.npz")
    parser.add_argument("--train-sequences", type=int, help="number of train sequences (FSA: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sequence split")
    parser.add_argument("--min-face", type=int, default=40, help="smallest face side for the detector")
    add_strict_flag(parser, "unreadable frame")
    # unreadable frames are skipped by default now; the old opt-in flag is accepted and does nothing
    parser.add_argument("--skip-bad", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    skips = Skips("data biwi-preprocess", args.strict)
    report = preprocess_biwi(
        args.root, args.out, HaarFaceDetector(min_size=args.min_face), img_size=args.img_size,
        on_miss=args.on_miss, rule=args.rule, max_jump=args.max_jump, split=args.split,
        train_count=args.train_sequences, seed=args.seed, skip_bad=True, on_bad=skips,
        progress=not args.no_progress,
    )
    skips.require_some(report.frames, "frame")
    for path, n in report.outputs.items():
        print(f"{path}: {n} frames")
    print(f"frames {report.frames}, dropped {report.dropped}, reused {report.reused}, "
          f"bad files skipped {report.skipped_bad}")
    if report.train_sequences:
        print(f"train sequences {report.train_sequences}; test {report.test_sequences} (seed {args.seed})")
    return skips.status()
