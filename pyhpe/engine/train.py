"""`pyhpe train --config CONFIG [key.sub=value ...]`: train a pose model (torchrun for DDP).

Examples::

    pyhpe train --config configs/synthetic.yaml train.epochs=2 train.lr=3e-4
    pyhpe train --config configs/synthetic.yaml --resume runs/synthetic-20260101-120000
    torchrun --nproc_per_node 2 -m pyhpe train --config configs/synthetic.yaml

Exit status: 0 done, 1 an error (one line; a checkpoint that cannot be written, a lost DDP peer),
2 a usage error, 130 interrupted by Ctrl-C (one line saying how to resume).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (see configs/); omitted: the built-in defaults")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. train.lr=3e-4 data.train.n=500 (values read as YAML)")
    parser.add_argument("--resume", metavar="RUN_OR_CHECKPOINT",
                        help="continue a run exactly from its checkpoints/last.safetensors (or a checkpoint file); "
                             "the config is the run's config.yaml plus any overrides")
    parser.add_argument("--stop-after", type=int, metavar="EPOCHS",
                        help="stop once this many epochs are complete (resume later with --resume)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        import pyhpe.engine.config  # noqa: F401 — guarded's except clause imports it: not half-imported by a Ctrl-C
        from pyhpe.engine.errors import guarded

        return guarded("train", lambda: _run(args))
    except KeyboardInterrupt as stop:  # Ctrl-C: one line (rank 0; trainer.TrainingInterrupted), no traceback
        line = getattr(stop, "line", None)
        if line is None:  # before training was set up (imports, reading the config)
            print("pyhpe train: interrupted", file=sys.stderr, flush=True)
        elif stop.is_main:
            print(line(), file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import yaml

    from pyhpe.engine.config import ConfigError, load_config
    from pyhpe.engine.trainer import train

    config = args.config
    if args.resume and config is None:
        p = Path(args.resume)
        run_dir = p if p.is_dir() else p.parent.parent
        config = run_dir / "config.yaml"
        if not config.is_file():
            raise ConfigError(f"--resume: {config} not found (pass --config)")
    if args.stop_after is not None and args.stop_after < 1:
        raise ConfigError("--stop-after must be >= 1")
    cfg = load_config(config, args.overrides)
    if args.print_config:
        print(yaml.safe_dump(cfg, sort_keys=False), end="")
        return 0
    summary = train(cfg, resume=args.resume, stop_after=args.stop_after)
    if "final" in summary:
        final = {k: round(v, 4) if isinstance(v, float) else v for k, v in summary["final"].items()}
        print(f"run: {summary['run_dir']}\nfinal: {final}")
    return 0
