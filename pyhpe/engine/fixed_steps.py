"""Fixed-step training comparisons on synthetic heads (how the demo's defaults were chosen).

``python -m pyhpe.engine.fixed_steps --steps 1500 --lr 6e-3 --tag C2`` trains one configuration
for a fixed number of steps through ``pyhpe.engine.trainer.train`` (the demo's augmentation and
optimizer settings, a step-count warm-up + cosine schedule) and evaluates on the demo's held-out
set (500 heads, stream 1000). Comparing configurations by steps rather than by wall-clock keeps
the comparison valid on a shared, loaded machine; speed is measured separately. Rendered sets are
cached as pickles under ``--cache`` so parallel runs render once. One JSON line per run is printed
and appended to ``<out>/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
from pathlib import Path

import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pyhpe.engine.fixed_steps", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="sixdrepnet_repnext_m0")
    p.add_argument("--size", type=int, default=64, help="input side (px)")
    p.add_argument("--n-train", type=int, default=4000)
    p.add_argument("--render", type=int, default=128, help="rendered frame side (px)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=1000, help="rounded to whole epochs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=float, default=None, help="warm-up epochs (default min(1, epochs / 10))")
    p.add_argument("--scale", type=float, nargs=2, default=[0.8, 1.0], help="RandomResizedCrop scale")
    p.add_argument("--jitter", type=float, default=0.2, help="colour jitter amount (0 = off)")
    p.add_argument("--noise", type=float, default=3.0, help="Gaussian noise sigma, grey levels (0 = off)")
    p.add_argument("--amp", choices=("none", "bf16"), default="none", help="mixed precision (bf16 autocast)")
    p.add_argument("--channels-last", action="store_true", help="NHWC model and batches")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay per step (0 = off)")
    p.add_argument("--eval-every", type=int, default=0, help="epochs between validations (0: at the end)")
    p.add_argument("--tag", default="run")
    p.add_argument("--cache", default="/tmp/pyhpe-fixed-steps-cache")
    p.add_argument("--out", default="runs/fixed-steps")
    return p.parse_args(argv)


def cached_render(n: int, seed: int, size: int, cache: Path):
    """Synthetic samples of stream ``seed``, rendered once and kept as a pickle in ``cache``."""
    from pyhpe.engine.data import render_synthetic

    cache.mkdir(parents=True, exist_ok=True)
    f = cache / f"s{seed}_n{n}_r{size}.pkl"
    if f.exists():
        with f.open("rb") as fh:
            return pickle.load(fh)  # our own cache file
    ds = render_synthetic(n, seed, size, progress=False)
    tmp = f.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(ds, fh)
    os.replace(tmp, f)
    return ds


def main(argv: list[str] | None = None) -> dict:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    from pyhpe.engine.config import validate
    from pyhpe.engine.trainer import train

    train_set = cached_render(a.n_train, 0, a.render, Path(a.cache))
    test_set = cached_render(500, 1000, a.render, Path(a.cache))
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
        "output": {"dir": a.out, "progress": False},
    })
    t = time.perf_counter()
    s = train(cfg, samples={"train": train_set, "val": {"synth-test": test_set}})
    hist = [(int(h["step"]), round(h["synth-test/mae"], 2)) for h in s["history"] if h.get("synth-test/mae") is not None]
    res = {"tag": a.tag, "args": vars(a), "epochs": epochs, "steps": s["steps"], "mae": s["final"]["synth-test/mae"],
           "loss_deg_last": s["final"]["train_loss_deg"], "hist": hist, "time_s": time.perf_counter() - t,
           "run": s["run_dir"]}
    print(json.dumps(res), flush=True)
    with (Path(a.out) / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(res) + "\n")
    return res


if __name__ == "__main__":
    main()
