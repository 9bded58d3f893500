"""``pyhpe data filelist ROOT``: write 6DRepNet's file list (±99° filter) for 300W-LP / AFLW2000."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyhpe.data.filelist import ANGLE_LIMIT_DEG, build_filelist, write_filelist


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="dataset folder (searched recursively for *.jpg + *.mat)")
    parser.add_argument("--out", help="list file to write (default ROOT/files.txt)")
    parser.add_argument("--limit", type=float, default=ANGLE_LIMIT_DEG,
                        help="keep |pitch|, |yaw|, |roll| <= LIMIT degrees (default 99)")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable .mat files")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    result = build_filelist(args.root, args.limit, args.skip_bad, progress=not args.no_progress)
    out = Path(args.out) if args.out else Path(args.root) / "files.txt"
    write_filelist(result.kept, out)
    print(f"{out}: kept {len(result.kept)}, rejected {result.rejected} (|angle| > {args.limit:g}°)"
          + (f", skipped {len(result.bad)} bad file(s)" if result.bad else ""))
    return 0
