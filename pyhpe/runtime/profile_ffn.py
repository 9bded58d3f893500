"""Per-stage time of RepNeXt-M4's channel MLPs before and after ``PyhpeRepNeXtFFN``, from
``pyhpe-profile --layers --json`` on the mixer-only fused pair and on the full fused pair.

    python -m pyhpe.runtime.profile_ffn --pyhpe-profile build/runtime-host/pyhpe-profile \\
        --models-dir build/bench-fused-models [--threads 1] [--rounds 20]

The models are the ones ``python -m pyhpe.runtime.bench_fused --models-dir DIR`` leaves in DIR
(``<M4>.mixer.ncnn.param`` and ``<M4>.fused.ncnn.param``). "Before" sums, per FFN layer of the
fused pair, the ncnn layers it replaced (1x1 Convolution, GELU, 1x1 Convolution, BinaryOp add, and
the Split a downsample block drops), each timed alone with the layout conversion ncnn does in
front of it; "after" is the FFN layer. Also the whole-model line and per-type sums of both runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections import defaultdict
from pathlib import Path

from pyhpe.export.ncnn_ffn import LAYER_TYPE
from pyhpe.export.ncnn_graph import parse_param

M4 = "sixdrepnet_repnext_m4"
SHAPES = ("64x56x56", "128x28x28", "256x14x14", "512x7x7")


def profile(exe: Path, param: Path, threads: int, rounds: int) -> tuple[str, dict[str, tuple[str, str, float]]]:
    """(summary lines, {layer name: (type, output shape, ms)}) of one ``pyhpe-profile --layers --json`` run."""
    out = subprocess.run([str(exe), str(param), "--threads", str(threads), "--rounds", str(rounds), "--layers", "--json"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    r = json.loads(out)
    rows = {layer["name"]: (layer["type"], layer["shape"], layer["ms"]) for layer in r["layers"]}
    summary = [f"whole forward min {r['whole_min_ms']:.3f} ms, sum of per-layer minima {r['layers_sum_ms']:.3f} ms",
               "| layer type | layers | ms (sum of minima) |", "|---|---|---|",
               *(f"| {t['type']} | {t['count']} | {t['ms']:.3f} |" for t in r["types"])]
    return "\n".join(summary), rows


def replaced_layers(plain_param: Path, add_name: str) -> list[str]:
    """Names of the layers one FFN replaced: add, conv2, GELU, conv1 (+ a two-way Split of h and r)."""
    layers = parse_param(plain_param.read_text())
    producer = {t: layer for layer in layers for t in layer.tops}
    add = next(layer for layer in layers if layer.name == add_name)
    conv2 = next(producer[b] for b in add.bottoms if producer[b].type == "Convolution")
    gelu = producer[conv2.bottoms[0]]
    conv1 = producer[gelu.bottoms[0]]
    names = [add.name, conv2.name, gelu.name, conv1.name]
    split = producer.get(conv1.bottoms[0])
    r = [b for b in add.bottoms if b != conv2.tops[0]]
    if split is not None and split.type == "Split" and sorted(split.tops) == sorted([conv1.bottoms[0], *r]):
        names.append(split.name)
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyhpe-profile", default="build/runtime-host/pyhpe-profile")
    ap.add_argument("--models-dir", default="build/bench-fused-models")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args(argv)
    exe, d = Path(args.pyhpe_profile), Path(args.models_dir)
    mixer, fused = d / f"{M4}.mixer.ncnn.param", d / f"{M4}.fused.ncnn.param"
    head_b, before = profile(exe, mixer, args.threads, args.rounds)
    head_a, after = profile(exe, fused, args.threads, args.rounds)
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for name, (typ, shape, ms) in after.items():
        if typ != LAYER_TYPE:
            continue
        s = sums[shape]
        s[0] += 1
        s[1] += sum(before[n][2] for n in replaced_layers(mixer, name.removesuffix("_ffn")))
        s[2] += ms
    print(f"# {args.threads} thread(s), {args.rounds} rounds, min ms per layer summed\n")
    print("| FFN output (C×H×W) | blocks | before: conv + GELU + conv + add (+ Split) | after: PyhpeRepNeXtFFN | × |")
    print("|---|---|---|---|---|")
    total = [0, 0.0, 0.0]
    for shape in [*SHAPES, *sorted(set(sums) - set(SHAPES))]:
        if shape in sums:
            n, b, a = sums[shape]
            total = [total[0] + n, total[1] + b, total[2] + a]
            print(f"| {shape.replace('x', '×')} | {n} | {b:.2f} | {a:.2f} | {b / a:.2f} |")
    print(f"| all | {total[0]} | {total[1]:.2f} | {total[2]:.2f} | {total[1] / total[2]:.2f} |")
    print(f"\nbefore ({mixer.name}):\n{head_b}\n\nafter ({fused.name}):\n{head_a}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
