"""Per-stage time of RepNeXt-M4's channel MLPs before and after ``PyhpeRepNeXtFFN``, from
``pyhpe-profile --layers --json`` on the mixer-only fused pair and on the full fused pair.

    pyhpe bench profile-ffn --pyhpe-profile build/runtime-host/pyhpe-profile \\
        --models-dir build/bench-fused-models [--threads 1] [--rounds 20]

The models are the ones ``pyhpe bench fused --models-dir DIR`` leaves in DIR
(``<M4>.mixer.ncnn.param`` and ``<M4>.fused.ncnn.param``). "Before" sums, per FFN layer of the
fused pair, the ncnn layers it replaced (1x1 Convolution, GELU, 1x1 Convolution, BinaryOp add, and
the Split a downsample block drops), each timed alone with the layout conversion ncnn does in
front of it; "after" is the FFN layer. Also the whole-model line and per-type sums of both runs.
Writes ``results.json``, ``table.md`` (with the CPU model and the load average) and ``ffn.png``
(before and after per stage) to the run directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

from pyhpe.export.ncnn_ffn import LAYER_TYPE
from pyhpe.export.ncnn_graph import parse_param

M4 = "sixdrepnet_repnext_m4"
SHAPES = ("64x56x56", "128x28x28", "256x14x14", "512x7x7")


def profile(exe: Path, param: Path, threads: int, rounds: int) -> tuple[str, dict[str, tuple[str, str, float]]]:
    """(summary lines, {layer name: (type, output shape, ms)}) of one ``pyhpe-profile --layers --json`` run."""
    proc = subprocess.run([str(exe), str(param), "--threads", str(threads), "--rounds", str(rounds), "--layers",
                           "--json"], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{exe.name} failed on {param.name}: {proc.stderr.strip() or proc.returncode}")
    r = json.loads(proc.stdout)
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


def stage_sums(mixer: Path, before: dict, after: dict) -> dict[str, list]:
    """{FFN output shape: [blocks, before ms, after ms]}, the known stages first, then "all"."""
    sums: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for name, (typ, shape, ms) in after.items():
        if typ != LAYER_TYPE:
            continue
        s = sums[shape]
        s[0] += 1
        s[1] += sum(before[n][2] for n in replaced_layers(mixer, name.removesuffix("_ffn")))
        s[2] += ms
    stages = {shape: sums[shape] for shape in [*SHAPES, *sorted(set(sums) - set(SHAPES))] if shape in sums}
    stages["all"] = [sum(v[i] for v in stages.values()) for i in range(3)]
    return stages


def format_table(stages: dict[str, list]) -> str:
    lines = ["| FFN output (C×H×W) | blocks | before: conv + GELU + conv + add (+ Split) | after: PyhpeRepNeXtFFN | × |",
             "|---|---|---|---|---|"]
    for shape, (n, b, a) in stages.items():
        lines.append(f"| {shape.replace('x', '×')} | {n} | {b:.2f} | {a:.2f} | {b / a:.2f} |")
    return "\n".join(lines)


DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import positive_int

    parser.add_argument("--pyhpe-profile", type=Path, default=Path("build/runtime-host/pyhpe-profile"),
                        help="the C++ runtime's pyhpe-profile (default build/runtime-host/pyhpe-profile)")
    parser.add_argument("--models-dir", type=Path, default=Path("build/bench-fused-models"),
                        help="where `pyhpe bench fused --models-dir` left the fused pairs")
    parser.add_argument("--threads", type=positive_int, default=1, help="ncnn threads (default 1)")
    parser.add_argument("--rounds", type=positive_int, default=20, help="profiling rounds (default 20)")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-profile-ffn-TIME)")


def run(args: argparse.Namespace) -> int:
    from pyhpe.bench.report import bar_chart, machine, machine_line, run_dir

    exe, d = args.pyhpe_profile, args.models_dir
    mixer, fused = d / f"{M4}.mixer.ncnn.param", d / f"{M4}.fused.ncnn.param"
    if not exe.is_file():
        raise SystemExit(f"{exe} not found (build csrc/runtime first)")
    for param in (mixer, fused):
        if not param.is_file():
            raise FileNotFoundError(f"{param} not found (`pyhpe bench fused --models-dir {d}` writes it)")
    out = run_dir(args.out, "profile-ffn")
    env = machine()
    head_b, before = profile(exe, mixer, args.threads, args.rounds)
    head_a, after = profile(exe, fused, args.threads, args.rounds)
    env["load_after"] = os.getloadavg()[0]
    stages = stage_sums(mixer, before, after)
    (out / "results.json").write_text(json.dumps(
        {"env": env, "threads": args.threads, "rounds": args.rounds,
         "stages": {k: dict(zip(("blocks", "before_ms", "after_ms"), v)) for k, v in stages.items()},
         "before": before, "after": after}, indent=1))
    text = (f"# {args.threads} thread(s), {args.rounds} rounds, min ms per layer summed; {machine_line(env)}\n\n"
            f"{format_table(stages)}\n\nbefore ({mixer.name}):\n{head_b}\n\nafter ({fused.name}):\n{head_a}\n")
    (out / "table.md").write_text(text)
    bar_chart({k.replace("x", "×"): {"before (ncnn layers)": v[1], "after (PyhpeRepNeXtFFN)": v[2]}
               for k, v in stages.items() if k != "all"},
              out / "ffn.png", title=f"RepNeXt-M4 channel MLPs per stage, {args.threads} thread(s)", ylabel="ms")
    print(text + f"run directory: {out}")
    return 0
