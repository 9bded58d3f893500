"""Test-only pause points, so that tests can interrupt a training run at an exact place.

``PYHPE_TEST_PAUSE`` lists points, ``NAME:N[@RANK]`` separated by commas: the N-th time this
process reaches point NAME (on rank RANK only, when given) it writes its pid into the file
``$PYHPE_TEST_PAUSE_DIR/NAME-N.rankR`` and waits while that file exists. A test waits for the
file, sends the signal it wants (SIGKILL, SIGINT) and deletes the file to let the process go on.

Points: ``step`` (inside a training step: the optimizer has stepped, the schedule, EMA and step
counter have not), ``checkpoint`` (inside a checkpoint write: part of the temporary file is on
disk, ``last.safetensors`` is still the previous one).

Unset (always, outside tests) it costs one environment lookup per point and does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_counts: dict[str, int] = {}


def pause_point(name: str, rank: int = 0) -> None:
    """Wait here if ``PYHPE_TEST_PAUSE`` names this (point, occurrence, rank); see the module doc."""
    spec = os.environ.get("PYHPE_TEST_PAUSE")
    if not spec:
        return
    count = _counts[name] = _counts.get(name, 0) + 1
    for item in spec.split(","):
        point, _, rest = item.strip().partition(":")
        n, _, only_rank = rest.partition("@")
        if point != name or int(n) != count or (only_rank and int(only_rank) != rank):
            continue
        folder = Path(os.environ.get("PYHPE_TEST_PAUSE_DIR", "."))
        marker = folder / f"{name}-{count}.rank{rank}"
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(marker)  # the test never reads a half-written pid
        while marker.exists():
            time.sleep(0.01)
