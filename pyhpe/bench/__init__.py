"""``pyhpe bench <suite>``: benchmarks that write a run directory (results.json, table.md, plot).

Suites: ``kernels`` (the native rotation ops against the official 6DRepNet code, a clean
PyTorch reference and torch.compile of it, timed interleaved in one process).
"""

from __future__ import annotations

import argparse

SUITES = {
    "kernels": "pyhpe.bench.kernels",
    "callpath": "pyhpe.bench.callpath",
    "mixer": "pyhpe.bench.mixer",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    import importlib

    for name, module in SUITES.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=mod.__doc__.strip().splitlines()[0],
                           description=mod.__doc__)
        mod.add_arguments(p)
        p.set_defaults(_suite_module=module)


def run(args: argparse.Namespace) -> int:
    import importlib

    return importlib.import_module(args._suite_module).run(args)
