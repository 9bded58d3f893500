"""``pyhpe <command>``: one dispatcher for ``pyhpe``, ``pyhpe data`` and ``pyhpe bench``.

A command table maps a name to ``(module, one-line help)``. The module is either

- a command: ``add_arguments(parser)`` and ``run(args) -> int`` (optionally ``DESCRIPTION``, the
  text of its ``--help``; default: the one-line help); or
- a group of commands: ``COMMANDS``, a table like :data:`COMMANDS`; optionally
  ``add_arguments(parser)`` for flags given before the subcommand (flags without values, e.g.
  ``pyhpe data -v show``) and ``setup(args)``, run before the subcommand.

A module is imported only when its command is chosen, so ``pyhpe --help`` and
``pyhpe data --help`` import no command module.

Exit status, every command: 0 success; 1 failure (an expected error prints one line,
``pyhpe <command>: error: <message>``, on stderr and no traceback: every command runs inside
:func:`pyhpe.engine.errors.guarded`); 2 usage error (argparse's message; a bare ``pyhpe`` or
``pyhpe data`` prints its help on stderr); 3 a batch command finished but skipped bad items
(each named on stderr; ``--strict`` makes the first one the error); 130 interrupted (Ctrl-C: one
line; ``pyhpe train`` saves a resumable checkpoint first). :func:`main` returns the status instead
of raising ``SystemExit``.

Flag vocabulary (the same word for the same thing in every command; docs/architecture.md):
``--checkpoint PATH`` a weights / model file, ``--model NAME`` a registered model name,
``--out PATH`` where results are written (``-o`` where a command has a short form),
``--batch-size N`` / ``--batch-sizes N ...``, ``--threads`` (lists: ``1 2`` or ``1,2``),
``--input-size``, ``--seed``, ``--format``, ``--no-progress``. A renamed flag keeps its old spelling
as a hidden alias (:func:`add_renamed`) that still works and prints a deprecation note.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("pyhpe.info", "what was built: SIMD level, NEON, CUDA arches, OpenMP, versions"),
    "bench": ("pyhpe.bench", "benchmarks: native ops and the fused mixer vs PyTorch"),
    "models": ("pyhpe.models.stats", "registered models: params, MACs, CPU latency"),
    "data": ("pyhpe.data.cli", "dataset tools: file lists, BIWI preprocessing, synthetic data"),
    "train": ("pyhpe.engine.train", "train a pose model from a YAML config (torchrun for DDP)"),
    "eval": ("pyhpe.engine.evaluate", "evaluate a checkpoint: MAE per angle, geodesic error"),
    "demo": ("pyhpe.engine.demo", "synthetic data -> trained RepNeXt 6DRepNet -> metrics"),
    "compare": ("pyhpe.compare.cli", "every backbone under one pipeline: accuracy, robustness, size, latency"),
    "predict": ("pyhpe.runtime.predict", "pose of faces in images, a folder or a video"),
    "export": ("pyhpe.export.cli", "reparameterize and export to ONNX or ncnn, verified"),
    "align": ("pyhpe.geometry.align_cli", "reference-system offset between two mesh topologies (TRGv2)"),
    "convert": ("pyhpe.models.convert_cli", "other projects' released weights -> pyhpe model files"),
}

Table = dict[str, tuple[str, str]]
_Setup = Callable[[argparse.Namespace], None]


def main(argv: Sequence[str] | None = None) -> int:
    """``pyhpe``'s entry point; returns the exit status (0, 1 or 2)."""
    # Large CPU tensors on transparent huge pages (PyTorch's allocator option): on this project's
    # VMs, first-touch page faults of fresh 25 MB activations cost more than the kernels that
    # fill them (docs/benchmarks.md). Read lazily by torch; an explicit setting wins.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    try:
        return dispatch("pyhpe", COMMANDS, argv, add_arguments=_top_level_flags,
                        description="Head pose estimation toolkit: native kernels, models, data, training.")
    except KeyboardInterrupt:  # Ctrl-C outside a command's own handling (train and compare print theirs)
        print("pyhpe: interrupted", file=sys.stderr)
        return 130


def _top_level_flags(parser: argparse.ArgumentParser) -> None:
    from pyhpe import __version__

    parser.add_argument("--version", action="version", version=f"pyhpe {__version__}")


def dispatch(prog: str, commands: Table, argv: Sequence[str] | None = None, *,
             description: str | None = None,
             add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
             setup: _Setup | None = None,
             _outer: tuple[tuple[argparse.Namespace, _Setup | None], ...] = ()) -> int:
    """Run ``prog <command> ...`` from ``commands`` (name -> (module, help)); returns the exit status.

    ``add_arguments`` adds this level's flags (given before the command name, no values);
    ``setup(args)`` runs before the chosen command, with those flags in ``args``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _group_parser(prog, commands, description, add_arguments)
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    # this level's flags, then the command name; everything after it belongs to the command
    i = next((k for k, a in enumerate(argv) if not a.startswith("-")), len(argv))
    try:
        group_args = parser.parse_args(argv[: i + 1])  # -h: help (0); bad flag or name: usage (2)
    except SystemExit as exc:
        return _status(exc)
    name, rest = argv[i], argv[i + 1:]
    module_name, help_text = commands[name]
    module = importlib.import_module(module_name)
    outer = (*_outer, (group_args, setup))
    sub_prog = f"{prog} {name}"
    if hasattr(module, "COMMANDS"):
        return dispatch(sub_prog, module.COMMANDS, rest, description=help_text,
                        add_arguments=getattr(module, "add_arguments", None),
                        setup=getattr(module, "setup", None), _outer=outer)
    cmd = argparse.ArgumentParser(prog=sub_prog, description=getattr(module, "DESCRIPTION", help_text),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(cmd)
    try:
        args = cmd.parse_args(rest)
    except SystemExit as exc:
        return _status(exc)
    for ns, _ in outer:  # the groups' flags (e.g. `pyhpe data -v`) reach the command too
        for key, value in vars(ns).items():
            if not hasattr(args, key):
                setattr(args, key, value)

    def run() -> int:
        for _, group_setup in outer:
            if group_setup is not None:
                group_setup(args)
        return int(module.run(args) or 0)

    from pyhpe.engine.errors import guarded

    return guarded(sub_prog.split(" ", 1)[1], run)


def _group_parser(prog: str, commands: Table, description: str | None,
                  add_arguments: Callable[[argparse.ArgumentParser], None] | None) -> argparse.ArgumentParser:
    """The parser of one level: its flags and the list of its commands (no module imported)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    if add_arguments is not None:
        add_arguments(parser)
    sub = parser.add_subparsers(dest=argparse.SUPPRESS, metavar="COMMAND", required=True,
                                title="commands", description=f"`{prog} COMMAND --help` for its options")
    for name, (_, help_text) in commands.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


# ---- flag helpers: one vocabulary, renamed flags kept as hidden deprecated aliases ------------

def add_renamed(parser: argparse.ArgumentParser | argparse._ActionsContainer, *flags: str,
                old: str | Sequence[str], **kwargs) -> argparse.Action:
    """``parser.add_argument(*flags, **kwargs)`` plus the old spelling(s) ``old`` as a hidden alias.

    The alias stores into the same ``dest`` with the same type/nargs/action, is left out of
    ``--help`` (``help=argparse.SUPPRESS``) and prints one deprecation note on stderr when used.
    With ``required=True`` either spelling satisfies the requirement (a required group of the two).
    """
    olds = [old] if isinstance(old, str) else list(old)
    if "dest" in kwargs and "metavar" not in kwargs and kwargs.get("action") in (None, "store", "append"):
        kwargs["metavar"] = flags[0].lstrip("-").upper().replace("-", "_")  # not the old dest's name
    target = parser
    if kwargs.pop("required", False):
        target = parser.add_mutually_exclusive_group(required=True)
    action = target.add_argument(*flags, **kwargs)
    alias_kwargs = {k: v for k, v in kwargs.items() if k not in ("help", "default", "metavar", "dest")}
    base = parser._registry_get("action", alias_kwargs.pop("action", None), None)
    if base is None:
        base = kwargs["action"]  # an Action subclass given directly
    alias_kwargs["action"] = _deprecated(base, action.option_strings[0] if action.option_strings
                                         else action.dest)
    target.add_argument(*olds, dest=action.dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                        **alias_kwargs)
    return action


def _deprecated(base: type[argparse.Action], new: str) -> type[argparse.Action]:
    class Deprecated(base):  # type: ignore[misc, valid-type]
        def __call__(self, parser, namespace, values, option_string=None):
            print(f"{parser.prog}: warning: {option_string} is deprecated; use {new}", file=sys.stderr)
            super().__call__(parser, namespace, values, option_string)

    return Deprecated


class IntList(argparse.Action):
    """``--flag 1 2`` or ``--flag 1,2`` (or both mixed) -> ``[1, 2]``; every value must be >= 1.

    Use with ``nargs="+"``.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        out = []
        for value in values if isinstance(values, list) else [values]:
            for part in str(value).split(","):
                if not part.strip():
                    continue
                try:
                    n = int(part)
                except ValueError:
                    parser.error(f"argument {option_string}: not an integer: {part!r}")
                if n < 1:
                    parser.error(f"argument {option_string}: must be >= 1, got {n}")
                out.append(n)
        if not out:
            parser.error(f"argument {option_string}: expected at least one integer")
        setattr(namespace, self.dest, out)


def positive_int(text: str) -> int:
    """argparse ``type``: an integer >= 1 (a bad value is a usage error, exit 2)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


if __name__ == "__main__":
    sys.exit(main())
