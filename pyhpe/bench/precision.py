"""Pose error of each deploy precision on the synthetic test set: a model exported to ncnn (its
fused pair where it has one) and run by the C++ runtime's ``pyhpe-infer`` in fp32, fp16 and bf16
on N held-out synthetic heads, each pose compared with the runtime's own fp32 pose and with
PyTorch's (the deploy form, fp32), as the geodesic angle in degrees; and each precision's error
against the heads' true pose.

    pyhpe bench precision [--checkpoint MODEL | --model sixdrepnet_repnext_m4 --input-size 224] \\
        [--n 100] [--seed 1000] [--precisions fp32 fp16 bf16] \\
        [--pyhpe-infer build/runtime-host/pyhpe-infer]

The test stream is seed 1000, the one ``pyhpe demo`` holds out (its training stream is seed 0).
Without ``--checkpoint`` the model has random weights (seed 0): its poses say nothing about
accuracy, but the angles between precisions still measure what the precision changes. The input
tensors are the task's test crop of each head (the model card's), so the runtime sees exactly
what PyTorch sees. bf16 needs a runtime built against an NCNN_BF16 ncnn (tools/build_ncnn.sh
host-bf16; its FFN runs on AMX where the CPU has it); otherwise it runs as fp32, and fp16 on x86
only changes some weights (docs/deployment.md, "Precision"); the table names the build. The fused
pair keeps its stem and pose head in fp32 (pyhpe/export/ncnn_precision.py); ``--all-16bit``
measures it without them. One ``pyhpe-infer`` process per precision runs all N inputs. Writes
``results.json`` (with every head's angle to fp32), ``table.md`` and ``errors.png`` (mean, p99 and
max angle to fp32 per precision).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PRECISIONS = ("fp32", "fp16", "bf16")


def load_model(args: argparse.Namespace):
    """(model in eval mode, card, name): the checkpoint, or the registry model with seed-0 weights."""
    from pyhpe.models import create_model, load
    from pyhpe.tasks import task_of

    if args.checkpoint is not None:
        model, card = load(args.checkpoint)
        if args.input_size:
            card = card.with_(input_size=args.input_size)
        return model.eval(), card, card.model
    torch.manual_seed(0)
    model = create_model(args.model).eval()
    return model, task_of(model).card(args.model, {}, args.input_size or 224), args.model


def test_inputs(model, card, n: int, seed: int, render_size: int, progress: bool):
    """(N x 3 x S x S float32 inputs, N x 3 x 3 true rotations): the synthetic stream ``seed``
    through the task's test transform for ``card``'s crop and input size."""
    from pyhpe.engine.config import SOURCE_DEFAULTS
    from pyhpe.engine.data import Transformed, open_samples
    from pyhpe.tasks import task_of

    task = task_of(model)
    src = {**SOURCE_DEFAULTS, "format": "synthetic", "n": n, "seed": seed, "render_size": render_size,
           "name": "synthetic", "depth": None}
    ds = Transformed(open_samples(src, progress=progress), task.test_transform(card.crop, card.input_size, src),
                     ("image", "R"))
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([s["image"] for s in items]).float(), torch.stack([s["R"] for s in items]).double()


def runtime_rotations(exe: Path, param: Path, x: torch.Tensor, precision: str, fused: bool,
                      workdir: Path) -> np.ndarray:
    """R (N x 3 x 3) from one ``pyhpe-infer --tensors`` call over all N inputs (one JSON line each)."""
    f = workdir / "inputs.f32"
    x.contiguous().numpy().astype(np.float32).tofile(f)
    cmd = [str(exe), str(param), "--tensors", str(f), f"--{precision}", *(["--fused"] if fused else [])]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + 10 * len(x), check=False)
    if p.returncode != 0:
        raise SystemExit(f"{exe.name} failed ({precision}): {p.stderr.strip()}")
    lines = p.stdout.strip().splitlines()[-len(x):]
    if len(lines) != len(x):
        raise SystemExit(f"{exe.name} printed {len(lines)} poses for {len(x)} inputs ({precision})")
    return np.stack([np.reshape(json.loads(line)["R"], (3, 3)) for line in lines])


def angles_deg(R1, R2) -> np.ndarray:
    """Geodesic angle between rotation stacks, degrees, from the chord: |R1 - R2|_F = 2 sqrt(2)
    sin(angle / 2) for rotations. Unlike acos((tr(R1 R2^T) - 1) / 2) it stays accurate for the
    hundredths of a degree compared here (the runtime prints R to 9 digits, which acos near 1
    turns into ~0.01 degrees of noise)."""
    d = np.linalg.norm(np.asarray(R1, dtype=np.float64) - np.asarray(R2, dtype=np.float64), axis=(-2, -1))
    return np.degrees(2 * np.arcsin(np.clip(d / (2 * np.sqrt(2)), 0.0, 1.0)))


def summarise(runtime: dict[str, np.ndarray], torch_R: np.ndarray, R_gt: np.ndarray) -> dict:
    """Per precision: angles to the runtime's fp32 pose, to PyTorch's, and to the true pose."""
    rows = {}
    for p, R in runtime.items():
        to_fp32, to_torch, to_gt = angles_deg(R, runtime["fp32"]), angles_deg(R, torch_R), angles_deg(R, R_gt)
        rows[p] = {"vs_fp32_mean": float(to_fp32.mean()), "vs_fp32_p99": float(np.percentile(to_fp32, 99)),
                   "vs_fp32_max": float(to_fp32.max()), "vs_torch_mean": float(to_torch.mean()),
                   "vs_torch_max": float(to_torch.max()), "vs_truth_mean": float(to_gt.mean()),
                   "vs_fp32": to_fp32.tolist()}
    rows["torch fp32"] = {"vs_truth_mean": float(angles_deg(torch_R, R_gt).mean())}
    return rows


def format_table(rows: dict) -> str:
    lines = ["| precision | vs runtime fp32: mean | p99 | max | vs PyTorch fp32: mean | max | vs true pose: mean |",
             "|---|---|---|---|---|---|---|"]
    for p, r in rows.items():
        if p == "torch fp32":
            lines.append(f"| PyTorch fp32 | – | – | – | – | – | {r['vs_truth_mean']:.3f}° |")
            continue
        lines.append(f"| {p} | {r['vs_fp32_mean']:.4f}° | {r['vs_fp32_p99']:.4f}° | {r['vs_fp32_max']:.4f}° "
                     f"| {r['vs_torch_mean']:.4f}° | {r['vs_torch_max']:.4f}° | {r['vs_truth_mean']:.3f}° |")
    return "\n".join(lines)


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import positive_int

    parser.add_argument("--checkpoint", type=Path, help="pyhpe model file (default: --model with random weights)")
    parser.add_argument("--model", default="sixdrepnet_repnext_m4", help="registry model name, used without --checkpoint (default sixdrepnet_repnext_m4)")
    parser.add_argument("--input-size", type=int, default=0,
                        help="network input side (default: the checkpoint's, else 224)")
    parser.add_argument("--n", type=positive_int, default=100, help="synthetic test heads (default 100)")
    parser.add_argument("--seed", type=int, default=1000, help="synthetic stream (default 1000, the demo's test set)")
    parser.add_argument("--render-size", type=int, default=0,
                        help="rendered frame side (default: max(128, the input side))")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
                        help="runtime precisions (fp32 always runs: the others are compared with it)")
    parser.add_argument("--plain", action="store_true", help="the plain ncnn pair, not the fused one")
    parser.add_argument("--all-16bit", action="store_true",
                        help="the fused pair without its fp32 stem and pose head (every layer in 16-bit "
                             "storage, as before they were kept fp32): to measure what they buy")
    parser.add_argument("--pyhpe-infer", type=Path, default=Path("build/runtime-host/pyhpe-infer"),
                        help="the C++ runtime's pyhpe-infer (default build/runtime-host/pyhpe-infer)")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-precision-TIME)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.fused import build_info
    from pyhpe.bench.report import bar_chart, machine, machine_line, run_dir
    from pyhpe.export import export_model
    from pyhpe.export.ncnn_fuse import fuse_mixers

    exe = args.pyhpe_infer
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise SystemExit(f"{exe}: not an executable (build csrc/runtime first)")
    precisions = ["fp32", *[p for p in args.precisions if p != "fp32"]]
    model, card, name = load_model(args)
    size = card.input_size
    render = args.render_size or max(128, size)
    out = run_dir(args.out, "precision")
    env = {**machine(), "start": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    x, R_gt = test_inputs(model, card, args.n, args.seed, render, not args.no_progress)
    with tempfile.TemporaryDirectory(prefix="pyhpe-bench-precision-") as tmp:
        work = Path(tmp)
        param = work / f"{name}.ncnn.param"
        export_model(model, param, "ncnn", name=name, input_size=size, card=card, check=False)
        fused = not args.plain and param.with_name(f"{name}.fused.ncnn.param").is_file()
        if fused and args.all_16bit:  # rewrite the fused pair from the plain one, without fp32 ends
            fuse_mixers(param, stem=False, fp32_ends=False)
        with torch.no_grad():
            torch_R = model(x).R.double().numpy()  # the deploy form: export reparameterized it
        runtime = {p: runtime_rotations(exe, param, x, p, fused, work) for p in precisions}
        bench = exe.with_name("pyhpe-bench")
        info = build_info(bench, param.with_name(f"{name}.fused.ncnn.param") if fused else param) \
            if bench.is_file() else "unknown (no pyhpe-bench beside pyhpe-infer)"
    env.update(load_after=os.getloadavg()[0], end=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    rows = summarise(runtime, torch_R, R_gt.numpy())
    what = (f"{name} ({'trained: ' + str(args.checkpoint) if args.checkpoint else 'random weights, seed 0'}), "
            f"{'fused' if fused else 'plain'} ncnn pair{' without fp32 ends (--all-16bit)' if fused and args.all_16bit else ''}, {size} px, {args.n} synthetic test heads (stream "
            f"{args.seed}, rendered at {render} px)")
    (out / "results.json").write_text(json.dumps({"env": env, "model": what, "runtime_build": info,
                                                  "rows": rows}, indent=1))
    text = (f"{format_table(rows)}\n\n{what}; geodesic angles in degrees; {env['start']} - {env['end']}; "
            f"{machine_line(env)}\nruntime build: {info}\n")
    (out / "table.md").write_text(text)
    bar_chart({p: {"mean": r["vs_fp32_mean"], "p99": r["vs_fp32_p99"], "max": r["vs_fp32_max"]}
               for p, r in rows.items() if p not in ("fp32", "torch fp32")} or {"fp32": {"mean": 0.0}},
              out / "errors.png", title=f"{name}: pose change against fp32 per precision", ylabel="degrees")
    print(text + f"run directory: {out}")
    return 0
