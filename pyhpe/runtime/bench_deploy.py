"""Deployment latency table: PyTorch (training and deploy form), onnxruntime and ncnn, per model
and thread count, batch 1, on this CPU, in one run.

    python -m pyhpe.runtime.bench_deploy --out build/bench-deploy [--models a,b] [--runs 15]

Per model: export ONNX and ncnn (fp32 weights; the exports' own verification is covered by the
tests and is skipped here), then for 1 and 2 threads, warm-up and timed calls interleaved round
robin over the four runtimes (so load changes hit all alike). Reports min and median ms; writes
``results.json`` and ``table.md`` (with params, MACs and the machine's load average).
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


def _torch_fn(model, x, threads):
    """Eager PyTorch computing what the export computes (the task's default deploy outputs)."""
    from pyhpe.tasks import task_of

    task = task_of(model)
    graph = task.deploy_module(model, task.default_deploy)

    def fn():
        torch.set_num_threads(threads)
        with torch.inference_mode():
            graph(x)
    return fn


def bench_model(name: str, threads_list, runs: int, warmup: int, workdir: Path) -> dict:
    from pyhpe.export import export_model
    from pyhpe.models import create_model
    from pyhpe.models.stats import count_macs, count_parameters
    from pyhpe.runtime.backends import NcnnBackend, OnnxRuntimeBackend

    torch.manual_seed(0)
    train = create_model(name).eval()
    size = train.input_size
    row = {"model": name, "input_size": size, "params_train": count_parameters(train),
           "macs_train": count_macs(train, size)}
    deploy = create_model(name).eval()
    deploy.load_state_dict(train.state_dict())
    t0 = time.perf_counter()
    export_model(deploy, workdir / f"{name}.onnx", "onnx", name=name, input_size=size, check=False)
    export_model(deploy, workdir / f"{name}.ncnn.param", "ncnn", name=name, input_size=size, check=False)
    row["export_s"] = time.perf_counter() - t0
    row["params_deploy"] = count_parameters(deploy)
    row["macs_deploy"] = count_macs(deploy, size)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    xn = x.numpy()
    row["latency"] = {}
    for threads in threads_list:
        ort_b = OnnxRuntimeBackend(workdir / f"{name}.onnx", threads=threads)
        ncnn_b = NcnnBackend(workdir / f"{name}.ncnn.param", threads=threads, precision="fp32")
        fns = {"torch_train": _torch_fn(train, x, threads), "torch_deploy": _torch_fn(deploy, x, threads),
               "onnxruntime": lambda b=ort_b: b.run(xn), "ncnn": lambda b=ncnn_b: b.run(xn)}
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
        cells = [r["model"].replace("sixdrepnet_", ""),
                 f"{r['params_train'] / 1e6:.2f} / {r['params_deploy'] / 1e6:.2f}",
                 f"{r['macs_deploy'] / 1e9:.3f}"]
        for t in threads_list:
            lat = r["latency"][str(t)]
            cells += [f"{lat[k]['min_ms']:.2f} ({lat[k]['median_ms']:.2f})" for k in RUNTIMES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/bench-deploy")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite table.md from an existing (possibly partial) results.json")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads_list = [int(t) for t in args.threads.split(",")]
    if args.report_only:
        data = json.loads((out / "results.json").read_text())
        table = format_table(data["rows"], threads_list)
        (out / "table.md").write_text(table + f"\n\nmin (median) ms, batch 1; env {data['env']}\n")
        print(table)
        return 0
    rows = []
    env = {"load_avg_start": os.getloadavg(), "cpu_count": os.cpu_count(), "torch": torch.__version__}
    with tempfile.TemporaryDirectory(prefix="pyhpe-bench-") as tmp:
        for name in args.models.split(","):
            row = bench_model(name, threads_list, args.runs, args.warmup, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
            (out / "results.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    env["load_avg_end"] = os.getloadavg()
    import ncnn
    import onnxruntime

    env.update(onnxruntime=onnxruntime.__version__, ncnn=ncnn.__version__)
    (out / "results.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    table = format_table(rows, threads_list)
    (out / "table.md").write_text(table + f"\n\nmin (median) ms, batch 1; load average start "
                                  f"{env['load_avg_start']}, end {env['load_avg_end']}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
