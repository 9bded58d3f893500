"""``pyhpe convert <source>``: other projects' released weights → pyhpe model files.

Each converter is a module with ``add_arguments(parser)`` and ``run(args) -> int``, imported only
when it runs (``pyhpe.cli.dispatch``). The result is a pyhpe model file (safetensors + JSON card)
that ``pyhpe.models.load``, ``pyhpe eval``, ``pyhpe predict`` and ``pyhpe export`` read directly.
"""

from __future__ import annotations

# ---- command table: name -> (module, one-line help); add one line per converter --------------
COMMANDS: dict[str, tuple[str, str]] = {
    "trgv2-official": ("pyhpe.models.trg.convert_cli",
                       "official TRGv2 state_dict.bin + its topology files -> trgv2_resnet18 model file"),
}
# ---------------------------------------------------------------------------------------------
