"""Fixed-step training comparisons on synthetic heads (how the demo's defaults were chosen).

``pyhpe bench fixed-steps --steps 1500 --lr 6e-3 --tag C2`` trains one configuration
for a fixed number of steps through ``pyhpe.engine.trainer.train`` (the demo's augmentation and
optimizer settings, a step-count warm-up + cosine schedule) and evaluates on the demo's held-out
set (500 heads, stream 1000). Comparing configurations by steps rather than by wall-clock keeps
the comparison valid on a shared, loaded machine; speed is measured separately. Rendered sets are
cached as npz files under ``--cache`` so parallel runs render once. One JSON line per run is printed
and appended to ``<out>/results.jsonl``; every run also rewrites, over all the runs in that file,
``<out>/results.json``, ``<out>/table.md`` (tag, steps, held-out MAE, time; the CPU model and the
load average of this run) and ``<out>/mae.png`` (held-out MAE per tag).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

DESCRIPTION = __doc__


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pyhpe.cli import add_renamed, positive_int

    p.add_argument("--model", default="sixdrepnet_repnext_m0", help="registered model name")
    p.add_argument("--size", type=positive_int, default=64, help="input side (px)")
    p.add_argument("--n-train", type=positive_int, default=4000)
    p.add_argument("--render", type=positive_int, default=128, help="rendered frame side (px)")
    p.add_argument("--lr", type=float, default=3e-3)
    add_renamed(p, "--batch-size", old="--batch", dest="batch", type=positive_int, default=32,
                help="images per step (default 32)")
    p.add_argument("--steps", type=positive_int, default=1000, help="rounded to whole epochs")
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--warmup", type=float, default=None, help="warm-up epochs (default min(1, epochs / 10))")
    p.add_argument("--scale", type=float, nargs=2, default=[0.8, 1.0], help="RandomResizedCrop scale")
    p.add_argument("--jitter", type=float, default=0.2, help="colour jitter amount (0 = off)")
    p.add_argument("--noise", type=float, default=3.0, help="Gaussian noise sigma, grey levels (0 = off)")
    p.add_argument("--amp", choices=("none", "bf16"), default="none", help="mixed precision (bf16 autocast)")
    p.add_argument("--channels-last", action="store_true", help="NHWC model and batches")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay per step (0 = off)")
    p.add_argument("--eval-every", type=int, default=0, help="epochs between validations (0: at the end)")
    p.add_argument("--tag", default="run")
    p.add_argument("--cache", type=Path, default=Path("/tmp/pyhpe-fixed-steps-cache"),
                   help="rendered sets kept here (npz, no pickles)")
    p.add_argument("--out", type=Path, default=Path("runs/fixed-steps"),
                   help="run directory shared by the compared runs (default runs/fixed-steps)")


def cached_render(n: int, seed: int, size: int, cache: Path):
    """Synthetic samples of stream ``seed``, rendered once and kept in ``cache`` as an npz (read
    with ``allow_pickle=False``: a file planted in a shared cache folder cannot run code)."""
    from pyhpe.data.sample import Sample
    from pyhpe.engine.data import SampleList, render_synthetic

    cache.mkdir(parents=True, exist_ok=True)
    f = cache / f"s{seed}_n{n}_r{size}.npz"
    if f.exists():
        with np.load(f, allow_pickle=False) as z:
            rows = json.loads(z["__meta__"].tobytes())
            return SampleList([Sample(**row, **{k.split("/", 1)[1]: z[k] for k in z.files
                                                if k.startswith(f"{i}/")}) for i, row in enumerate(rows)])
    ds = render_synthetic(n, seed, size, progress=False)
    arrays, rows = {}, []
    for i, sample in enumerate(ds):
        row = {}
        for fld in dataclasses.fields(sample):
            value = getattr(sample, fld.name)
            if isinstance(value, np.ndarray):
                arrays[f"{i}/{fld.name}"] = value
            else:
                row[fld.name] = value
        rows.append(row)
    meta = np.frombuffer(json.dumps(rows, default=lambda v: v.item()).encode(), np.uint8)
    tmp = f.with_name(f.name + ".tmp.npz")
    np.savez(tmp, __meta__=meta, **arrays)
    os.replace(tmp, f)
    return ds


def train_one(a: argparse.Namespace) -> dict:
    """Train the configuration ``a`` (this suite's options) and return its record."""
    from pyhpe.engine.config import validate
    from pyhpe.engine.trainer import train

    if a.n_train < a.batch:
        raise ValueError(f"--n-train {a.n_train} must be at least one batch (--batch-size {a.batch})")
    torch.set_num_threads(a.threads)
    epochs = max(1, round(a.steps / (a.n_train // a.batch)))
    cfg = validate({
        "name": f"fixed-{a.tag}", "model": {"name": a.model},
        "data": {"train": {"name": "synth-train", "format": "synthetic", "n": a.n_train, "seed": 0,
                           "render_size": a.render},
                 "val": [{"name": "synth-test", "format": "synthetic", "n": 500, "seed": 1000,
                          "render_size": a.render}],
                 "input_size": a.size, "workers": 0},
        "augment": {"flip": 0.5, "blur": 0.05, "scale": a.scale, "jitter": a.jitter, "noise": a.noise},
        "train": {"epochs": epochs, "batch_size": a.batch, "lr": a.lr, "min_lr": a.lr / 100, "weight_decay": 0.05,
                  "warmup_epochs": a.warmup if a.warmup is not None else min(1.0, epochs / 10), "grad_clip": 5.0,
                  "seed": 0, "eval_every": a.eval_every, "threads": a.threads, "device": "cpu",
                  "amp": a.amp, "channels_last": a.channels_last, "ema": a.ema},
        "output": {"dir": str(a.out), "progress": False},
    })  # checked before the sets are rendered: a bad option fails at once
    train_set = cached_render(a.n_train, 0, a.render, a.cache)
    test_set = cached_render(500, 1000, a.render, a.cache)
    t = time.perf_counter()
    s = train(cfg, samples={"train": train_set, "val": {"synth-test": test_set}})
    hist = [(int(h["step"]), round(h["synth-test/mae"], 2)) for h in s["history"] if h.get("synth-test/mae") is not None]
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()}
    return {"tag": a.tag, "args": options, "epochs": epochs, "steps": s["steps"], "mae": s["final"]["synth-test/mae"],
            "loss_deg_last": s["final"]["train_loss_deg"], "hist": hist, "time_s": time.perf_counter() - t,
            "run": s["run_dir"]}


def format_table(records: list[dict]) -> str:
    lines = ["| tag | model | steps | batch | lr | held-out MAE (°) | last train loss (°) | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['tag']} | {r['args'].get('model', '?')} | {r['steps']} | {r['args'].get('batch', '?')} "
              f"| {r['args'].get('lr', '?')} | {r['mae']:.2f} | {r['loss_deg_last']:.2f} | {r['time_s']:.0f} |"
              for r in records]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.report import bar_chart, machine, machine_line

    args.out.mkdir(parents=True, exist_ok=True)
    env = machine()
    res = train_one(args)
    env["load_after"] = os.getloadavg()[0]
    res["env"] = env
    print(json.dumps(res), flush=True)
    with (args.out / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(res) + "\n")
    records = [json.loads(line) for line in (args.out / "results.jsonl").read_text().splitlines() if line.strip()]
    (args.out / "results.json").write_text(json.dumps({"runs": records}, indent=1))
    table = (format_table(records) + f"\n\nFixed-step runs in {args.out}; the last ({res['tag']}): "
             f"{machine_line(env)}, torch {torch.__version__}\n")
    (args.out / "table.md").write_text(table)
    bar_chart({r["tag"]: {"held-out MAE": r["mae"]} for r in records}, args.out / "mae.png",
              title="fixed-step runs: held-out MAE on synthetic heads", ylabel="MAE (degrees)")
    print(table + f"run directory: {args.out}")
    return 0
