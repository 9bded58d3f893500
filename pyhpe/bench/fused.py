"""Whole-model latency of RepNeXt-M4 with the fused ncnn layers, in one run: the C++ runtime on the
plain ncnn pair, on the fused pair (PyhpeRepNeXtMixer + PyhpeRepNeXtFFN + PyhpeRepNeXtStem), on a
mixer-only fused pair (PyhpeRepNeXtMixer alone, ``<stem>.mixer.ncnn.param``) and on RepVGG-B1g2, and onnxruntime on
RepNeXt-M4; batch 1, fp32 (``--precision`` adds the ncnn models in fp16 / bf16, interleaved pass
by pass), 224x224, random weights (seed 0). The fused pairs are rewritten from
the plain pair on every run (a --models-dir cache keeps only the exports).

    pyhpe bench fused --pyhpe-bench build/runtime-host/pyhpe-bench \\
        --out build/bench-fused [--threads 1,2] [--passes 10] [--runs 3]

Per thread count, ``--passes`` times: one ``pyhpe-bench`` call that times the three ncnn models
interleaved (``--runs`` runs each, one warm-up), then ``--runs`` onnxruntime calls. Every run's
time is kept; the table gives min and median over all of them, and the ratios the deployment
targets name. Writes ``results.json``, ``table.md`` (with the CPU model and the load average) and
``latency.png`` (min ms per model and thread count) to the run directory.

Clock: with 1 thread both runtimes compute on the calling thread, so the 1-thread cells are that
thread's CPU time (``pyhpe-bench --clock thread``, ``time.thread_time``): the models' own cost,
without the time other processes on a shared machine take the core away. 2-thread cells are
wall-clock time and include any such contention (``--wall`` uses wall time for 1 thread too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

M4, B1G2 = "sixdrepnet_repnext_m4", "sixdrepnet_repvgg_b1g2"
COLUMNS = ("ncnn_m4_fused", "ncnn_m4_mixer", "ncnn_m4", "ncnn_b1g2", "onnxruntime_m4")


def export_models(workdir: Path, reuse: bool = False) -> dict[str, Path]:
    from pyhpe.export import export_model
    from pyhpe.export.ncnn_fuse import fuse_mixers
    from pyhpe.models import create_model

    paths = {M4: workdir / f"{M4}.ncnn.param", B1G2: workdir / f"{B1G2}.ncnn.param",
             "onnx": workdir / f"{M4}.onnx"}
    if reuse and all(p.is_file() for p in paths.values()):
        return _fuse(paths, fuse_mixers)
    for name in (M4, B1G2):
        torch.manual_seed(0)
        model = create_model(name).eval()
        export_model(model, workdir / f"{name}.ncnn.param", "ncnn", name=name, input_size=224, check=False)
        paths[name] = workdir / f"{name}.ncnn.param"
        if name == M4:
            export_model(model, workdir / f"{name}.onnx", "onnx", name=name, input_size=224, check=False,
                         fused=False)
            paths["onnx"] = workdir / f"{name}.onnx"
    return _fuse(paths, fuse_mixers)


def _fuse(paths: dict[str, Path], fuse_mixers) -> dict[str, Path]:
    """(Re)write M4's fused pair (mixers + FFNs) and its mixer-only pair from the plain pair."""
    plain = paths[M4]
    mixer = plain.with_name(f"{M4}.mixer.ncnn.param")
    if fuse_mixers(plain) is None or fuse_mixers(plain, out_param=mixer, ffn=False, stem=False) is None:
        raise RuntimeError("the RepNeXt-M4 export has no RepNeXt mixers to fuse")
    return {**paths, "fused": plain.with_name(f"{M4}.fused.ncnn.param"), "mixer": mixer}


NCNN_COLUMNS = COLUMNS[:4]


def measure(bench: Path, paths: dict[str, Path], threads_list, passes: int, runs: int, wall: bool = False,
            precisions=("fp32",)) -> tuple[dict, dict]:
    """fp32 latency per thread count and column (onnxruntime included), and the ncnn columns'
    latency in each other precision ({precision: {threads: ...}}); each pass calls pyhpe-bench
    once per precision, so precisions are interleaved pass by pass."""
    from pyhpe.runtime.backends import OnnxRuntimeBackend

    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)).numpy()
    models = {"ncnn_m4": paths[M4], "ncnn_m4_fused": paths["fused"], "ncnn_m4_mixer": paths["mixer"],
              "ncnn_b1g2": paths[B1G2]}
    out, low = {}, {p: {} for p in precisions if p != "fp32"}
    for threads in threads_list:
        ort = OnnxRuntimeBackend(paths["onnx"], threads=threads)
        ort.run(x)
        times = {k: [] for k in COLUMNS}
        low_times = {p: {k: [] for k in NCNN_COLUMNS} for p in low}
        thread_clock = threads == 1 and not wall
        clock = time.thread_time if thread_clock else time.perf_counter
        for _ in range(passes):
            for precision in ("fp32", *low):
                cmd = [str(bench), *(str(p) for p in models.values()), "--threads", str(threads), "--runs",
                       str(runs), "--warmup", "1", "--json", "--raw", "--clock", "thread" if thread_clock else "wall",
                       "--precision", precision]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
                if proc.returncode != 0:
                    raise RuntimeError(f"pyhpe-bench failed: {proc.stderr.strip()}")
                by_path = {row["model"]: row["times_ms"] for row in json.loads(proc.stdout)}
                for key, path in models.items():
                    (times if precision == "fp32" else low_times[precision])[key] += by_path[str(path)]
            for _ in range(runs):
                t = clock()
                ort.run(x)
                times["onnxruntime_m4"].append((clock() - t) * 1e3)
        clock_name = "thread" if thread_clock else "wall"
        out[str(threads)] = _summaries(times, clock_name)
        for p, t in low_times.items():
            low[p][str(threads)] = _summaries(t, clock_name)
    return out, low


def _summaries(times: dict[str, list], clock: str) -> dict:
    return {k: {"min_ms": min(v), "median_ms": statistics.median(v), "n": len(v), "clock": clock}
            for k, v in times.items()}


def build_info(bench: Path, param: Path | None) -> str:
    """pyhpe-bench's build line (the ncnn it links: whether bf16 storage is built, ...)."""
    if param is None:
        return "unknown"
    proc = subprocess.run([str(bench), str(param), "--runs", "1", "--warmup", "0"], capture_output=True, text=True,
                          timeout=120, check=False)
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    return first.lstrip("# ").strip()


def deploy_macs() -> dict[str, int]:
    """Multiply-accumulates of one 224² forward of each model's deploy (reparameterized) form."""
    from pyhpe.models import create_model, reparameterize
    from pyhpe.models.stats import count_macs

    return {name: count_macs(reparameterize(create_model(name).eval()), 224) for name in (M4, B1G2)}


def peak_fractions(latency: dict, macs: dict[str, int], peaks: dict) -> dict[str, float]:
    """1-thread GFLOP/s of each ncnn model (2 flops per MAC of its deploy form, min time) as a
    fraction of this CPU's fp32 GEMM rate (``pyhpe bench peak``)."""
    one = latency.get("1")
    if one is None:
        return {}
    model_of = {"ncnn_m4_fused": M4, "ncnn_m4_mixer": M4, "ncnn_m4": M4, "ncnn_b1g2": B1G2}
    return {k: 2 * macs[m] / (one[k]["min_ms"] / 1e3) / 1e9 / peaks["fp32_gflops"] for k, m in model_of.items()}


def format_table(latency: dict) -> str:
    lines = [("| threads | RepNeXt-M4 ncnn fused (mixer + FFN + stem) | RepNeXt-M4 ncnn fused (mixer only) | RepNeXt-M4 ncnn "
              "| RepVGG-B1g2 ncnn | RepNeXt-M4 onnxruntime | B1g2 / M4 fused | B1g2 / M4 | M4 fused / ORT | M4 / ORT |"),
             "|" + "---|" * 10]
    for t, lat in latency.items():
        mn = {k: lat[k]["min_ms"] for k in COLUMNS}
        cells = [f"{t} ({lat[COLUMNS[0]]['clock']} clock)"] + [f"{lat[k]['min_ms']:.2f} ({lat[k]['median_ms']:.2f})" for k in COLUMNS]
        cells += [f"{mn['ncnn_b1g2'] / mn['ncnn_m4_fused']:.2f}x", f"{mn['ncnn_b1g2'] / mn['ncnn_m4']:.2f}x",
                  f"{mn['ncnn_m4_fused'] / mn['onnxruntime_m4']:.2f}x", f"{mn['ncnn_m4'] / mn['onnxruntime_m4']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_low_table(latency: dict, low: dict) -> str:
    """The ncnn models in each other precision, and their speed-up over fp32 (min times)."""
    header = ("| threads | precision | RepNeXt-M4 ncnn fused | RepNeXt-M4 ncnn | RepVGG-B1g2 ncnn "
              "| fp32 / it: M4 fused | M4 | B1g2 | B1g2 / M4 fused |")
    lines = [header, "|" + "---|" * 9]
    for p, by_threads in low.items():
        for t, lat in by_threads.items():
            mn = {k: lat[k]["min_ms"] for k in NCNN_COLUMNS}
            fp32 = {k: latency[t][k]["min_ms"] for k in NCNN_COLUMNS}
            cells = [f"{t} ({lat[COLUMNS[0]]['clock']} clock)", p]
            cells += [f"{lat[k]['min_ms']:.2f} ({lat[k]['median_ms']:.2f})" for k in ("ncnn_m4_fused", "ncnn_m4",
                                                                                  "ncnn_b1g2")]
            cells += [f"{fp32[k] / mn[k]:.2f}x" for k in ("ncnn_m4_fused", "ncnn_m4", "ncnn_b1g2")]
            cells.append(f"{mn['ncnn_b1g2'] / mn['ncnn_m4_fused']:.2f}x")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


LABELS = dict(zip(COLUMNS, ("M4 fused", "M4 mixer only", "M4", "B1g2", "M4 onnxruntime")))

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import IntList, positive_int

    parser.add_argument("--pyhpe-bench", type=Path, default=Path("build/runtime-host/pyhpe-bench"),
                        help="the C++ runtime's pyhpe-bench (default build/runtime-host/pyhpe-bench)")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-fused-TIME)")
    parser.add_argument("--threads", nargs="+", action=IntList, default=[1, 2], metavar="N",
                        help="thread counts, e.g. 1,2 or 1 2 (default 1,2)")
    parser.add_argument("--passes", type=positive_int, default=10, help="pyhpe-bench calls per thread count")
    parser.add_argument("--runs", type=positive_int, default=3, help="timed runs per model in each pass")
    parser.add_argument("--wall", action="store_true", help="wall-clock time for 1 thread too")
    parser.add_argument("--models-dir", type=Path, help="reuse the exports a previous run left there (kept)")
    parser.add_argument("--precision", nargs="+", choices=("fp32", "fp16", "bf16"), default=["fp32"],
                        help="also time the ncnn models in these precisions (fp32 always runs; bf16 changes "
                             "anything only with a pyhpe-bench built against an NCNN_BF16 ncnn, "
                             "tools/build_ncnn.sh host-bf16; the table names the build)")


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.peak import fraction_line, measure_peaks
    from pyhpe.bench.report import bar_chart, machine, machine_line, run_dir

    bench = args.pyhpe_bench
    if not bench.is_file():
        raise SystemExit(f"{bench} not found (build csrc/runtime first)")
    if not os.access(bench, os.X_OK):
        raise SystemExit(f"{bench}: not an executable (give the pyhpe-bench built from csrc/runtime)")
    out = run_dir(args.out, "fused")
    with tempfile.TemporaryDirectory(prefix="pyhpe-bench-fused-") as tmp:
        workdir = args.models_dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        paths = export_models(workdir, reuse=bool(args.models_dir))
        env = {**machine(), "start": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        peaks = measure_peaks(quick=True)
        latency, low = measure(bench, paths, args.threads, args.passes, args.runs, args.wall, args.precision)
        info = build_info(bench, paths.get("fused"))
    env.update(load_after=os.getloadavg()[0], end=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    macs = deploy_macs()
    fractions = peak_fractions(latency, macs, peaks)
    (out / "results.json").write_text(json.dumps({"env": env, "latency": latency, "latency_low_precision": low,
                                                  "pyhpe_bench_build": info, "peaks": peaks, "macs": macs,
                                                  "fraction_of_fp32_peak_1thread": fractions}, indent=1))
    table = format_table(latency)
    if low:
        table += ("\n\nOther precisions (the ncnn models; fp32 / it = speed-up over the fp32 row above):\n\n"
                  + format_low_table(latency, low))
    share = ", ".join(f"{LABELS[k]} {v:.0%}" for k, v in fractions.items())
    note = (f"\n\nmin (median) ms over {args.passes} x {args.runs} runs per cell, batch 1; 1 thread: "
            f"{'wall' if args.wall else 'thread CPU'} time, 2 threads: wall time; "
            f"{env['start']} - {env['end']}; {machine_line(env)}\npyhpe-bench build: {info}\n"
            + (f"\n1 thread as a fraction of the fp32 GEMM rate (2 flops per MAC of the deploy form: "
               f"M4 {macs[M4] / 1e9:.2f} GMACs, B1g2 {macs[B1G2] / 1e9:.2f} GMACs): {share}; "
               f"{fraction_line(peaks)}\n" if fractions else ""))
    (out / "table.md").write_text(table + note)
    bar_chart({f"{t} thread(s)": {LABELS[k]: lat[k]["min_ms"] for k in COLUMNS} for t, lat in latency.items()},
              out / "latency.png", title="RepNeXt-M4 fused ncnn layers: batch-1 latency (min)", ylabel="ms")
    print(table + note + f"run directory: {out}")
    return 0
