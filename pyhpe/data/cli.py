"""``pyhpe data <subcommand>``: dataset tools. Each subcommand is a module with
``add_arguments(parser)`` and ``run(args) -> int``, imported only when it runs."""

from __future__ import annotations

import argparse
import importlib
import logging

# ---- subcommand table: name -> module (add one line per subcommand) ------------------------
SUBCOMMANDS: dict[str, str] = {
    "filelist": "pyhpe.data.commands.filelist",
    "biwi-preprocess": "pyhpe.data.commands.biwi_preprocess",
    "show": "pyhpe.data.commands.show",
    "check": "pyhpe.data.commands.check",
    "synth": "pyhpe.data.synthetic.cli",
}
# ---------------------------------------------------------------------------------------------

HELP = {
    "filelist": "6DRepNet file list for 300W-LP / AFLW2000 (±99° filter)",
    "biwi-preprocess": "raw BIWI -> FSA-Net-style npz (offline face detection, 7:3 split by sequence)",
    "show": "draw samples of any source (axes, box, landmarks) into a PNG grid",
    "check": "read every sample of a source once and report bad files",
    "synth": "synthetic head renderer",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        text = HELP.get(name, module_name)
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(_data_module=module_name)
        importlib.import_module(module_name).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return int(importlib.import_module(args._data_module).run(args) or 0)
