"""Native rotation ops vs the official 6DRepNet code, a clean PyTorch reference and torch.compile.

For each op (gram_schmidt, geodesic loss, the fused 6D -> geodesic loss chain), batch size,
thread count and mode (forward; forward+backward) every implementation is timed interleaved in
this one process (see pyhpe.bench.timing). float32 throughout. Results go to a run directory:
results.json, table.md (the tables of docs/benchmarks.md) and speedup.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from pyhpe import ops
from pyhpe.bench.timing import copy_bandwidth, time_interleaved
from pyhpe.ops import reference as ref

OPS = ("gram_schmidt", "geodesic_loss", "sixd_geodesic_loss")
MODES = ("fwd", "fwdbwd")
FULL_SIZES = (64, 512, 4096, 65536)
QUICK_SIZES = (64, 4096)
IMPLS = ("ours", "kernel", "official", "clean", "compile")

# Bytes each op must read and write per sample (float32), for the bandwidth bound.
BYTES_PER_SAMPLE = {
    ("gram_schmidt", "fwd"): 4 * (6 + 9),
    ("gram_schmidt", "fwdbwd"): 4 * (6 + 9 + 9 + 6),
    ("geodesic_loss", "fwd"): 4 * (9 + 9),
    ("geodesic_loss", "fwdbwd"): 4 * (9 + 9 + 9),
    ("sixd_geodesic_loss", "fwd"): 4 * (6 + 9),
    ("sixd_geodesic_loss", "fwdbwd"): 4 * (6 + 9 + 6),
}


@dataclass
class Row:
    op: str
    mode: str
    batch: int
    threads: int
    seconds: dict[str, float]  # implementation -> median seconds per call


def _implementations(op: str, official) -> dict[str, Callable]:
    """Each implementation as f(x6, R_pred, R_gt) -> output (or loss)."""
    clean = {
        "gram_schmidt": lambda x, R, G: ref.gram_schmidt_ref(x),
        "geodesic_loss": lambda x, R, G: ref.geodesic_distance_ref(R, G).mean(),
        "sixd_geodesic_loss": lambda x, R, G: ref.sixd_geodesic_loss_ref(x, G),
    }[op]
    impls = {
        "ours": {
            "gram_schmidt": lambda x, R, G: ops.gram_schmidt(x),
            "geodesic_loss": lambda x, R, G: ops.geodesic_loss(R, G),
            "sixd_geodesic_loss": lambda x, R, G: ops.sixd_geodesic_loss(x, G),
        }[op],
        "clean": clean,
        "compile": torch.compile(clean, fullgraph=True, dynamic=False),
    }
    if official is not None:
        gs = official.utils.compute_rotation_matrix_from_ortho6d
        geo = official.loss.GeodesicLoss()
        impls["official"] = {
            "gram_schmidt": lambda x, R, G: gs(x),
            "geodesic_loss": lambda x, R, G: geo(G, R),
            "sixd_geodesic_loss": lambda x, R, G: geo(G, gs(x)),
        }[op]
    return impls


def _inputs(op: str, batch: int, grad: bool, device: str = "cpu"):
    g = torch.Generator().manual_seed(batch)
    x6 = torch.randn(batch, 6, generator=g).to(device)
    R_pred = ref.gram_schmidt_ref(torch.randn(batch, 6, generator=g)).to(device)
    R_gt = ref.gram_schmidt_ref(torch.randn(batch, 6, generator=g)).to(device)
    leaf = x6 if op != "geodesic_loss" else R_pred
    leaf.requires_grad_(grad)
    return x6, R_pred, R_gt, leaf


def _callable(fn: Callable, op: str, mode: str, batch: int,
              device: str = "cpu") -> Callable[[], object]:
    x6, R_pred, R_gt, leaf = _inputs(op, batch, grad=mode == "fwdbwd", device=device)
    if mode == "fwd":
        def forward():
            with torch.no_grad():
                return fn(x6, R_pred, R_gt)
        return forward

    def forward_backward():
        out = fn(x6, R_pred, R_gt)
        return torch.autograd.grad(out.sum() if out.dim() else out, leaf)

    return forward_backward


def _kernel_callable(op: str, mode: str, batch: int) -> Callable[[], object] | None:
    """The native kernel alone, for the fused loss: ``pyhpe._C.sixd_geodesic_loss`` on
    DLPack capsules, with a preallocated gradient (forward+backward) or none (forward), no
    autograd, no allocation: what the one-pass kernel costs without the Python around it."""
    if op != "sixd_geodesic_loss":
        return None
    from torch.utils.dlpack import to_dlpack

    from pyhpe import _C

    x6, _, R_gt, _ = _inputs(op, batch, grad=False)
    grad = torch.empty_like(x6) if mode == "fwdbwd" else None

    def call():
        return _C.sixd_geodesic_loss(to_dlpack(x6), to_dlpack(R_gt),
                                     None if grad is None else to_dlpack(grad), True, 1e-7,
                                     torch.get_num_threads(), 0)

    return call


def run_suite(sizes, threads_list, samples: int, impls: tuple[str, ...], progress=None,
              ops_: tuple[str, ...] = OPS) -> list[Row]:
    try:
        from pyhpe.official import load_official_functions

        official = load_official_functions() if "official" in impls else None
    except ModuleNotFoundError:
        official = None
    rows = []
    cases = [(op, mode, b, t) for op in ops_ for mode in MODES for b in sizes for t in threads_list]
    old_threads = torch.get_num_threads()
    for op, mode, batch, threads in cases:
        torch.set_num_threads(threads)
        torch._dynamo.reset()  # one compiled graph per case; no recompile-limit build-up
        fns = {name: f for name, f in _implementations(op, official).items() if name in impls}
        calls = {name: _callable(f, op, mode, batch) for name, f in fns.items()}
        kernel = _kernel_callable(op, mode, batch) if "kernel" in impls else None
        if kernel is not None:
            calls = {"ours": calls.pop("ours"), "kernel": kernel, **calls} if "ours" in calls \
                else {"kernel": kernel, **calls}
        seconds = time_interleaved(calls, samples, clock="thread" if threads == 1 else "wall")
        rows.append(Row(op, mode, batch, threads, seconds))
        if progress:
            progress(rows[-1])
    torch.set_num_threads(old_threads)
    return rows


def _fmt(s: float) -> str:
    us = s * 1e6
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} µs"


def markdown_tables(rows: list[Row], bandwidth: float) -> str:
    impls = [i for i in IMPLS if any(i in r.seconds for r in rows)]
    out = []
    for op in OPS:
        for mode in MODES:
            sel = [r for r in rows if r.op == op and r.mode == mode]
            if not sel:
                continue
            out.append(f"\n**{op} — {'forward' if mode == 'fwd' else 'forward+backward'}** "
                       "(median per call; × = speed-up of ours over that column)\n")
            head = "| B | threads | " + " | ".join(impls) + " | bandwidth bound |"
            out += [head, "|" + "---|" * (len(impls) + 3)]
            for r in sel:
                ours = r.seconds.get("ours")
                cells = []
                for i in impls:
                    if i not in r.seconds:
                        cells.append("–")
                    elif i == "ours" or ours is None:
                        cells.append(_fmt(r.seconds[i]))
                    else:
                        cells.append(f"{_fmt(r.seconds[i])} ({r.seconds[i] / ours:.1f}×)")
                bound = BYTES_PER_SAMPLE[(op, mode)] * r.batch / bandwidth
                ratio = f" (ours {ours / bound:.1f}× it" if ours else ""
                if ours and "kernel" in r.seconds:
                    ratio += f", kernel {r.seconds['kernel'] / bound:.1f}×"
                ratio += ")" if ours else ""
                out.append(f"| {r.batch} | {r.threads} | " + " | ".join(cells)
                           + f" | {_fmt(bound)}{ratio} |")
    return "\n".join(out) + "\n"


def plot_speedups(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(OPS), figsize=(5 * len(OPS), 4), sharey=True)
    for ax, op in zip(axes, OPS):
        for impl, style in (("official", "o-"), ("clean", "s--"), ("compile", "^:")):
            for mode, color in (("fwd", "tab:blue"), ("fwdbwd", "tab:red")):
                sel = [r for r in rows if r.op == op and r.mode == mode and r.threads == 1
                       and impl in r.seconds and "ours" in r.seconds]
                if sel:
                    ax.plot([r.batch for r in sel],
                            [r.seconds[impl] / r.seconds["ours"] for r in sel], style,
                            color=color, label=f"vs {impl} ({mode})")
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{op} (1 thread)")
        ax.set_xlabel("batch size")
    axes[0].set_ylabel("speed-up of pyhpe (×)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import IntList, add_renamed, positive_int

    parser.add_argument("--quick", action="store_true",
                        help=f"batch sizes {QUICK_SIZES}, fewer samples, no torch.compile column")
    add_renamed(parser, "--batch-sizes", old="--sizes", dest="sizes", nargs="+", action=IntList,
                metavar="N", help=f"batch sizes, e.g. 1 64 or 1,64 (default {' '.join(map(str, FULL_SIZES))})")
    parser.add_argument("--threads", nargs="+", action=IntList, default=[1, 2], metavar="N",
                        help="thread counts to measure, e.g. 1 2 or 1,2 (default: 1 2)")
    parser.add_argument("--samples", type=positive_int, help="timing samples per implementation")
    parser.add_argument("--impls", nargs="+", choices=IMPLS,
                        help="implementations to compare (kernel: the fused loss's native kernel "
                             "alone, sixd_geodesic_loss only)")
    parser.add_argument("--ops", nargs="+", choices=OPS, help="ops to time (default: all)")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-kernels-TIME)")


def run(args: argparse.Namespace) -> int:
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    samples = args.samples or (7 if args.quick else 25)
    impls = tuple(args.impls or (("ours", "official", "clean") if args.quick else IMPLS))
    out = args.out or Path("runs") / time.strftime("bench-kernels-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    from pyhpe.official import official_root

    if "official" in impls and official_root() is None:
        print("note: the official 6DRepNet package is not installed; its column is left out "
              "(pip install --no-deps sixdrepnet==0.1.6)")

    def progress(r: Row) -> None:
        cells = "  ".join(f"{k}={_fmt(v)}" for k, v in r.seconds.items())
        print(f"{r.op:>19} {r.mode:>6} B={r.batch:<6} t={r.threads}  {cells}", flush=True)

    bandwidth = copy_bandwidth()
    ops_ = tuple(args.ops or OPS)
    rows = run_suite(sizes, args.threads, samples, impls, progress, ops_)
    from pyhpe import _C

    meta = {
        "command": "pyhpe bench kernels " + " ".join(
            (["--quick"] if args.quick else []) + (["--threads", *map(str, args.threads)]
                                                   if args.threads != [1, 2] else [])
            + (["--ops", *ops_] if ops_ != OPS else [])
            + (["--batch-sizes", *map(str, sizes)] if args.sizes else [])
            + (["--impls", *impls] if args.impls else [])),
        "torch": torch.__version__,
        "build": _C.build_info(),
        "machine": platform.processor() or platform.machine(),
        "copy_bandwidth_GBps": bandwidth / 1e9,
        "samples": samples,
    }
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]},
                                                 indent=1))
    table = markdown_tables(rows, bandwidth)
    header = ("Times: median per call; 1 thread: CPU time of the calling thread, 2 threads: wall "
              "clock (pyhpe.bench.timing).\n"
              f"Measured with `{meta['command'].strip()}`; torch {torch.__version__}, "
              f"kernels isa={meta['build']['cpu_isa']}; copy bandwidth "
              f"{bandwidth / 1e9:.1f} GB/s (read+write, 1 thread).\n")
    (out / "table.md").write_text(header + table)
    plot_speedups(rows, out / "speedup.png")
    print("\n" + header + table)
    print(f"run directory: {out}")
    return 0
