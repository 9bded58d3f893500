"""``pyhpe data show SOURCE --n 16 --out grid.png``: a picture of samples with their labels."""

from __future__ import annotations

import argparse

import numpy as np

from pyhpe.data.draw import save_sample_grid
from pyhpe.data.sources import FORMATS, open_source
from pyhpe.engine.errors import Skips, add_strict_flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="dataset folder, file list or npz; or 'synthetic' for "
                                       "freshly rendered heads (seed --seed, default 0)")
    parser.add_argument("--format", default="auto", choices=("auto",) + FORMATS)
    parser.add_argument("--split", default=None,
                        help="ARKitFace: train (default) or test; DD-Pose: train, val, test or all (default all)")
    parser.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    parser.add_argument("--out", default="grid.png", help="PNG to write (default grid.png)")
    parser.add_argument("--seed", type=int, help="pick random samples with this seed (default: evenly spaced)")
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels")
    add_strict_flag(parser, "bad file")
    # bad files are skipped by default now; the old opt-in flag is accepted and does nothing
    parser.add_argument("--skip-bad", action="store_true", help=argparse.SUPPRESS)


def _show_synthetic(args: argparse.Namespace) -> int:
    from pyhpe.data.synthetic.config import SynthConfig
    from pyhpe.data.synthetic.render import render_index

    seed = args.seed or 0
    samples = [render_index(SynthConfig(), seed, i) for i in range(args.n)]
    out = save_sample_grid(samples, args.out, tile=args.tile)
    print(f"{out}: {args.n} synthetic heads (seed {seed})")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.source == "synthetic":
        return _show_synthetic(args)
    skips = Skips("data show", args.strict)
    data = open_source(args.source, args.format, split=args.split, skip_bad=not args.strict)
    data.report_bad(skips)
    n = min(args.n, len(data))
    if n == 0:
        raise ValueError(f"{args.source}: no samples (format {args.format})")
    if args.seed is None:
        indices = np.linspace(0, len(data) - 1, n).round().astype(int)
    else:
        indices = np.random.default_rng(args.seed).choice(len(data), n, replace=False)
    out = save_sample_grid([data.sample(int(i)) for i in indices], args.out, tile=args.tile)
    print(f"{out}: {n} of {len(data)} samples{skips.summary('bad file(s)')}")
    return skips.status()
