"""The fused RepNeXt mixer vs PyTorch for every RepNeXt-M4 stage at 224x224 input.

Three implementations of the same mixer, timed interleaved in this process (pyhpe.bench.timing):
- ``torch_branches``: the PyTorch training form (every branch its own depthwise conv);
- ``torch_merged``: one F.conv2d per group on the merged kernels;
- ``ours``: pyhpe.ops.repnext_mixer on the same merged kernels.
Forward ("fwd") is the deploy form: kernels merged once beforehand, no gradient. Forward+backward
("fwdbwd") is a training step of the mixer: the online merge runs inside the timed call for
``ours`` and ``torch_merged``, and gradients reach the branch weights.
Block mixers of stages 0-3 and the downsample mixers of stages 1-3; N=1 and N=32; forward
(eval) and forward+backward (training); 1 and 2 threads. Writes results.json and table.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from pyhpe import ops
from pyhpe.bench.timing import time_interleaved

# RepNeXt-M4 at 224: (name, channels, spatial size, downsample?)
M4_MIXERS = [
    ("stage0 block", 64, 56, False),
    ("stage1 down", 64, 56, True),
    ("stage1 block", 128, 28, False),
    ("stage2 down", 128, 28, True),
    ("stage2 block", 256, 14, False),
    ("stage3 down", 256, 14, True),
    ("stage3 block", 512, 7, False),
]
IMPLS = ("ours", "torch_merged", "torch_branches")


def build_mixer(channels: int, downsample: bool):
    """A RepNeXt mixer module in training form with random (non-trivial) weights."""
    from pyhpe.models.backbones.repnext import ChunkMixer, CopyMixer

    torch.manual_seed(0)
    module = CopyMixer(channels) if downsample else ChunkMixer(channels)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.1)
    return module


def merged_params(module, downsample: bool) -> list:
    """The mixer's kernels merged online (differentiable), in repnext_mixer's argument order."""
    ws, bs = module.conv_s.merged_weight_bias()
    wm, bm = module.conv_m.merged_weight_bias()
    if downsample:
        return [ws, bs, wm, bm]
    l1, l2 = module.conv_l[0], module.conv_l[1]
    return [ws, bs, wm, bm, l1.weight, l1.bias, l2.weight, l2.bias]


def implementations(module, downsample: bool, mode: str):
    if mode == "fwd":  # deploy form: merged once
        with torch.no_grad():
            fixed = [p.detach() for p in merged_params(module, downsample)]
        return {
            "ours": lambda x: ops.repnext_mixer(x, *fixed),
            "torch_merged": lambda x: ops.repnext_mixer_ref(x, *fixed),
            "torch_branches": module.forward_plain,
        }
    return {
        "ours": lambda x: ops.repnext_mixer(x, *merged_params(module, downsample)),
        "torch_merged": lambda x: ops.repnext_mixer_ref(x, *merged_params(module, downsample)),
        # forward_plain: the module's own forward would run the fused op (fused=True default)
        "torch_branches": module.forward_plain,
    }


def _call(fn, x: torch.Tensor, module, mode: str):
    if mode == "fwd":
        def forward():
            with torch.no_grad():
                return fn(x)
        return forward
    params = list(module.parameters())

    def forward_backward():
        out = fn(x)
        return torch.autograd.grad(out, [x] + params, torch.ones_like(out))

    return forward_backward


def run_suite(batches, threads_list, modes, samples, progress=None) -> list[dict]:
    rows = []
    old = torch.get_num_threads()
    for name, channels, size, downsample in M4_MIXERS:
        module = build_mixer(channels, downsample)
        for batch in batches:
            x = torch.randn(batch, channels, size, size)
            for mode in modes:
                xin = x.clone().requires_grad_(mode == "fwdbwd")
                impls = implementations(module, downsample, mode)
                for threads in threads_list:
                    torch.set_num_threads(threads)
                    fns = {k: _call(f, xin, module, mode) for k, f in impls.items()}
                    seconds = time_interleaved(fns, samples, target_s=0.05,
                                               clock="thread" if threads == 1 else "wall")
                    rows.append({"mixer": name, "channels": channels, "size": size, "batch": batch,
                                 "mode": mode, "threads": threads, "seconds": seconds})
                    if progress:
                        progress(rows[-1])
    torch.set_num_threads(old)
    return rows


def mixer_work(channels: int, size: int, downsample: bool, batch: int, mode: str) -> tuple[float, float]:
    """The least work one mixer call must do: (FLOPs, bytes moved in float32).

    FLOPs: 2 per multiply-add of the merged depthwise kernels (block: a quarter of the channels
    each through 3x3, 7x7 and 1x11 + 11x1, one quarter copied; down: every channel through 3x3
    and 7x7 at stride 2 into twice the channels), forward+backward 3x (input and weight
    gradients). Bytes: forward reads x and writes y; forward+backward also reads x again and dy
    and writes dx (weights are negligible)."""
    if downsample:
        out_size = (size - 1) // 2 + 1
        macs = channels * (9 + 49) * out_size * out_size
        x_vals, y_vals = channels * size * size, 2 * channels * out_size * out_size
    else:
        macs = channels // 4 * (9 + 49 + 22) * size * size
        x_vals = y_vals = channels * size * size
    flops = 2.0 * macs * batch * (3 if mode == "fwdbwd" else 1)
    vals = (x_vals + y_vals) if mode == "fwd" else (3 * x_vals + 2 * y_vals)
    return flops, 4.0 * vals * batch


def add_bounds(rows: list[dict], peaks: dict) -> None:
    """Each 1-thread row gets its bound (the larger of the compute and the memory time at this
    CPU's 1-thread limits) and which limit it is."""
    for r in rows:
        if r["threads"] != 1:
            continue
        flops, nbytes = mixer_work(r["channels"], r["size"], r["mixer"].endswith("down"), r["batch"], r["mode"])
        compute, memory = flops / (peaks["fp32_gflops"] * 1e9), nbytes / (peaks["copy_gbps"] * 1e9)
        r["bound"] = {"seconds": max(compute, memory), "by": "compute" if compute >= memory else "memory",
                      "flops": flops, "bytes": nbytes}


def _fmt(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} µs"


def markdown(rows: list[dict]) -> str:
    out = ["| mixer | C×H×W | N | mode | threads | ours | torch merged | torch branches | bound (1 thread) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["seconds"]
        cells = [_fmt(s["ours"])] + [f"{_fmt(s[k])} ({s[k] / s['ours']:.1f}×)"
                                     for k in ("torch_merged", "torch_branches")]
        b = r.get("bound")
        cells.append(f"{_fmt(b['seconds'])} {b['by']} (ours {s['ours'] / b['seconds']:.1f}× it)" if b else "–")
        out.append(f"| {r['mixer']} | {r['channels']}×{r['size']}×{r['size']} | {r['batch']} | "
                   f"{r['mode']} | {r['threads']} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import IntList, add_renamed, positive_int

    parser.add_argument("--quick", action="store_true", help="N=1 only, 1 thread, 3 samples")
    add_renamed(parser, "--batch-sizes", old="--batches", dest="batches", nargs="+", action=IntList,
                metavar="N", help="batch sizes, e.g. 1 32 or 1,32 (default 1 32)")
    parser.add_argument("--threads", nargs="+", action=IntList, metavar="N",
                        help="thread counts, e.g. 1 2 or 1,2 (default 1 2)")
    parser.add_argument("--modes", nargs="*", choices=("fwd", "fwdbwd"), default=["fwd", "fwdbwd"],
                        help="modes to time (none: only the --train-step measurement)")
    parser.add_argument("--samples", type=positive_int, help="timing samples per implementation")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-mixer-TIME)")
    parser.add_argument("--train-step", type=int, metavar="N", default=0,
                        help="also time a RepNeXt-M4 6DRepNet training step at batch N, 224x224, "
                             "2 threads, fused vs plain mixers (0: skip)")
    parser.add_argument("--profile", action="store_true",
                        help="with --train-step: also profile one step of each (torch.profiler) and "
                             "table where the time goes (mixer, dense convs, batch norm, ...)")


def run(args: argparse.Namespace) -> int:
    batches = args.batches or ([1] if args.quick else [1, 32])
    threads = args.threads or ([1] if args.quick else [1, 2])
    samples = args.samples or (3 if args.quick else 5)
    out = args.out or Path("runs") / time.strftime("bench-mixer-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)

    def progress(r: dict) -> None:
        cells = "  ".join(f"{k}={_fmt(v)}" for k, v in r["seconds"].items())
        print(f"{r['mixer']:>13} N={r['batch']:<3} {r['mode']:>6} t={r['threads']}  {cells}",
              flush=True)

    rows = run_suite(batches, threads, args.modes, samples, progress) if args.modes else []
    peaks = None
    if any(r["threads"] == 1 for r in rows):
        from pyhpe.bench.peak import measure_peaks

        peaks = measure_peaks(quick=True)
        add_bounds(rows, peaks)
    step = None
    if args.train_step:
        step = train_step_times(batch=args.train_step, samples=samples)
        if args.profile:
            step["profile"] = train_step_profile(batch=args.train_step)
    (out / "results.json").write_text(json.dumps(
        {"torch": torch.__version__, "peaks": peaks, "rows": rows, "train_step": step}, indent=1))
    table = markdown(rows)
    if peaks:
        from pyhpe.bench.peak import fraction_line

        table += ("\nBound: the least FLOPs and bytes of the call (`mixer_work`) at " + fraction_line(peaks)
                  + "; the larger of the two times, and which limit it is.\n")
    if step:
        table += (f"\nRepNeXt-M4 6DRepNet training step, N={args.train_step}, 224x224, 2 threads: "
                  f"fused {step['fused']:.2f} s, plain PyTorch {step['plain']:.2f} s "
                  f"({step['plain'] / step['fused']:.2f}x)\n")
        if "profile" in step:
            table += "\nWhere the step's time goes (torch.profiler, 2 threads):\n\n" + profile_markdown(step["profile"])
    (out / "table.md").write_text(table)
    print("\n" + table + f"\nrun directory: {out}")
    return 0


def train_step_times(model_name: str = "sixdrepnet_repnext_m4", batch: int = 32, size: int = 224,
                     threads: int = 2, samples: int = 3, device: str = "cpu") -> dict[str, float]:
    """Seconds per training step (forward, the task's loss, backward) with the fused mixer and
    with plain PyTorch mixers, same model and data, timed interleaved (on ``device``; CUDA
    steps are synchronised before each clock reading)."""
    from pyhpe.models import create_model
    from pyhpe.models.backbones.repnext import set_fused
    from pyhpe.ops.reference import gram_schmidt_ref
    from pyhpe.tasks import task_of

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(model_name).to(device).train()
    x = torch.randn(batch, 3, size, size, device=device)
    R_gt = gram_schmidt_ref(torch.randn(batch, 6)).to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    params = [p for p in model.parameters() if p.requires_grad]
    task, batch = task_of(model), {"image": x, "R": R_gt}

    def step(fused: bool):
        def run():
            set_fused(model, fused)
            loss = task.loss(task.forward(model, batch), batch)
            return torch.autograd.grad(loss, params)
        return run

    calls = {"fused": step(True), "plain": step(False)}
    for run in calls.values():  # one warm-up each (allocator, oneDNN primitive caches)
        run()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(samples):
        for name, run in calls.items():
            sync()
            t0 = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - t0)
    torch.set_num_threads(old)
    return {k: statistics.median(v) for k, v in times.items()}


def _op_category(name: str, shapes: list) -> str:
    """The part of a training step an operator belongs to (for train_step_profile)."""
    if "repnext_mixer" in name:
        return "fused mixer (ours)"
    if name.startswith("pyhpe"):
        return "rotation head and loss (ours)"
    if "conv" in name:
        weight = next((s for s in shapes if isinstance(s, list) and len(s) == 4 and s[1:2] == [1]), None)
        return "depthwise conv (PyTorch)" if weight else "dense conv (PyTorch/oneDNN)"
    if "batch_norm" in name:
        return "batch norm"
    if "gelu" in name:
        return "GELU"
    if any(k in name for k in ("add", "mul", "sum", "copy", "fill", "zero", "clone", "cat", "split", "slice",
                               "chunk", "narrow", "empty", "contiguous", "to_copy")):
        return "element-wise, copies, allocation"
    return "other"


def train_step_profile(model_name: str = "sixdrepnet_repnext_m4", batch: int = 32, size: int = 224,
                       threads: int = 2, steps: int = 2) -> dict[str, dict[str, float]]:
    """Where a training step's time goes, fused vs plain mixers: torch.profiler self CPU time
    (seconds per step, summed over the step's threads) by category (_op_category), after one
    warm-up step each. The categories the fused mixer does not touch (dense 1x1 convolutions,
    batch norm, GELU) bound how much faster the whole step can get from the mixer alone."""
    from torch.profiler import ProfilerActivity, profile

    from pyhpe.models import create_model
    from pyhpe.models.backbones.repnext import set_fused
    from pyhpe.ops.reference import gram_schmidt_ref
    from pyhpe.tasks import task_of

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(model_name).train()
    data = {"image": torch.randn(batch, 3, size, size), "R": gram_schmidt_ref(torch.randn(batch, 6))}
    params = [p for p in model.parameters() if p.requires_grad]
    task = task_of(model)
    out: dict[str, dict[str, float]] = {}
    try:
        for mode in ("fused", "plain"):
            set_fused(model, mode == "fused")

            def run():
                loss = task.loss(task.forward(model, data), data)
                return torch.autograd.grad(loss, params)

            run()  # warm-up
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                t0 = time.perf_counter()
                for _ in range(steps):
                    run()
                wall = (time.perf_counter() - t0) / steps
            cats: dict[str, float] = {}
            for e in prof.key_averages(group_by_input_shape=True):
                if e.self_cpu_time_total <= 0:
                    continue
                c = _op_category(e.key, list(e.input_shapes or []))
                cats[c] = cats.get(c, 0.0) + e.self_cpu_time_total / 1e6 / steps
            cats["wall (profiled)"] = wall
            out[mode] = cats
    finally:
        torch.set_num_threads(old)
    return out


def profile_markdown(prof: dict[str, dict[str, float]]) -> str:
    """The profile as a table, categories by plain-step time."""
    cats = sorted({c for v in prof.values() for c in v if c != "wall (profiled)"},
                  key=lambda c: -prof["plain"].get(c, 0.0))
    lines = ["| part of the step (self CPU time, s per step) | fused | plain | saved |", "|---|---|---|---|"]
    for c in cats + ["wall (profiled)"]:
        f, p = prof["fused"].get(c, 0.0), prof["plain"].get(c, 0.0)
        lines.append(f"| {c} | {f:.3f} | {p:.3f} | {p - f:+.3f} |")
    return "\n".join(lines) + "\n"
