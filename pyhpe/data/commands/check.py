"""``pyhpe data check SOURCE``: read every sample once and report the bad files."""

from __future__ import annotations

import argparse

from pyhpe.data.sources import FORMATS, open_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="dataset folder, file list or npz")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    parser.add_argument("--split", default=None,
                        help="ARKitFace: train (default) or test; DD-Pose: train, val, test or all (default all)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    data = open_source(args.source, args.format, split=args.split, skip_bad=True)
    data.scan(progress=not args.no_progress)
    for path in data.bad_files:
        print(f"bad: {path}")
    print(f"{args.source}: {len(data)} items, {data.skipped} bad file(s)")
    return 1 if data.skipped else 0
