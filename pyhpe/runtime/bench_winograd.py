"""How much of an ncnn model's speed comes from Winograd 3x3 convolutions: each model timed with
``opt.use_winograd_convolution`` on and off (ncnn Python package, fp32, interleaved rounds).

    python -m pyhpe.runtime.bench_winograd build/export/repvgg_b1g2.ncnn.param build/export/repnext_m4.ncnn.param
"""

from __future__ import annotations

import argparse
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    import ncnn
    import numpy as np

    from pyhpe.runtime.meta import read_meta

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("params", nargs="+", help=".ncnn.param files (the .bin beside each)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=12)
    args = ap.parse_args(argv)
    nets = {}
    for param in args.params:
        meta = read_meta(param)
        size = meta.input_size if meta else 224
        for wino in (True, False):
            net = ncnn.Net()
            o = net.opt
            o.num_threads = args.threads
            o.use_fp16_storage = o.use_fp16_packed = o.use_fp16_arithmetic = False
            o.use_winograd_convolution = wino
            net.load_param(param)
            net.load_model(param[: -len(".param")] + ".bin")
            nets[(param, wino)] = (net, meta.input_name if meta else "in0", meta.output_name if meta else "out0", size)
    x = {s: np.random.default_rng(0).standard_normal((3, s, s)).astype(np.float32)
         for *_, s in nets.values()}
    times = {k: [] for k in nets}
    for _ in range(args.rounds):
        for k, (net, i, o, s) in nets.items():
            ex = net.create_extractor()
            ex.input(i, ncnn.Mat(x[s]).clone())
            t0 = time.perf_counter()
            ex.extract(o)
            times[k].append((time.perf_counter() - t0) * 1e3)
    for (param, wino), v in times.items():
        print(f"{param} winograd={'on ' if wino else 'off'} threads={args.threads} "
              f"min {min(v):.1f} ms median {statistics.median(v):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
