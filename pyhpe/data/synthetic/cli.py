"""``pyhpe data synth``: render synthetic heads to disk (300W-LP or pyhpe 6DoF layout)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pyhpe.data.synthetic.config import SynthConfig

LAYOUTS = ("300wlp", "6dof")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pyhpe data synth``."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n", type=int, required=True, help="number of images")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    parser.add_argument("--seed", type=int, default=0, help="stream seed: image i of seed s never changes")
    parser.add_argument("--layout", choices=LAYOUTS, default="300wlp",
                        help="300wlp: .jpg + .mat (Pose_Para, pt2d) + files.txt; 6dof: docs/data.md layout")
    parser.add_argument("--start", type=int, default=0,
                        help="first sample index, to split work; give each part its own --out")
    for name in ("yaw", "pitch", "roll"):
        parser.add_argument(f"--{name}", type=float, nargs=2, metavar=("LO", "HI"), help=f"{name} range, degrees")
    parser.add_argument("--depth", type=float, nargs=2, metavar=("LO", "HI"), help="t_z range, metres")
    parser.add_argument("--identity-repeat", type=int, default=1,
                        help="show each person in this many consecutive images (faster; default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    """A SynthConfig with the command-line overrides applied."""
    overrides = {"size": args.size, "identity_repeat": getattr(args, "identity_repeat", 1)}
    for name in ("yaw", "pitch", "roll", "depth"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = tuple(value)
    return SynthConfig(**overrides)


class RenderedStream:
    """Lazily rendered samples for a range of indices; sized, so progress bars know the total."""

    def __init__(self, cfg: SynthConfig, seed: int, indices: range):
        self.cfg, self.seed, self.indices = cfg, seed, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        from pyhpe.data.synthetic.render import render_index

        return (render_index(self.cfg, self.seed, i) for i in self.indices)


def run(args: argparse.Namespace) -> int:
    """Render ``--n`` images and write them in ``--layout`` under ``--out``; returns 0."""
    from pyhpe.data.synthetic.mesh import topology
    from pyhpe.data.synthetic.writer import write_dataset

    if args.n < 1 or args.start < 0:
        raise SystemExit(f"--n must be >= 1 and --start >= 0, got --n {args.n} --start {args.start}")
    cfg = config_from_args(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    samples = RenderedStream(cfg, args.seed, range(args.start, args.start + args.n))
    topo = topology(cfg.n_lat, cfg.n_lon)
    count = write_dataset(out, samples, args.layout, faces=topo.faces, vertex_flip_index=topo.flip_index,
                          progress=not args.no_progress, first_index=args.start)
    meta = {"generator": "pyhpe.data.synthetic", "seed": args.seed, "start": args.start, "n": count,
            "layout": args.layout, "config": cfg.to_dict()}
    (out / "synth_config.json").write_text(json.dumps(meta, indent=2))
    print(f"wrote {count} images to {out} ({args.layout})")
    return 0
