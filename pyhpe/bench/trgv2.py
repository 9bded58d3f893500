"""Where a TRGv2 training step spends its time, by phase.

One training step (forward, the task's loss, backward, Adam) on a batch of synthetic 6DoF crops,
first timed without instrumentation (wall clock, median of ``--steps``), then under the PyTorch
profiler with the model's named scopes: backbone, neck (deconvolutions), landmark heatmaps,
feature sampling (projection + grid_sample + per-point MLP), the iterative regressors, the loss,
backward and the optimizer step, plus the native Gram-Schmidt op (the rotation decode).
Forward phases are inclusive CPU times of their scopes; backward is one phase (autograd does
not keep the forward scopes). Writes results.json and table.md to the run directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.autograd.profiler import record_function

FORWARD_PHASES = ("trgv2.backbone", "trgv2.neck", "trgv2.heatmaps", "trgv2.sample", "trgv2.regress")
STEP_PHASES = ("step.forward", "step.loss", "step.backward", "step.optimizer")
NATIVE_OPS = ("pyhpe::gram_schmidt", "pyhpe::gram_schmidt_backward")


def synthetic_batch(batch: int, size: int, render: int = 224, seed: int = 0) -> dict:
    """A batch of TRGv2 inputs and labels cut from rendered heads (the test crop)."""
    from pyhpe.data.sixdof_crop import SixDoFCrop
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    heads = SyntheticHeads(batch, seed=seed, config=SynthConfig(size=render, depth=(0.3, 0.9)))
    crop = SixDoFCrop(size=size, num_vertices=None)
    items = [crop(heads[i]) for i in range(batch)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def profile_step(model_name: str = "trgv2_resnet18", batch: int = 32, size: int = 192,
                 threads: int = 2, steps: int = 3, kwargs: dict | None = None) -> dict:
    """{"step_ms": median wall ms, "phases": {name: ms per step}, ...} (see the module doc)."""
    from pyhpe.models import create_model
    from pyhpe.tasks import task_of

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(model_name, input_size=size, **(kwargs or {})).train()
    task = task_of(model)
    data = synthetic_batch(batch, size)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        with record_function("step.forward"):
            out = task.forward(model, data)
        with record_function("step.loss"):
            loss = task.loss(out, data)
        with record_function("step.backward"):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with record_function("step.optimizer"):
            optimizer.step()

    for _ in range(2):
        step()
    wall = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        wall.append(time.perf_counter() - t0)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    totals = {e.key: e.cpu_time_total / 1e3 / steps for e in prof.key_averages()}
    torch.set_num_threads(old)
    phases = {k: totals.get(k, 0.0) for k in (*STEP_PHASES, *FORWARD_PHASES, *NATIVE_OPS)}
    params = sum(p.numel() for p in model.parameters())
    return {"model": model_name, "batch": batch, "size": size, "threads": threads,
            "step_ms": 1e3 * statistics.median(wall), "phases": phases, "params": params,
            "kwargs": kwargs or {}}


def markdown(r: dict) -> str:
    p = r["phases"]
    step = sum(p[k] for k in STEP_PHASES)
    lines = [f"{r['model']} training step, batch {r['batch']}, {r['size']}², {r['threads']} threads: "
             f"**{r['step_ms']:.0f} ms** (wall, median), {r['params'] / 1e6:.1f} M parameters",
             "", "| phase | ms / step (profiled) | share of the step |", "|---|---|---|"]
    for k in STEP_PHASES:
        lines.append(f"| {k[5:]} | {p[k]:.1f} | {100 * p[k] / step:.1f} % |")
        if k == "step.forward":
            for f in FORWARD_PHASES:
                lines.append(f"| &nbsp;&nbsp;{f[6:]} | {p[f]:.1f} | {100 * p[f] / step:.1f} % |")
    native = sum(p[k] for k in NATIVE_OPS)
    lines.append(f"| (native Gram-Schmidt, fwd + bwd) | {native:.2f} | {100 * native / step:.2f} % |")
    return "\n".join(lines) + "\n"


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import positive_int

    parser.add_argument("--model", default="trgv2_resnet18", help="a trgv2_* model")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--input-size", type=positive_int, default=192, help="crop side (px)")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--steps", type=positive_int, default=3, help="timed and profiled steps")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-trgv2-TIME)")


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / time.strftime("bench-trgv2-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    r = profile_step(args.model, args.batch_size, args.input_size, args.threads, args.steps)
    from pyhpe.models.stats import cpu_model

    r.update(cpu=cpu_model() or platform.machine(), load_before=load, load_after=os.getloadavg()[0],
             command=f"pyhpe bench trgv2 --model {args.model} --batch-size {args.batch_size} "
                     f"--input-size {args.input_size} --threads {args.threads} --steps {args.steps}")
    (out / "results.json").write_text(json.dumps(r, indent=1))
    table = (f"CPU: {r['cpu']}; load average {r['load_before']:.2f} → {r['load_after']:.2f}; "
             f"torch {torch.__version__}\n\n" + markdown(r))
    (out / "table.md").write_text(table)
    print(table + f"\nrun directory: {out}")
    return 0
