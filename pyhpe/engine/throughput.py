"""Training throughput: our training step against the official 6DRepNet step, in one process.

    python -m pyhpe.engine.throughput --batch 16 --size 224 --threads 1 2 --steps 3

Times, interleaved (so that load from other jobs hits every candidate alike), a whole training
step = forward + loss + backward + optimizer step on random images and rotations:

- ``ours repnext_m4``: ``sixdrepnet_repnext_m4`` (training form), ``forward_6d`` +
  ``pyhpe.ops.sixd_geodesic_loss``, AdamW;
- ``ours repvgg_b1g2``: ``sixdrepnet_repvgg_b1g2`` (training form), same loss and optimizer;
- ``official repvgg_b1g2``: the ``sixdrepnet`` package's ``SixDRepNet("RepVGG-B1g2")`` (training
  form, loaded by file path) with its ``GeodesicLoss`` on its Gram-Schmidt output, Adam as in its
  train.py.

It also times the loss alone (6D → rotation → geodesic loss, forward + backward) for both, which
says how much of a step the head and loss can account for. Prints a table; ``--json`` saves it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
import types
from pathlib import Path

import torch


def official_modules() -> types.SimpleNamespace:
    """The official package's model.py (+ backbone, utils) and loss.py (see pyhpe.official)."""
    from pyhpe.official import load_official_model_code

    return load_official_model_code()


def _steps(batch: int, size: int) -> dict[str, callable]:
    from pyhpe.models import create_model
    from pyhpe.ops import gram_schmidt, sixd_geodesic_loss

    off = official_modules()
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    R_gt = gram_schmidt(torch.randn(batch, 6))

    def ours(name: str):
        model = create_model(name).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

        def step():
            loss = sixd_geodesic_loss(model.forward_6d(x), R_gt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    with contextlib.redirect_stdout(io.StringIO()):  # the official blocks print themselves
        ref = off.model.SixDRepNet("RepVGG-B1g2", "", deploy=False, pretrained=False).train()
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-5)
    geodesic = off.loss.GeodesicLoss()

    def official():
        loss = geodesic(R_gt, ref(x))  # train.py: crit(gt_mat, R_pred)
        ref_opt.zero_grad(set_to_none=True)
        loss.backward()
        ref_opt.step()

    x6 = torch.randn(batch, 6, requires_grad=True)

    def loss_ours():
        sixd_geodesic_loss(x6, R_gt).backward()

    def loss_official():
        geodesic(R_gt, off.utils.compute_rotation_matrix_from_ortho6d(x6)).backward()

    return {"ours repnext_m4": ours("sixdrepnet_repnext_m4"), "ours repvgg_b1g2": ours("sixdrepnet_repvgg_b1g2"),
            "official repvgg_b1g2": official, "loss only, ours": loss_ours, "loss only, official": loss_official}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyhpe.engine.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--steps", type=int, default=3, help="timed rounds after the warm-up")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    import os

    rows = {}
    for t in args.threads:
        med = measure(args.batch, args.size, t, args.steps)
        rows[t] = med
        print(f"\nbatch {args.batch}, {args.size}x{args.size}, {t} thread(s), median of {args.steps} "
              f"(load average {os.getloadavg()[0]:.1f})")
        print(f"{'step':24}{'s/step':>10}{'images/s':>10}{'vs official':>13}")
        off = med["official repvgg_b1g2"]
        for name, sec in med.items():
            if name.startswith("loss"):
                print(f"{name:24}{sec * 1e3:9.3f}ms{'':>10}{100 * sec / off:12.3f}%")
            else:
                print(f"{name:24}{sec:10.3f}{args.batch / sec:10.2f}{off / sec:12.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"batch": args.batch, "size": args.size, "steps": args.steps,
                                               "torch": torch.__version__, "seconds": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
