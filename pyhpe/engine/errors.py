"""One-line CLI errors: an expected failure prints ``pyhpe <command>: error: <message>`` on stderr
and exits 1, never a traceback.

Expected failures: a bad config (ConfigError), a missing or unreadable file or folder (OSError, the
loaders' DataFileError among them), a bad value (ValueError), a missing optional package
(ModuleNotFoundError), and ``SystemExit("message")`` raised by a command. Every ``pyhpe`` command
runs inside :func:`guarded` (``pyhpe.cli.dispatch``). Exit status everywhere: 0 success,
1 failure, 2 usage error (argparse), 3 a batch command finished but skipped bad items
(:class:`Skips`). Set ``PYHPE_DEBUG=1`` to get the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

EXIT_SKIPPED = 3  # a batch command finished, but skipped some bad inputs (each named on stderr)


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exception types that end a command with one line instead of a traceback."""
    from pyhpe.engine.config import ConfigError

    return (ConfigError, OSError, ValueError, ModuleNotFoundError)


def one_line(command: str, message: object) -> None:
    """Print ``pyhpe <command>: error: <first line of message>`` on stderr."""
    text = str(message).strip()
    first = text.splitlines()[0] if text else "failed"
    print(f"pyhpe {command}: error: {first}", file=sys.stderr)


def guarded(command: str, fn: Callable[[], int]) -> int:
    """Run ``fn``; an expected error prints one line (``pyhpe <command>: error: ...``), returns 1."""
    try:
        return fn()
    except SystemExit as err:
        if isinstance(err.code, str) and not os.environ.get("PYHPE_DEBUG"):
            one_line(command, err.code)
            return 1
        raise
    except expected_errors() as err:
        if os.environ.get("PYHPE_DEBUG"):
            raise
        one_line(command, str(err).strip() or err.__class__.__name__)
        return 1


class Skips:
    """The bad items of a batch command (``pyhpe predict``, ``eval``, ``data check``, ...): each is
    skipped with one line on stderr (``pyhpe <command>: skipped <what>``) and counted; with
    ``strict`` the first one is the command's error instead. :meth:`status` is the exit status
    the command returns when it otherwise succeeded: 0, or :data:`EXIT_SKIPPED`; when every item
    was bad, :meth:`require_some` makes it a failure (status 1)."""

    def __init__(self, command: str, strict: bool = False):
        self.command, self.strict, self.count = command, strict, 0

    def __call__(self, what: object) -> None:
        if self.strict:
            raise ValueError(f"{what} (--strict)")
        self.count += 1
        print(f"pyhpe {self.command}: skipped {what}", file=sys.stderr)

    def require_some(self, good: int, noun: str = "item") -> None:
        """Nothing readable is a failure, not a skip: ValueError when every item was skipped."""
        if good == 0 and self.count:
            raise ValueError(f"no readable {noun}: all {self.count} skipped")

    def summary(self, noun: str = "bad item(s)") -> str:
        """'' or ', skipped N <noun>' for the command's last line."""
        return f", skipped {self.count} {noun}" if self.count else ""

    def status(self) -> int:
        return EXIT_SKIPPED if self.count else 0


def add_strict_flag(parser, what: str = "bad item") -> None:
    """``--strict``: the first bad item ends the command (status 1) instead of being skipped."""
    parser.add_argument("--strict", action="store_true",
                        help=f"stop at the first {what} (default: skip it with one line on stderr, "
                             f"count it, and exit with status {EXIT_SKIPPED})")
