"""The CUDA kernels against PyTorch on the GPU: rotation ops, the fused mixer, a training step.

- Rotation ops (gram_schmidt, geodesic loss, the fused 6D -> geodesic loss chain), forward and
  forward+backward, float32, at several batch sizes: ours vs the clean PyTorch reference run
  eagerly and compiled with torch.compile, and each against the op's memory bound (bytes it
  must move at the device's measured copy bandwidth).
- The fused RepNeXt mixer for every RepNeXt-M4 stage at N=32: ours vs the PyTorch training
  form on cuDNN (one depthwise conv per branch) and one conv per merged group.
- A RepNeXt-M4 6DRepNet training step (N=32, 224x224): fused mixers vs plain PyTorch mixers.

Times are wall clock with the device synchronised before each reading (pyhpe.bench.timing),
implementations interleaved. Writes results.json and table.md to the run directory. Without a
CUDA device (or a build without CUDA kernels) it says so and exits 0 having measured nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from pyhpe.bench import kernels, mixer
from pyhpe.bench.timing import time_interleaved

ROTATION_SIZES = (4096, 1 << 20)
QUICK_ROTATION_SIZES = (4096,)


def cuda_unavailable_reason() -> str | None:
    """Why the CUDA benchmarks cannot run here (None when they can)."""
    from pyhpe import _C

    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    if not _C.build_info()["cuda"]:
        return "pyhpe._C was built without CUDA kernels (rebuild with PYHPE_CUDA=ON)"
    return None


def device_bandwidth(nbytes: int = 1 << 30, samples: int = 10) -> float:
    """Bytes/s of a device-to-device copy (read + write counted), the memory yardstick."""
    src = torch.ones(nbytes // 4, device="cuda")
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(samples):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        dst.copy_(src)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def _runnable(calls: dict, failed: dict) -> dict:
    """The calls that run once without an error; the others' errors go to ``failed``."""
    ok = {}
    for name, fn in calls.items():
        try:
            fn()
            torch.cuda.synchronize()
            ok[name] = fn
        except Exception as exc:  # a broken implementation is reported, the others go on
            failed[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return ok


def _graphed(fn, failed: dict, name: str):
    """``fn`` captured in a CUDA graph, as a replay callable: its GPU time without the host's
    launch and dispatch overhead (None, with the reason in ``failed``, if capture fails)."""
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        graph.replay()
        torch.cuda.synchronize()
        return graph.replay
    except Exception as exc:
        failed[f"{name} (graph)"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        torch.cuda.synchronize()
        return None


def rotation_rows(sizes, samples: int, progress) -> list[dict]:
    """Per (op, mode, batch): the time per call (host + device) and the GPU time alone (CUDA
    graph replay) of ours, eager PyTorch and torch.compile."""
    rows = []
    for op in kernels.OPS:
        for mode in kernels.MODES:
            for batch in sizes:
                torch._dynamo.reset()
                fns = kernels._implementations(op, None)
                failed: dict[str, str] = {}
                calls = _runnable({k: kernels._callable(fns[k], op, mode, batch, device="cuda")
                                   for k in ("ours", "clean", "compile")}, failed)
                seconds = time_interleaved(calls, samples, target_s=0.02,
                                           sync=torch.cuda.synchronize)
                replays = {k: r for k, f in calls.items()
                           if (r := _graphed(f, failed, k)) is not None}
                graph = time_interleaved(replays, samples, target_s=0.02,
                                         sync=torch.cuda.synchronize)
                rows.append(dict(op=op, mode=mode, batch=batch, seconds=seconds, graph=graph,
                                 failed=failed))
                progress(f"{op:>19} {mode:>6} B={batch:<8}", seconds)
                progress(f"{'(GPU time)':>19} {mode:>6} B={batch:<8}", graph)
                for k, why in failed.items():
                    print(f"    {k} failed: {why}", flush=True)
    return rows


def mixer_rows(batch: int, samples: int, progress) -> list[dict]:
    rows = []
    for name, channels, size, downsample in mixer.M4_MIXERS:
        module = mixer.build_mixer(channels, downsample).cuda()
        x = torch.randn(batch, channels, size, size, device="cuda")
        for mode in ("fwd", "fwdbwd"):
            xin = x.clone().requires_grad_(mode == "fwdbwd")
            failed: dict[str, str] = {}
            calls = _runnable({k: mixer._call(f, xin, module, mode) for k, f in
                               mixer.implementations(module, downsample, mode).items()}, failed)
            seconds = time_interleaved(calls, samples, target_s=0.02, sync=torch.cuda.synchronize)
            rows.append(dict(mixer=name, channels=channels, size=size, batch=batch, mode=mode,
                             seconds=seconds, failed=failed))
            progress(f"{name:>13} N={batch:<3} {mode:>6}", seconds)
            for k, why in failed.items():
                print(f"    {k} failed: {why}", flush=True)
    return rows


def _fmt(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} µs"


def markdown(meta: dict, rot: list[dict], mix: list[dict], step: dict | None) -> str:
    bw = meta["copy_bandwidth_GBps"] * 1e9
    out = [f"GPU: {meta['gpu']} (sm_{meta['capability']}), torch {meta['torch']}, pyhpe CUDA "
           f"arches {meta['cuda_arches']}; device copy bandwidth {bw / 1e9:.0f} GB/s. Wall clock, "
           "device synchronised, median per call; × = the column's time / ours.", ""]
    if rot:
        out += ["Rotation ops: per call (host dispatch + launch + GPU) / GPU time alone "
                "(CUDA graph replay); – where an implementation failed (results.json says why).",
                "",
                "| op | mode | B | ours | eager | torch.compile | memory bound (ours GPU ×) |",
                "|---|---|---|---|---|---|---|"]
        for r in rot:
            cells = []
            for k in ("ours", "clean", "compile"):
                parts = []
                for timing in (r["seconds"], r["graph"]):
                    t, base = timing.get(k), timing.get("ours")
                    parts.append("–" if t is None else _fmt(t) + (
                        f" ({t / base:.1f}×)" if k != "ours" and base else ""))
                cells.append(" / ".join(parts))
            bound = kernels.BYTES_PER_SAMPLE[(r["op"], r["mode"])] * r["batch"] / bw
            gpu = r["graph"].get("ours")
            ratio = f" ({gpu / bound:.0f}×)" if gpu else ""
            out.append(f"| {r['op']} | {r['mode']} | {r['batch']} | " + " | ".join(cells)
                       + f" | {_fmt(bound)}{ratio} |")
        out.append("")
    if mix:
        out += ["| mixer | C×H×W | N | mode | ours | torch merged | torch branches (cuDNN) |",
                "|---|---|---|---|---|---|---|"]
        for r in mix:
            s = r["seconds"]
            cells = ["–" if k not in s else _fmt(s[k]) + (
                f" ({s[k] / s['ours']:.2f}×)" if k != "ours" and "ours" in s else "")
                for k in ("ours", "torch_merged", "torch_branches")]
            out.append(f"| {r['mixer']} | {r['channels']}×{r['size']}×{r['size']} | {r['batch']} "
                       f"| {r['mode']} | " + " | ".join(cells) + " |")
        out.append("")
    if step:
        out.append(f"RepNeXt-M4 6DRepNet training step, N={step['batch']}, 224×224, float32: fused "
                   f"{_fmt(step['fused'])}, plain PyTorch {_fmt(step['plain'])} "
                   f"({step['plain'] / step['fused']:.2f}×)")
    return "\n".join(out) + "\n"


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import positive_int

    parser.add_argument("--quick", action="store_true",
                        help=f"batch {QUICK_ROTATION_SIZES[0]} only for the rotation ops, "
                             "3 samples, the training step at N=8")
    parser.add_argument("--samples", type=positive_int, help="timing samples per implementation")
    parser.add_argument("--parts", nargs="+", choices=("rotation", "mixer", "train-step"),
                        default=["rotation", "mixer", "train-step"], help="what to measure")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-cuda-TIME)")


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / time.strftime("bench-cuda-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    reason = cuda_unavailable_reason()
    if reason:
        print(f"pyhpe bench cuda: skipped: {reason}")
        return 0
    from pyhpe import _C

    samples = args.samples or (3 if args.quick else 5)

    def progress(label: str, seconds: dict[str, float]) -> None:
        print(f"{label}  " + "  ".join(f"{k}={_fmt(v)}" for k, v in seconds.items()), flush=True)

    props = torch.cuda.get_device_properties(0)
    meta = dict(gpu=props.name, capability=f"{props.major}{props.minor}", torch=torch.__version__,
                cuda_arches=_C.build_info()["cuda_arches"],
                copy_bandwidth_GBps=device_bandwidth() / 1e9, samples=samples)
    print(f"{meta['gpu']}: copy bandwidth {meta['copy_bandwidth_GBps']:.0f} GB/s", flush=True)
    torch.backends.cudnn.benchmark = True
    rot = (rotation_rows(QUICK_ROTATION_SIZES if args.quick else ROTATION_SIZES, samples, progress)
           if "rotation" in args.parts else [])
    mix = mixer_rows(32, samples, progress) if "mixer" in args.parts else []
    step = None
    if "train-step" in args.parts:
        n = 8 if args.quick else 32
        try:
            step = dict(batch=n, **mixer.train_step_times(batch=n, samples=samples, device="cuda"))
            progress(f"train step N={n}", {k: v for k, v in step.items() if k != "batch"})
        except Exception as exc:
            print(f"train step failed: {type(exc).__name__}: {exc}", flush=True)
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "rotation": rot, "mixer": mix, "train_step": step}, indent=1))
    table = markdown(meta, rot, mix, step)
    (out / "table.md").write_text(table)
    print("\n" + table + f"\nrun directory: {out}")
    return 0
