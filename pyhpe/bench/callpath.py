"""Overhead of each layer of the call path at a small batch (gram_schmidt, B=64, 1 thread).

Times, in CPU time of this thread (robust on a shared machine), the native call on tensors and
on DLPack capsules, the same kernel behind an op registered with ``torch.library.custom_op``
(defined here only for the comparison), the registered ``torch.ops.pyhpe.gram_schmidt`` and the
public ``pyhpe.ops.gram_schmidt``, with and without autograd.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.dlpack import to_dlpack

from pyhpe import ops


def _cpu_time_per_call(fn, calls: int, samples: int = 9) -> float:
    for _ in range(calls // 10 + 10):
        fn()
    per_call = []
    for _ in range(samples):
        t0 = time.thread_time()
        for _ in range(calls):
            fn()
        per_call.append((time.thread_time() - t0) / calls)
    return statistics.median(per_call)


def _custom_op_variant():
    from pyhpe import _C

    @torch.library.custom_op("pyhpe_bench::gram_schmidt", mutates_args=())
    def gs(x6: torch.Tensor) -> torch.Tensor:
        out = x6.new_empty((x6.shape[0], 3, 3))
        _C.gram_schmidt(to_dlpack(x6), to_dlpack(out), 1, 0)
        return out

    gs.register_fake(lambda x6: x6.new_empty((x6.shape[0], 3, 3)))
    return gs


def measure(batch: int = 64, calls: int = 2000) -> dict[str, float]:
    from pyhpe import _C  # imported here so that `pyhpe bench --help` works without a build

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    x = torch.randn(batch, 6)
    out = torch.empty(batch, 3, 3)
    xg = x.clone().requires_grad_()
    custom = _custom_op_variant()
    registered = torch.ops.pyhpe.gram_schmidt.default
    rows = {
        "_C.gram_schmidt(tensor, tensor) (exports via __dlpack__)": lambda: _C.gram_schmidt(x, out),
        "_C.gram_schmidt(capsule, capsule)": lambda: _C.gram_schmidt(to_dlpack(x), to_dlpack(out)),
        "torch.library.custom_op around the same kernel": lambda: custom(x),
        "torch.ops.pyhpe.gram_schmidt (Library + Python Autograd kernel)": lambda: registered(x),
        "pyhpe.ops.gram_schmidt (public, no grad needed)": lambda: ops.gram_schmidt(x),
        "pyhpe.ops.gram_schmidt, forward+backward": lambda: torch.autograd.grad(
            ops.gram_schmidt(xg).sum(), xg),
        "floor: autograd.grad of x.clone().sum()": lambda: torch.autograd.grad(xg.clone().sum(), xg),
    }
    result = {name: _cpu_time_per_call(fn, calls) for name, fn in rows.items()}
    torch.set_num_threads(old)
    return result


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import add_renamed, positive_int

    add_renamed(parser, "--batch-size", old="--batch", dest="batch", type=positive_int, default=64,
                help="batch size (default 64)")
    parser.add_argument("--calls", type=positive_int, default=2000, help="calls per timing sample")


def run(args: argparse.Namespace) -> int:
    result = measure(args.batch, args.calls)
    print(f"| path (B={args.batch}, 1 thread, median CPU time) | µs per call |\n|---|---|")
    for name, seconds in result.items():
        print(f"| {name} | {seconds * 1e6:.1f} |")
    return 0
