"""``pyhpe models``: parameters, MACs and CPU latency of every registered model.

Per model: parameters in training form and in deploy form (after ``reparameterize``), MACs of
both forms at the model's native input size (``torch.utils.flop_counter``: convolutions and
matrix products; BatchNorm, activations and additions are not counted; MACs = FLOPs / 2), and the
CPU forward latency of the deploy form at batch 1 with 1 and 2 threads (min and median wall time;
``--rounds N`` repeats the latency pass over all models N times and keeps the minimum).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fnmatch
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pyhpe.models import create_model, list_models, reparameterize

__all__ = [
    "add_arguments",
    "count_macs",
    "count_parameters",
    "measure_latency",
    "model_stats",
    "run",
]


def count_parameters(model: nn.Module) -> int:
    """Number of parameter values (buffers such as BN running statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


@contextlib.contextmanager
def plain_layers(model: nn.Module) -> Iterator[nn.Module]:
    """Run RepNeXt mixers as plain PyTorch layers inside the block, then restore their setting.

    The fused native mixer (``pyhpe.ops.repnext_mixer``) is a custom op that
    ``torch.utils.flop_counter`` cannot see, so MACs are counted on the equivalent plain layers.
    """
    from pyhpe.models.backbones.repnext import _FusedMixer

    mixers = [m for m in model.modules() if isinstance(m, _FusedMixer)]
    before = [m.fused for m in mixers]
    for m in mixers:
        m.fused = False
    try:
        yield model
    finally:
        for m, flag in zip(mixers, before):
            m.fused = flag


def count_macs(model: nn.Module, input_size: int, batch: int = 1) -> int:
    """Multiply-accumulates of one eval forward at (batch, 3, input_size, input_size), counted on
    plain PyTorch layers (see :func:`plain_layers`)."""
    was_training = model.training
    model.eval()
    x = torch.zeros(batch, 3, input_size, input_size)
    try:
        with plain_layers(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def measure_latency(
    model: nn.Module,
    input_size: int,
    threads: int,
    *,
    warmup: int = 3,
    min_runs: int = 10,
    min_seconds: float = 1.0,
) -> dict[str, float]:
    """Wall time (ms) of an eval forward at batch 1 with ``threads`` intra-op threads:
    ``{"min": ..., "median": ..., "cpu_min": ...}``.

    Runs at least ``min_runs`` times and at least ``min_seconds`` in total, after ``warmup`` runs.
    The minimum is what the table compares: on a shared machine other jobs only ever add time,
    so the fastest run is the best estimate of the model's own cost; the median shows the noise.
    ``cpu_min`` is the calling thread's CPU time (``time.thread_time``) of the fastest run by that
    measure: with one thread all work runs on the caller, so it excludes time spent descheduled
    by other jobs; with more threads it misses the workers' time and is not a latency.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    model.eval()
    x = torch.randn(1, 3, input_size, input_size)
    times: list[float] = []
    cpu_times: list[float] = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            start = time.perf_counter()
            while len(times) < min_runs or time.perf_counter() - start < min_seconds:
                t0, c0 = time.perf_counter(), time.thread_time()
                model(x)
                times.append(time.perf_counter() - t0)
                cpu_times.append(time.thread_time() - c0)
    finally:
        torch.set_num_threads(before)
    return {
        "min": 1e3 * min(times),
        "median": 1e3 * statistics.median(times),
        "cpu_min": 1e3 * min(cpu_times),
    }


def static_stats(name: str) -> tuple[dict, nn.Module]:
    """Parameters and MACs of both forms; returns (row, the model in deploy form)."""
    model = create_model(name).eval()
    size = int(getattr(model, "input_size", 224))
    row: dict = {"model": name, "input": size}
    row["params_train"] = count_parameters(model)
    row["macs_train"] = count_macs(model, size)
    reparameterize(model)
    row["params_deploy"] = count_parameters(model)
    row["macs_deploy"] = count_macs(model, size)
    return row, model


def add_latency(row: dict, model: nn.Module, threads: tuple[int, ...]) -> None:
    """Measure the deploy model once per thread count and merge into ``row``: the minimum over
    all measurements so far, and the median of the per-measurement medians."""
    for n in threads:
        timing = measure_latency(model, row["input"], n)
        key, medians = f"latency_ms_{n}t", row.setdefault(f"_medians_{n}t", [])
        row[key] = min(row.get(key, float("inf")), timing["min"])
        medians.append(timing["median"])
        row[f"latency_median_ms_{n}t"] = statistics.median(medians)
        if n == 1:
            row["cpu_ms_1t"] = min(row.get("cpu_ms_1t", float("inf")), timing["cpu_min"])


def model_stats(
    name: str, *, latency: bool = True, threads: tuple[int, ...] = (1, 2), rounds: int = 1
) -> dict:
    """One table row for the registered model ``name``."""
    row, model = static_stats(name)
    for _ in range(rounds if latency else 0):
        add_latency(row, model, threads)
    return _public(row)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def format_table(rows: list[dict], threads: tuple[int, ...]) -> str:
    """Markdown table (params in millions, MACs in G, latency in ms as min / median)."""
    lat = [
        f"latency {n}T min / median (ms)"
        for n in threads
        if any(f"latency_ms_{n}t" in r for r in rows)
    ]
    if any("cpu_ms_1t" in r for r in rows):
        lat.append("CPU time 1T (ms)")
    head = [
        "model",
        "input",
        "params train (M)",
        "params deploy (M)",
        "GMACs train",
        "GMACs deploy",
        *lat,
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["model"],
            str(r["input"]),
            f"{r['params_train'] / 1e6:.3f}",
            f"{r['params_deploy'] / 1e6:.3f}",
            f"{r['macs_train'] / 1e9:.3f}",
            f"{r['macs_deploy'] / 1e9:.3f}",
        ]
        cells += [
            f"{r[f'latency_ms_{n}t']:.1f} / {r[f'latency_median_ms_{n}t']:.1f}"
            for n in threads
            if f"latency_ms_{n}t" in r
        ]
        if "cpu_ms_1t" in r:
            cells.append(f"{r['cpu_ms_1t']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def environment() -> dict:
    """What the numbers depend on: torch, CPU, threads available, load while measuring."""
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo with its x86 family/model numbers and widest SIMD
    (VMs often report just "AMD EPYC", which spans Zen 1 with AVX2 to Zen 4 with AVX-512), e.g.
    "AMD EPYC (family 23 model 1, AVX2)"; "" where there is none."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model", "flags") and key not in info:
                    info[key] = value.strip()
                if not line.strip() and info:
                    break  # the first processor is enough
    except OSError:
        return ""
    name = info.get("model name", "")
    if not name or "cpu family" not in info:
        return name
    flags = set(info.get("flags", "").split())
    isa = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("sse2", "SSE2"))
                if flag in flags), "")
    detail = ", ".join(x for x in (f"family {info.get('cpu family', '?')} model {info.get('model', '?')}", isa) if x)
    return f"{name} ({detail})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import IntList, add_renamed, positive_int

    parser.add_argument("--list", action="store_true", help="only print the registered model names")
    parser.add_argument(
        "--filter",
        default="*",
        metavar="GLOB",
        help="models to include: fnmatch globs, comma-separated",
    )
    parser.add_argument(
        "--no-latency", action="store_true", help="skip the CPU latency measurement"
    )
    parser.add_argument(
        "--threads", nargs="+", action=IntList, default=[1, 2], metavar="N",
        help="thread counts for latency, e.g. 1 2 or 1,2 (default 1 2)",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=1,
        help="latency passes over all models; min over passes (default 1)",
    )
    add_renamed(
        parser, "--out", old="--json", dest="json", metavar="PATH",
        help="also write the rows and environment to this JSON file",
    )


def _thread_counts(value) -> tuple[int, ...]:
    """``[1, 2]`` (the parsed flag) or ``"1,2"`` (an older caller's string) -> ``(1, 2)``."""
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        threads = tuple(int(t) for t in parts if str(t).strip())
    except ValueError:
        raise ValueError(f"--threads must be integers, got {value!r}") from None
    if not threads or min(threads) < 1:
        raise ValueError(f"--threads must be integers >= 1, got {value!r}")
    return threads


def run(args: argparse.Namespace) -> int:
    patterns = [p.strip() for p in str(args.filter).split(",") if p.strip()]
    names = [n for n in list_models() if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if args.list:
        print("\n".join(names))
        return 0
    if not names:
        print(f"pyhpe models: error: no registered model matches {args.filter!r} "
              "(see `pyhpe models --list`)", file=sys.stderr)
        return 1
    threads = _thread_counts(args.threads)
    if args.rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
    env = environment()
    env["rounds"] = args.rounds
    rows, models = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pure-torch ops fallback notice
        for name in names:
            row, model = static_stats(name)
            rows.append(row)
            models.append(model)
        # Rounds interleave the models, so a burst of load from other jobs hits one
        # measurement of each model rather than every measurement of one model.
        for r in range(0 if args.no_latency else args.rounds):
            for row, model in zip(rows, models):
                add_latency(row, model, threads)
            print(f"latency round {r + 1}/{args.rounds} done", flush=True)
    rows = [_public(r) for r in rows]
    env["loadavg_1m_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(format_table(rows, threads))
    print(f"\n{env}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=2)
    return 0
