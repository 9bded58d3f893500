"""Timings measured on a phone: the saved output of ``pyhpe-bench`` runs there (docs/android.md,
"Timing models on a phone"), read back for the reports (``pyhpe compare --phone-results FILE``).

The file is the stdout of one or more ``pyhpe-bench`` runs (without ``--json``), concatenated,
optionally preceded by one line naming the phone::

    # device: Pixel 7
    # ncnn 1.0.20261204; aarch64 NEON; fp16 arithmetic available; ...
    # input 224, warm-up 5, runs 50
    fp32 threads=1 median=12.345 ms p10=... min=12.001 mean=12.400
    RESULT model=m4 precision=fp32 threads=1 input=224 runs=50 clock=wall min_ms=12.0010 median_ms=12.3450 ...

Each ``RESULT`` line (csrc/runtime/tools/pyhpe_bench.cpp) is one timing; the other lines (the
human table, ``#`` comments, blank lines) are skipped. The model's stem runs from ``model=`` to
`` precision=``, the other fields are ``key=value`` without spaces. Line ends may be CRLF (what
``adb shell`` writes through a terminal).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

DEVICE_PREFIX = "# device:"
RESULT_PREFIX = "RESULT model="
_CHOICES = {"precision": ("fp32", "fp16"), "clock": ("wall", "thread")}
_INTS = ("threads", "input", "runs")
_FLOATS = ("min_ms", "median_ms", "p10_ms", "p90_ms", "p99_ms", "mean_ms")


def _parse_result(line: str) -> dict:
    """The fields of one RESULT line; ValueError (without the location) when one is bad."""
    stem, sep, rest = line[len(RESULT_PREFIX):].partition(" precision=")
    if not line.startswith(RESULT_PREFIX) or not stem or not sep:
        raise ValueError("a RESULT line must start with 'RESULT model=<stem> precision='")
    fields = {}
    for token in ("precision=" + rest).split():
        key, eq, value = token.partition("=")
        if not eq:
            raise ValueError(f"{token!r} is not key=value")
        fields[key] = value
    row: dict = {"model": stem}
    for key, allowed in _CHOICES.items():
        if fields.get(key) not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {fields.get(key)!r}")
        row[key] = fields[key]
    for key in (*_INTS, *_FLOATS):
        if key not in fields:
            raise ValueError(f"{key}= is missing")
        try:
            value = int(fields[key]) if key in _INTS else float(fields[key])
        except ValueError:
            raise ValueError(f"{key}={fields[key]!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (key in _INTS and value < 1):
            raise ValueError(f"{key}={fields[key]} is out of range")
        row[key] = value
    if row["min_ms"] > row["median_ms"]:
        raise ValueError(f"min_ms={fields['min_ms']} exceeds median_ms={fields['median_ms']}")
    return row


def read_phone_results(path: str | os.PathLike) -> list[dict]:
    """One dict per timing in ``path`` (see the module's docstring), in file order: ``model`` (the
    .param file's stem, e.g. ``m4`` or ``m4.fused``), ``precision`` (fp32/fp16), ``threads``,
    ``input`` (side in pixels), ``runs``, ``clock`` (wall/thread), ``min_ms``, ``median_ms``,
    ``p10_ms``, ``p90_ms``, ``p99_ms``, ``mean_ms`` and ``device`` (the first line's phone name,
    or None). A file that is missing, empty, not text, without RESULT lines, with a garbled
    RESULT line, or timing one (model, precision, threads) twice raises ValueError with one line
    naming the file (and the line number where there is one)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except OSError as e:
        raise ValueError(f"{path}: cannot read the phone results ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text file (byte {e.start} is not UTF-8)") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ValueError(f"{path}: empty file, expected the output of pyhpe-bench")
    device = None
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if line.startswith(DEVICE_PREFIX):
            if number != 1:
                raise ValueError(f"{path}:{number}: only the first line may name the device ('{DEVICE_PREFIX} NAME')")
            device = line[len(DEVICE_PREFIX):].strip()
            if not device:
                raise ValueError(f"{path}:{number}: '{DEVICE_PREFIX}' without a device name")
            continue
        if not line.startswith("RESULT "):
            continue
        try:
            row = _parse_result(line)
        except ValueError as e:
            raise ValueError(f"{path}:{number}: {e}") from None
        key = (row["model"], row["precision"], row["threads"])
        if key in seen:
            raise ValueError(f"{path}:{number}: {row['model']} {row['precision']} threads={row['threads']} "
                             f"was already timed on line {seen[key]}")
        seen[key] = number
        rows.append({**row, "device": device})
    if not rows:
        raise ValueError(f"{path}: no RESULT lines in {len(lines)} lines (expected the output of pyhpe-bench "
                         "without --json, from a build that prints RESULT lines)")
    return rows
