"""Deployment latency table: PyTorch (training and deploy form), onnxruntime and ncnn, per model
and thread count, batch 1, on this CPU, in one run.

    pyhpe bench deploy --out build/bench-deploy [--models a,b] [--runs 15]

Per model: export ONNX and ncnn (fp32 weights; the exports' own verification is covered by the
tests and is skipped here), then for 1 and 2 threads, warm-up and timed calls interleaved round
robin over the four runtimes (so load changes hit all alike). Reports min and median ms; writes
``results.json``, ``table.md`` (with params, MACs, the CPU model and the machine's load average)
and ``latency.png`` (median ms per model, runtime and thread count) to the run directory.

Models with inputs beyond the image (TRGv2: ``--models trgv2_resnet18,trgv2_repnext_m4``, 192²)
run their whole deploy graph (the iterations, sampling, regressors) with a representative camera
vector (the task's ``deploy_samples``); "PyTorch train" is then the deploy graph of the model
before reparameterization.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

DEFAULT_MODELS = (
    "sixdrepnet_repnext_m4", "sixdrepnet_repvgg_b1g2", "sixdrepnet_mobilenetv3_large",
    "sixdrepnet_repnext_m0", "sixdrepnet_repnext_m2", "sixdrepnet_repvgg_a0",
    "sixdrepnet_mobilenetv3_small", "sixdrepnet_repvit_m0_9", "sixdrepnet_resnet18",
    "sixdrepnet_resnet50", "sixdrepnet_efficientformerv2_s0", "sixdrepnet_mobilevig_ti",
)
RUNTIMES = ("torch_train", "torch_deploy", "onnxruntime", "ncnn")


def _torch_fn(model, inputs, threads):
    """Eager PyTorch computing what the export computes (the task's default deploy outputs)."""
    from pyhpe.tasks import task_of

    task = task_of(model)
    graph = task.deploy_module(model, task.default_deploy)

    def fn():
        torch.set_num_threads(threads)
        with torch.inference_mode():
            graph(*inputs)
    return fn


def _extra_inputs(model, size: int) -> dict:
    """The task's representative extra graph inputs (batch 1), by name; {} for image-only graphs."""
    from pyhpe.tasks import task_of

    task = task_of(model)
    if not task.deploy_inputs:
        return {}
    samples = task.deploy_samples(size, 1, 0)
    return {e.name: samples[e.name][:1] for e in task.deploy_inputs}


def _macs(model, size: int, extra: dict) -> int:
    """MACs of one forward: the model's (image-only graphs) or its deploy graph's."""
    from torch.utils.flop_counter import FlopCounterMode

    from pyhpe.models.stats import count_macs, plain_layers
    from pyhpe.tasks import task_of

    if not extra:
        return count_macs(model, size)
    task = task_of(model)
    graph = task.deploy_module(model, task.default_deploy)
    inputs = (torch.zeros(1, 3, size, size), *(torch.from_numpy(v) for v in extra.values()))
    with plain_layers(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        graph(*inputs)
    return counter.get_total_flops() // 2


def bench_model(name: str, threads_list, runs: int, warmup: int, workdir: Path) -> dict:
    from pyhpe.export import export_model
    from pyhpe.models import create_model
    from pyhpe.models.stats import count_parameters
    from pyhpe.runtime.backends import NcnnBackend, OnnxRuntimeBackend

    torch.manual_seed(0)
    train = create_model(name).eval()
    size = train.input_size
    extra = _extra_inputs(train, size)
    row = {"model": name, "input_size": size, "params_train": count_parameters(train),
           "macs_train": _macs(train, size, extra)}
    deploy = create_model(name).eval()
    deploy.load_state_dict(train.state_dict())
    t0 = time.perf_counter()
    export_model(deploy, workdir / f"{name}.onnx", "onnx", name=name, input_size=size, check=False)
    export_model(deploy, workdir / f"{name}.ncnn.param", "ncnn", name=name, input_size=size, check=False)
    row["export_s"] = time.perf_counter() - t0
    row["params_deploy"] = count_parameters(deploy)
    row["macs_deploy"] = _macs(deploy, size, extra)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    xn = x.numpy()
    inputs = (x, *(torch.from_numpy(v) for v in extra.values()))
    args = (xn, extra) if extra else (xn,)
    row["latency"] = {}
    for threads in threads_list:
        ort_b = OnnxRuntimeBackend(workdir / f"{name}.onnx", threads=threads)
        ncnn_b = NcnnBackend(workdir / f"{name}.ncnn.param", threads=threads, precision="fp32")
        fns = {"torch_train": _torch_fn(train, inputs, threads), "torch_deploy": _torch_fn(deploy, inputs, threads),
               "onnxruntime": lambda b=ort_b: b.run(*args), "ncnn": lambda b=ncnn_b: b.run(*args)}
        times = {k: [] for k in fns}
        for k, fn in fns.items():
            for _ in range(warmup):
                fn()
        for _ in range(runs):
            for k, fn in fns.items():
                t = time.perf_counter()
                fn()
                times[k].append((time.perf_counter() - t) * 1e3)
        row["latency"][str(threads)] = {k: {"min_ms": min(v), "median_ms": statistics.median(v)}
                                        for k, v in times.items()}
    return row


def format_table(rows: list[dict], threads_list) -> str:
    head = ["model", "params (M) train/deploy", "GMACs"]
    for t in threads_list:
        head += [f"{r} {t}T" for r in ("PyTorch train", "PyTorch deploy", "onnxruntime", "ncnn")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"].replace("sixdrepnet_", "") + ("" if r["input_size"] == 224 else f" @ {r['input_size']}"),
                 f"{r['params_train'] / 1e6:.2f} / {r['params_deploy'] / 1e6:.2f}",
                 f"{r['macs_deploy'] / 1e9:.3f}"]
        for t in threads_list:
            lat = r["latency"][str(t)]
            cells += [f"{lat[k]['min_ms']:.2f} ({lat[k]['median_ms']:.2f})" for k in RUNTIMES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _footer(env: dict) -> str:
    from pyhpe.bench.report import machine_line

    if "load_before" not in env:  # a results.json of the old python -m pyhpe.runtime.bench_deploy
        return f"min (median) ms, batch 1; env {env}"
    return f"min (median) ms, batch 1; {machine_line(env)}; torch {env.get('torch', '?')}"


def plot(rows: list[dict], threads_list, path: Path) -> None:
    from pyhpe.bench.report import bar_chart

    labels = dict(zip(RUNTIMES, ("PyTorch train", "PyTorch deploy", "onnxruntime", "ncnn")))
    groups = {f"{r['model'].replace('sixdrepnet_', '')} {t}T": {labels[k]: r["latency"][str(t)][k]["median_ms"]
                                                               for k in RUNTIMES}
              for r in rows for t in threads_list if str(t) in r["latency"]}
    bar_chart(groups, path, title="batch-1 latency per runtime (median)", ylabel="ms")


def _write(out: Path, env: dict, rows: list[dict], threads_list) -> str:
    (out / "results.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    table = format_table(rows, threads_list)
    (out / "table.md").write_text(table + f"\n\n{_footer(env)}\n")
    plot(rows, threads_list, out / "latency.png")
    return table


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import IntList, positive_int

    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-deploy-TIME)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="registered model names, comma-separated (default: the 12 6DRepNet models)")
    parser.add_argument("--threads", nargs="+", action=IntList, default=[1, 2], metavar="N",
                        help="thread counts, e.g. 1,2 or 1 2 (default 1,2)")
    parser.add_argument("--runs", type=positive_int, default=15, help="timed calls per runtime (default 15)")
    parser.add_argument("--warmup", type=positive_int, default=3, help="warm-up calls per runtime (default 3)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite table.md and the plot from an existing (possibly partial) results.json in --out")


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.report import machine, run_dir
    from pyhpe.models import list_models

    threads_list = args.threads
    if args.report_only:
        if args.out is None:
            raise ValueError("--report-only needs --out (the run directory holding results.json)")
        data = json.loads((args.out / "results.json").read_text())
        print(_write(args.out, data["env"], data["rows"], threads_list))
        return 0
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in list_models()]
    if unknown or not names:
        raise ValueError(f"unknown model {unknown[0]!r} (see `pyhpe models --list`)" if unknown
                         else "--models: no model named")
    import ncnn
    import onnxruntime

    out = run_dir(args.out, "deploy")
    rows = []
    env = {**machine(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
           "ncnn": ncnn.__version__}
    with tempfile.TemporaryDirectory(prefix="pyhpe-bench-") as tmp:
        for name in names:
            row = bench_model(name, threads_list, args.runs, args.warmup, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
            (out / "results.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    env["load_after"] = os.getloadavg()[0]
    print(_write(out, env, rows, threads_list) + f"\n\n{_footer(env)}\nrun directory: {out}")
    return 0
