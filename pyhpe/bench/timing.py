"""Interleaved micro-benchmark timing: several implementations of one case, sampled in turn.

Each sample runs a callable ``reps`` times back to back, with ``reps`` chosen so that a sample
lasts about ``target_s``; the per-call time is the sample time / reps. Samples of the
implementations alternate (round robin), so a machine that slows down for a while affects all
of them alike. The reported figure is the median per-call time.

Clock: ``"wall"`` (perf_counter) or ``"thread"`` (CPU time of the calling thread). On a shared
machine the thread clock is the robust one for single-threaded work (time spent preempted is not
counted); multi-threaded work must use the wall clock. GPU work passes ``sync``
(``torch.cuda.synchronize``), called before each clock reading, with the wall clock.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}


def _no_sync() -> None:
    pass


def calibrate(fn: Callable[[], object], target_s: float,
              sync: Callable[[], object] = _no_sync) -> int:
    """Warm up ``fn`` and return how many calls fill about ``target_s`` seconds."""
    for _ in range(3):
        fn()
    reps, elapsed = 1, 0.0
    while True:
        sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= target_s / 4 or reps >= 1 << 16:
            break
        reps *= 4
    return max(1, int(reps * target_s / max(elapsed, 1e-9)))


def time_interleaved(
    fns: dict[str, Callable[[], object]], samples: int, target_s: float = 2e-3,
    clock: str = "wall", sync: Callable[[], object] = _no_sync,
) -> dict[str, float]:
    """Median seconds per call of each callable, sampled round robin."""
    now = CLOCKS[clock]
    reps = {name: calibrate(fn, target_s, sync) for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(samples):
        for name, fn in fns.items():
            n = reps[name]
            sync()
            t0 = now()
            for _ in range(n):
                fn()
            sync()
            times[name].append((now() - t0) / n)
    return {name: statistics.median(ts) for name, ts in times.items()}


def copy_bandwidth(nbytes: int = 256 << 20, samples: int = 5) -> float:
    """Bytes/s of a large single-threaded tensor copy (read + write counted, thread CPU time),
    the memory-bandwidth yardstick."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    src = torch.empty(nbytes // 4, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(samples):
        t0 = time.thread_time()
        dst.copy_(src)
        best = min(best, time.thread_time() - t0)
    torch.set_num_threads(old)
    return 2 * nbytes / best


def gemm_peak_flops(n: int = 2048, samples: int = 5) -> float:
    """FLOP/s of one fp32 ``torch.mm`` of two n×n matrices on one thread (2n³ FLOPs, thread CPU
    time, best of ``samples``): the compute yardstick a model's speed is read against."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(samples):
            t0 = time.thread_time()
            torch.mm(a, b)
            best = min(best, time.thread_time() - t0)
    finally:
        torch.set_num_threads(old)
    return 2.0 * n**3 / best
