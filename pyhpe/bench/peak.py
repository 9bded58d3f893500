"""This machine's limits per core: what the other benchmarks' numbers are fractions of.

``pyhpe bench peak`` measures, on one thread (thread CPU time, best of several samples, so that
time spent preempted on a shared machine is not counted):

- the **fp32 GEMM rate**, GFLOP/s of ``torch.mm`` on square float32 matrices (2·n³ flops); a
  compute-bound kernel cannot beat it by much, so "fraction of peak" = its flops / this rate;
- the **bf16 and fp16 GEMM rates** the same way (fast only where the CPU has the instructions:
  AVX-512 BF16 / AMX / AVX-512 FP16; on others PyTorch converts, and the table says so);
- the **copy bandwidth**, GB/s of copying a 256 MiB float32 tensor (bytes read + bytes written):
  the bound of a memory-bound kernel.

It prints and writes results.json and table.md (with the CPU model, its ISA and the load). Other
suites call :func:`measure_peaks` (``quick=True``: about a second) and record the numbers with
their own, so that results taken on different CPUs can be compared as fractions of each CPU's
limits (:func:`fraction_line`).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

DESCRIPTION = __doc__


def _best_thread_time(fn, samples: int) -> float:
    fn()  # warm-up: allocation, oneDNN kernel selection
    best = float("inf")
    for _ in range(samples):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return max(best, 1e-9)


def gemm_gflops(dtype: torch.dtype, n: int, samples: int) -> float:
    """GFLOP/s of one ``torch.mm`` of two (n, n) matrices of ``dtype`` on the current thread."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    t = _best_thread_time(lambda: torch.mm(a, b, out=out), samples)
    return 2.0 * n**3 / t / 1e9


def copy_gbps(mib: int, samples: int) -> float:
    """GB/s (read + write) of copying a float32 tensor of ``mib`` MiB into another."""
    src = torch.ones(mib * (1 << 20) // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)  # first touch of every page outside the timing
    t = _best_thread_time(lambda: dst.copy_(src), samples)
    return 2.0 * src.numel() * 4 / t / 1e9


def measure_peaks(quick: bool = False) -> dict:
    """fp32/bf16/fp16 GEMM GFLOP/s and copy GB/s on one thread (``quick``: smaller and fewer)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n, samples, mib = (512, 3, 64) if quick else (1536, 5, 256)
        out = {"threads": 1, "gemm_n": n, "fp32_gflops": gemm_gflops(torch.float32, n, samples),
               "bf16_gflops": gemm_gflops(torch.bfloat16, n // 2, max(2, samples - 2)),
               "fp16_gflops": gemm_gflops(torch.float16, n // 2, max(2, samples - 2)),
               "copy_mib": mib, "copy_gbps": copy_gbps(mib, samples)}
    finally:
        torch.set_num_threads(threads)
    out["low_precision_native"] = _low_precision_isa()
    return out


def _low_precision_isa() -> str:
    """Which low-precision matrix instructions the CPU has (from /proc/cpuinfo flags)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((ln for ln in f if ln.startswith("flags")), "").split())
    except OSError:
        return "unknown"
    have = [name for flag, name in (("avx512_bf16", "AVX-512 BF16"), ("amx_bf16", "AMX-BF16"),
                                    ("avx512_fp16", "AVX-512 FP16"), ("amx_fp16", "AMX-FP16"),
                                    ("asimdhp", "NEON fp16"), ("bf16", "NEON bf16")) if flag in flags]
    return ", ".join(have) if have else "none (bf16/fp16 GEMMs convert to fp32)"


def fraction_line(peaks: dict) -> str:
    """One line for a table's notes: the limits its fractions refer to."""
    return (f"this CPU's limits, 1 thread (`pyhpe bench peak`): fp32 GEMM {peaks['fp32_gflops']:.1f} GFLOP/s, "
            f"bf16 {peaks['bf16_gflops']:.1f}, fp16 {peaks['fp16_gflops']:.1f} GFLOP/s; copy "
            f"{peaks['copy_gbps']:.1f} GB/s")


def markdown(env: dict, peaks: dict) -> str:
    from pyhpe.bench.report import machine_line

    rows = [("fp32 GEMM (torch.mm)", f"{peaks['fp32_gflops']:.1f} GFLOP/s", f"n = {peaks['gemm_n']}"),
            ("bf16 GEMM", f"{peaks['bf16_gflops']:.1f} GFLOP/s", f"n = {peaks['gemm_n'] // 2}"),
            ("fp16 GEMM", f"{peaks['fp16_gflops']:.1f} GFLOP/s", f"n = {peaks['gemm_n'] // 2}"),
            ("copy bandwidth", f"{peaks['copy_gbps']:.1f} GB/s", f"{peaks['copy_mib']} MiB, read + write")]
    lines = ["| limit (1 thread) | value | how |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", f"Low-precision matrix instructions: {peaks['low_precision_native']}.",
              "Thread CPU time, best of the samples.", machine_line(env)]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smaller matrices and copies (about a second)")
    parser.add_argument("--out", help="run directory (default runs/bench-peak-TIME)")


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.report import machine, run_dir

    out = run_dir(args.out, "peak")
    env = machine()
    peaks = measure_peaks(args.quick)
    env["load_after"] = os.getloadavg()[0]
    (out / "results.json").write_text(json.dumps({"env": env, "peaks": peaks}, indent=1))
    table = markdown(env, peaks)
    (out / "table.md").write_text(table)
    print(table + f"run directory: {out}")
    return 0
