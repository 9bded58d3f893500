"""``pyhpe data <command>``: dataset tools. Each command is a module with ``add_arguments(parser)``
and ``run(args) -> int``, imported only when it runs (``pyhpe.cli.dispatch``)."""

from __future__ import annotations

import argparse
import logging

# ---- command table: name -> (module, one-line help); add one line per command ---------------
COMMANDS: dict[str, tuple[str, str]] = {
    "filelist": ("pyhpe.data.commands.filelist", "6DRepNet file list for 300W-LP / AFLW2000 (±99° filter)"),
    "biwi-preprocess": ("pyhpe.data.commands.biwi_preprocess",
                        "raw BIWI -> FSA-Net-style npz (offline face detection, 7:3 split by sequence)"),
    "show": ("pyhpe.data.commands.show", "draw samples of any source (axes, box, landmarks) into a PNG grid"),
    "check": ("pyhpe.data.commands.check", "read every sample of a source once and report bad files"),
    "synth": ("pyhpe.data.synthetic.cli", "synthetic head renderer"),
}
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``pyhpe data`` itself, given before the command (``pyhpe data -v show ...``)."""
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")


def setup(args: argparse.Namespace) -> None:
    """Runs before every ``pyhpe data`` command."""
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
