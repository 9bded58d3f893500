"""One-line CLI errors: expected failures (bad config, missing data) print a message, exit 2.

Set ``PYHPE_DEBUG=1`` to get the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pyhpe.engine.config import ConfigError

EXPECTED = (ConfigError, FileNotFoundError, NotADirectoryError, ValueError)


def guarded(command: str, fn: Callable[[], int]) -> int:
    """Run ``fn``; an expected error prints ``pyhpe <command>: error: <message>`` and returns 2."""
    from pyhpe.data.files import DataFileError

    try:
        return fn()
    except (*EXPECTED, DataFileError) as err:
        if os.environ.get("PYHPE_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        print(f"pyhpe {command}: error: {msg}", file=sys.stderr)
        return 2
