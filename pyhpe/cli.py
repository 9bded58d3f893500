"""``pyhpe <command>``: a thin dispatcher; every command lives in a module of its own.

Each command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; the module is
imported only when its command runs, so ``pyhpe --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("pyhpe.info", "what was built: SIMD level, NEON, CUDA arches, OpenMP, versions"),
    "bench": ("pyhpe.bench", "benchmarks (`pyhpe bench kernels`: native ops vs PyTorch)"),
    "models": ("pyhpe.models.stats", "registered models: params, MACs, CPU latency"),
    "data": ("pyhpe.data.cli", "dataset tools: file lists, BIWI preprocessing, synthetic data"),
    "train": ("pyhpe.engine.train", "train a pose model from a YAML config (torchrun for DDP)"),
    "eval": ("pyhpe.engine.evaluate", "evaluate a checkpoint: MAE per angle, geodesic error"),
    "demo": ("pyhpe.engine.demo", "synthetic data -> trained RepNeXt 6DRepNet -> metrics"),
    "predict": ("pyhpe.runtime.predict", "pose of faces in images, a folder or a video"),
    "export": ("pyhpe.export.cli", "reparameterize and export to ONNX or ncnn, verified"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyhpe",
        description="Head pose estimation toolkit: native kernels, models, data, training.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="pyhpe", add_help=False)
    parser.add_argument("command", nargs="?")
    known, _ = parser.parse_known_args(argv[:1])
    if known.command not in COMMANDS:
        full = build_parser()
        if known.command in (None, "-h", "--help"):
            full.print_help()
            return 0
        full.parse_args(argv)  # prints the error and exits 2
        return 2
    # Large CPU tensors on transparent huge pages (PyTorch's allocator option): on this project's
    # VMs, first-touch page faults of fresh 25 MB activations cost more than the kernels that
    # fill them (docs/benchmarks.md). Read lazily by torch; an explicit setting wins.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    module_name, help_text = COMMANDS[known.command]
    module = importlib.import_module(module_name)
    cmd = argparse.ArgumentParser(prog=f"pyhpe {known.command}", description=help_text)
    module.add_arguments(cmd)
    args = cmd.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
