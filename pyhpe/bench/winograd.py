"""How much of an ncnn model's speed comes from Winograd 3x3 convolutions: each model timed with
``opt.use_winograd_convolution`` on and off (ncnn Python package, fp32, interleaved rounds).

    pyhpe bench winograd build/export/repvgg_b1g2.ncnn.param build/export/repnext_m4.ncnn.param

Writes ``results.json``, ``table.md`` (min and median ms per model with Winograd on and off, the CPU
model and the load average) and ``winograd.png`` to the run directory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import positive_int

    parser.add_argument("params", nargs="+", help=".ncnn.param files (the .bin beside each)")
    parser.add_argument("--threads", type=positive_int, default=1, help="ncnn threads (default 1)")
    parser.add_argument("--rounds", type=positive_int, default=12, help="timed rounds per model and setting")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-winograd-TIME)")


def measure(params: list[str], threads: int, rounds: int) -> list[dict]:
    """Min and median ms of each model with Winograd on and off, timed in interleaved rounds."""
    import ncnn
    import numpy as np

    from pyhpe.runtime.meta import read_meta
    from pyhpe.runtime.ncnn_check import check_ncnn_model

    nets = {}
    for param in params:
        meta = read_meta(param)
        size = meta.input_size if meta else 224
        weights = param[: -len(".param")] + ".bin"
        # the runtime's strict check first: ncnn trusts what a .param says (docs/security.md)
        check_ncnn_model(Path(param).read_bytes(), Path(weights).read_bytes(), param_name=param,
                         bin_name=weights, image_blob=meta.input_name if meta else "in0", image_size=size)
        for wino in (True, False):
            net = ncnn.Net()
            o = net.opt
            o.num_threads = threads
            o.use_fp16_storage = o.use_fp16_packed = o.use_fp16_arithmetic = False
            o.use_winograd_convolution = wino
            if net.load_param(param) != 0:
                raise ValueError(f"{param}: ncnn cannot parse this .param file")
            if net.load_model(param[: -len(".param")] + ".bin") != 0:
                raise ValueError(f"{param[: -len('.param')]}.bin: ncnn cannot read these weights for {param}")
            nets[(param, wino)] = (net, meta.input_name if meta else "in0", meta.output_name if meta else "out0", size)
    x = {s: np.random.default_rng(0).standard_normal((3, s, s)).astype(np.float32)
         for *_, s in nets.values()}
    times = {k: [] for k in nets}
    for _ in range(rounds):
        for k, (net, i, o, s) in nets.items():
            ex = net.create_extractor()
            ex.input(i, ncnn.Mat(x[s]).clone())
            t0 = time.perf_counter()
            ex.extract(o)
            times[k].append((time.perf_counter() - t0) * 1e3)
    return [{"param": param, "winograd": wino, "threads": threads, "min_ms": min(v),
             "median_ms": statistics.median(v)} for (param, wino), v in times.items()]


def format_table(rows: list[dict]) -> str:
    lines = ["| model | threads | Winograd on | Winograd off | off / on |", "|---|---|---|---|---|"]
    for param in dict.fromkeys(r["param"] for r in rows):
        on, off = (next(r for r in rows if r["param"] == param and r["winograd"] is w) for w in (True, False))
        lines.append(f"| {Path(param).name} | {on['threads']} | {on['min_ms']:.1f} ({on['median_ms']:.1f}) "
                     f"| {off['min_ms']:.1f} ({off['median_ms']:.1f}) | {off['min_ms'] / on['min_ms']:.2f}x |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.report import bar_chart, machine, machine_line, run_dir

    for param in args.params:
        if not param.endswith(".param") or not Path(param).is_file():
            raise FileNotFoundError(f"{param}: no such .ncnn.param file")
        if not Path(param[: -len(".param")] + ".bin").is_file():
            raise FileNotFoundError(f"{param[: -len('.param')]}.bin: not found (the weights beside {param})")
    import ncnn  # noqa: F401  (a missing package: one line, before any output is written)

    out = run_dir(args.out, "winograd")
    env = machine()
    rows = measure(args.params, args.threads, args.rounds)
    env["load_after"] = os.getloadavg()[0]
    (out / "results.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    note = f"\n\nmin (median) ms over {args.rounds} rounds, batch 1, fp32, wall clock; {machine_line(env)}\n"
    table = format_table(rows)
    (out / "table.md").write_text(table + note)
    groups: dict[str, dict[str, float]] = {}
    for r in rows:
        groups.setdefault(Path(r["param"]).name.removesuffix(".ncnn.param"), {})[
            "Winograd on" if r["winograd"] else "Winograd off"] = r["min_ms"]
    bar_chart(groups, out / "winograd.png", title=f"ncnn Winograd 3x3 on/off, {args.threads} thread(s) (min)",
              ylabel="ms")
    print(table + note + f"run directory: {out}")
    return 0
