"""Training throughput: our training step against the official 6DRepNet step, in one process.

    pyhpe bench throughput --batch-size 16 --size 224 --threads 1 2 --steps 3

Times, interleaved (so that load from other jobs hits every candidate alike), a whole training
step = forward + loss + backward + optimizer step on random images and rotations:

- ``ours repnext_m4``: ``sixdrepnet_repnext_m4`` (training form), its task's forward and loss
  (pyhpe.tasks: the 6D output into ``pyhpe.ops.sixd_geodesic_loss``), AdamW;
- ``ours repvgg_b1g2``: ``sixdrepnet_repvgg_b1g2`` (training form), same loss and optimizer;
- ``official repvgg_b1g2``: the ``sixdrepnet`` package's ``SixDRepNet("RepVGG-B1g2")`` (training
  form, loaded by file path) with its ``GeodesicLoss`` on its Gram-Schmidt output, Adam as in its
  train.py.

It also times the loss alone (6D → rotation → geodesic loss, forward + backward) for both, which
says how much of a step the head and loss can account for. ``--profile`` splits one RepVGG-B1g2
step of ours and of the official code into forward + loss, backward and optimizer, and says how
much of each went to convolutions (torch.profiler). Writes ``results.json``, ``table.md`` (with the
CPU model and the load average) and ``throughput.png`` (images/s per step; with ``--profile``
``profile.png``, seconds per phase) to the run directory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
import types
from pathlib import Path

import torch


def official_modules() -> types.SimpleNamespace:
    """The official package's model.py (+ backbone, utils) and loss.py (see pyhpe.official)."""
    from pyhpe.official import load_official_model_code

    return load_official_model_code()


def _candidates(batch: int, size: int) -> dict[str, tuple]:
    """Every training step as (forward + loss, optimizer) on the same random images and
    rotations, plus the loss-only callables (6D -> rotation -> geodesic; no optimizer)."""
    from pyhpe.models import create_model
    from pyhpe.ops import gram_schmidt, sixd_geodesic_loss

    off = official_modules()
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    R_gt = gram_schmidt(torch.randn(batch, 6))

    def ours(name: str) -> tuple:
        from pyhpe.tasks import task_of

        model = create_model(name).train()
        task, batch = task_of(model), {"image": x, "R": R_gt}
        return (lambda: task.loss(task.forward(model, batch), batch),
                torch.optim.AdamW(model.parameters(), lr=1e-5))

    with contextlib.redirect_stdout(io.StringIO()):  # the official blocks print themselves
        ref = off.model.SixDRepNet("RepVGG-B1g2", "", deploy=False, pretrained=False).train()
    geodesic = off.loss.GeodesicLoss()
    x6 = torch.randn(batch, 6, requires_grad=True)
    return {
        "ours repnext_m4": ours("sixdrepnet_repnext_m4"),
        "ours repvgg_b1g2": ours("sixdrepnet_repvgg_b1g2"),
        # train.py: crit(gt_mat, R_pred), Adam
        "official repvgg_b1g2": (lambda: geodesic(R_gt, ref(x)),
                                 torch.optim.Adam(ref.parameters(), lr=1e-5)),
        "loss only, ours": (lambda: sixd_geodesic_loss(x6, R_gt), None),
        "loss only, official": (
            lambda: geodesic(R_gt, off.utils.compute_rotation_matrix_from_ortho6d(x6)), None),
    }


def _step(forward, opt) -> callable:
    """One training step: forward + loss, backward, and the optimizer step (when there is one)."""
    def run():
        loss = forward()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if opt is not None:
            opt.step()
    return run


def _steps(batch: int, size: int) -> dict[str, callable]:
    return {name: _step(*parts) for name, parts in _candidates(batch, size).items()}


CONV_OPS = ("convolution", "conv2d", "mkldnn_conv")


def profile_b1g2(batch: int, size: int, threads: int) -> dict[str, dict[str, float]]:
    """Seconds of forward + loss, backward and optimizer step of one training step each (after
    a warm-up), and the convolutions' share of the step's CPU time (profiler self times)."""
    from torch.profiler import ProfilerActivity, profile

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    out = {}
    try:
        parts = _candidates(batch, size)
        for name in ("ours repvgg_b1g2", "official repvgg_b1g2"):
            forward, opt = parts[name]
            for prof in (None, True):  # warm-up, then the profiled step
                ctx = profile(activities=[ProfilerActivity.CPU]) if prof else contextlib.nullcontext()
                with ctx as p:
                    t0 = time.perf_counter()
                    loss = forward()
                    t1 = time.perf_counter()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    t2 = time.perf_counter()
                    opt.step()
                    t3 = time.perf_counter()
            events = p.key_averages()
            total = sum(e.self_cpu_time_total for e in events)
            conv = sum(e.self_cpu_time_total for e in events
                       if any(k in e.key for k in CONV_OPS))
            out[name] = {"forward+loss": t1 - t0, "backward": t2 - t1, "optimizer": t3 - t2,
                         "conv_share": conv / max(total, 1e-9)}
    finally:
        torch.set_num_threads(before)
    return out


def measure(batch: int, size: int, threads: int, steps: int) -> dict[str, float]:
    """Median seconds per call for every candidate (one warm-up each, then interleaved rounds)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        calls = _steps(batch, size)
        for fn in calls.values():
            fn()
        times: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(steps):
            for name, fn in calls.items():
                reps = 1 if not name.startswith("loss") else 200
                t0 = time.perf_counter()
                for _ in range(reps):
                    fn()
                times[name].append((time.perf_counter() - t0) / reps)
    finally:
        torch.set_num_threads(before)
    return {k: statistics.median(v) for k, v in times.items()}


def _measure_table(batch: int, size: int, steps: int, rows: dict[int, dict[str, float]]) -> str:
    out = []
    for t, med in rows.items():
        off = med["official repvgg_b1g2"]
        out += [f"batch {batch}, {size}x{size}, {t} thread(s), median of {steps} (wall clock)", "",
                "| step | s/step | images/s | vs official |", "|---|---|---|---|"]
        for name, sec in med.items():
            if name.startswith("loss"):
                out.append(f"| {name} | {sec * 1e3:.3f} ms | | {100 * sec / off:.3f}% |")
            else:
                out.append(f"| {name} | {sec:.3f} | {batch / sec:.2f} | {off / sec:.2f}x |")
        out.append("")
    return "\n".join(out)


def _profile_table(batch: int, size: int, rows: dict[int, dict[str, dict[str, float]]]) -> str:
    out = []
    for t, res in rows.items():
        out += [f"RepVGG-B1g2 step, batch {batch}, {size}x{size}, {t} thread(s)", "",
                "| step | fwd+loss s | backward s | optim s | conv share |", "|---|---|---|---|---|"]
        out += [f"| {name} | {r['forward+loss']:.3f} | {r['backward']:.3f} | {r['optimizer']:.3f} "
                f"| {100 * r['conv_share']:.1f}% |" for name, r in res.items()]
        out.append("")
    return "\n".join(out)


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import IntList, add_renamed, positive_int

    add_renamed(parser, "--batch-size", old="--batch", dest="batch", type=positive_int, default=16,
                help="images per step (default 16)")
    parser.add_argument("--size", type=positive_int, default=224, help="input side (px, default 224)")
    parser.add_argument("--threads", nargs="+", action=IntList, default=[2], metavar="N",
                        help="thread counts, e.g. 1 2 or 1,2 (default 2)")
    parser.add_argument("--steps", type=positive_int, default=3, help="timed rounds after the warm-up")
    parser.add_argument("--profile", action="store_true",
                        help="split one RepVGG-B1g2 step (ours, official) into its phases instead")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-throughput-TIME)")
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)  # old: a copy of results.json here


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.report import bar_chart, machine, machine_line, run_dir
    from pyhpe.official import INSTALL_HINT, official_root

    out = run_dir(args.out, "throughput")
    if official_root() is None:
        raise ModuleNotFoundError(f"the official 6DRepNet package is not installed: {INSTALL_HINT}")
    env = {**machine(), "torch": torch.__version__}
    rows: dict = {}
    for t in args.threads:
        if args.profile:
            rows[t] = profile_b1g2(args.batch, args.size, t)
        else:
            rows[t] = measure(args.batch, args.size, t, args.steps)
        print(f"{t} thread(s) done (load average {os.getloadavg()[0]:.1f})", flush=True)
    env["load_after"] = os.getloadavg()[0]
    results = {"env": env, "batch": args.batch, "size": args.size, "steps": args.steps, "profile": args.profile,
               "torch": torch.__version__, ("phases" if args.profile else "seconds"): rows}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.profile:
        table = _profile_table(args.batch, args.size, rows)
        bar_chart({f"{name} {t}T": {k: v for k, v in r.items() if k != "conv_share"}
                   for t, res in rows.items() for name, r in res.items()},
                  out / "profile.png", title=f"RepVGG-B1g2 training step by phase, batch {args.batch}",
                  ylabel="seconds")
    else:
        table = _measure_table(args.batch, args.size, args.steps, rows)
        bar_chart({f"{t} thread(s)": {k: args.batch / v for k, v in med.items() if not k.startswith("loss")}
                   for t, med in rows.items()},
                  out / "throughput.png", title=f"training throughput, batch {args.batch}, {args.size}²",
                  ylabel="images/s")
    table += f"\n{machine_line(env)}; torch {torch.__version__}\n"
    (out / "table.md").write_text(table)
    print("\n" + table + f"run directory: {out}")
    return 0
