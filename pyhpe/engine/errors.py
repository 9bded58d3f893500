"""One-line CLI errors: an expected failure prints ``pyhpe <command>: error: <message>`` on stderr
and exits 1, never a traceback.

Expected failures: a bad config (ConfigError), a missing or unreadable file or folder (OSError, the
loaders' DataFileError among them), a bad value (ValueError), a missing optional package
(ModuleNotFoundError), and ``SystemExit("message")`` raised by a command. Every ``pyhpe`` command
runs inside :func:`guarded` (``pyhpe.cli.dispatch``). Exit status everywhere: 0 success,
1 failure, 2 usage error (argparse). Set ``PYHPE_DEBUG=1`` to get the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


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
