"""``pyhpe data filelist ROOT``: write 6DRepNet's file list (±99° filter) for 300W-LP / AFLW2000."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyhpe.data.filelist import ANGLE_LIMIT_DEG, build_filelist, write_filelist
from pyhpe.engine.errors import Skips, add_strict_flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="dataset folder (searched recursively for *.jpg + *.mat)")
    parser.add_argument("--out", help="list file to write (default ROOT/files.txt)")
    parser.add_argument("--limit", type=float, default=ANGLE_LIMIT_DEG,
                        help="keep |pitch|, |yaw|, |roll| <= LIMIT degrees (default 99)")
    add_strict_flag(parser, "unreadable .mat file")
    # bad files are skipped by default now; the old opt-in flag is accepted and does nothing
    parser.add_argument("--skip-bad", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    skips = Skips("data filelist", args.strict)
    result = build_filelist(args.root, args.limit, skip_bad=True, progress=not args.no_progress, on_bad=skips)
    if not result.kept and not result.rejected and not result.bad:
        raise ValueError(f"{args.root}: no .jpg + .mat pairs found")
    skips.require_some(len(result.kept) + result.rejected, ".mat file")
    out = Path(args.out) if args.out else Path(args.root) / "files.txt"
    write_filelist(result.kept, out)
    print(f"{out}: kept {len(result.kept)}, rejected {result.rejected} (|angle| > {args.limit:g}°)"
          + skips.summary("bad file(s)"))
    return skips.status()
