"""``pyhpe data check SOURCE``: read every sample once and report the bad files.

Each bad file is one line on stderr (``pyhpe data check: skipped PATH: problem``); the last line
counts the items and the bad files. Exit status: 0 all good, 3 some files bad (``--strict``: the
first bad file is the error, status 1), 1 the source itself cannot be read or holds no item.
"""

from __future__ import annotations

import argparse

from pyhpe.data.sources import FORMATS, open_source
from pyhpe.engine.errors import Skips, add_strict_flag

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="dataset folder, file list or npz")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    parser.add_argument("--split", default=None,
                        help="ARKitFace: train (default) or test; DD-Pose: train, val, test or all (default all)")
    add_strict_flag(parser, "bad file")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    skips = Skips("data check", args.strict)
    data = open_source(args.source, args.format, split=args.split, skip_bad=not args.strict)
    data.report_bad(skips)
    data.scan(progress=not args.no_progress)
    if not len(data) and not skips.count:
        raise ValueError(f"{args.source}: no items found (format {args.format})")
    good = len(data.good_indices())
    skips.require_some(good, "item")
    print(f"{args.source}: {good} readable item(s){skips.summary('bad file(s)')}")
    return skips.status()
