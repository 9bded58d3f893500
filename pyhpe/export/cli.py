"""``pyhpe export``: a checkpoint -> deploy form -> ONNX or ncnn, verified against PyTorch.

    pyhpe export --checkpoint run/model.safetensors --format onnx -o build/export/m4.onnx
    pyhpe export --checkpoint 6DRepNet_300W_LP_AFLW2000.pth --model sixdrepnet_repvgg_b1g2 \\
        --format ncnn -o build/export/b1g2.ncnn.param
    pyhpe export --model sixdrepnet_repnext_m4 --random-init --format ncnn   # benchmarking only

Exit code 0 only when the export passed verification (fp32 tolerance 1e-4 on the raw output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="pyhpe model file (.safetensors + .json sidecar) or an "
                        "official/state_dict checkpoint (.pth/.tar/.pt, needs --model)")
    parser.add_argument("--model", help="registered model name (required for non-pyhpe checkpoints)")
    parser.add_argument("--random-init", action="store_true",
                        help="no checkpoint: random weights (latency and pipeline tests only)")
    parser.add_argument("--format", choices=("onnx", "ncnn"), default="onnx")
    from pyhpe.cli import add_renamed

    add_renamed(parser, "--out", "-o", old="--output", dest="output", metavar="PATH",
                help="output file (.onnx or .ncnn.param); default build/export/<model>.<ext>")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--output-6d", dest="output_kind", action="store_const", const="6d",
                      help="graph output: the raw 6D vector (default; Gram-Schmidt natively after)")
    kind.add_argument("--output-matrix", dest="output_kind", action="store_const", const="matrix",
                      help="graph output: the rotation matrix (Gram-Schmidt in the graph)")
    kind.add_argument("--deploy-kind", dest="output_kind", metavar="KIND",
                      help="graph outputs by the task's name for them (rotation: 6d, matrix)")
    parser.set_defaults(output_kind=None)  # None: the task's default deploy outputs
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"),
                        help="ncnn: the precision the model is meant to run in, recorded in the "
                        "sidecar (the C runtime's default; docs/deployment.md 'Precision'); fp16 also "
                        "stores fp16 weights, bf16 keeps fp32 weights (ncnn has no bf16 weight "
                        "format). Default fp32")
    parser.add_argument("--fp16", action="store_true", help="ncnn: store weights in fp16 (= --precision fp16)")
    parser.add_argument("--no-fused", dest="fused", action="store_false",
                        help="ncnn: skip the fused-mixer pair <stem>.fused.ncnn.param/.bin (RepNeXt "
                        "models; C++ runtime only)")
    parser.add_argument("--dynamic-batch", action="store_true", help="ONNX: dynamic batch axis")
    parser.add_argument("--input-size", type=int, help="input side (default: the checkpoint's)")
    parser.add_argument("--tolerance", type=float,
                        help="max abs error allowed (default 1e-4; 5e-2 with --fp16)")


def load(args: argparse.Namespace):
    """(model, card) from the arguments: any weights file pyhpe.models.load reads, or a random
    model for ``--model NAME --random-init``."""
    from pyhpe.models import create_model, list_models
    from pyhpe.models import load as load_weights
    from pyhpe.tasks import task_of

    if args.checkpoint:
        model, card = load_weights(args.checkpoint, args.model, input_size=args.input_size)
    elif not (args.model and args.random_init):
        raise ValueError("give --checkpoint (or --model NAME --random-init for random weights)")
    else:
        if args.model not in list_models():
            raise ValueError(f"unknown model {args.model!r} (see `pyhpe models --list`)")
        model = create_model(args.model)
        card = task_of(model).card(args.model, {}, int(getattr(model, "input_size", 224)))
    if args.input_size:
        card = card.with_(input_size=int(args.input_size))
    return model, card


def run(args: argparse.Namespace) -> int:
    from pyhpe.export.api import default_output_path, export_model
    from pyhpe.export.verify import VerificationError

    try:
        model, card = load(args)
        size = card.input_size
        out = Path(args.output) if args.output else default_output_path("build/export", card.model, args.format)
        result = export_model(model, out, args.format, name=card.model, input_size=size, card=card,
                              output=args.output_kind, fp16=args.fp16, precision=args.precision,
                              dynamic_batch=args.dynamic_batch, tolerance=args.tolerance,
                              fused=args.fused)
    except VerificationError as err:  # a failure like any other: exit 1 (was 3)
        print(f"pyhpe export: error: verification FAILED: {err}", file=sys.stderr)
        return 1
    except (OSError, ValueError, RuntimeError, TypeError, ImportError) as err:
        print(f"pyhpe export: error: {err}", file=sys.stderr)
        return 1
    v = result.verification
    for f in result.files + [result.meta_path]:
        print(f"wrote {f}")
    print(f"verified ({args.format}, {result.meta.kind}, {size}x{size}): max abs err "
          f"random {v['max_abs_err_random']:.2e}, samples {v['max_abs_err_samples']:.2e} "
          f"(tolerance {v['tolerance']:g}); {result.seconds:.1f} s")
    if "per_output" in v:  # several outputs: the largest error of each over both input sets
        worst: dict[str, float] = {}
        for key, err in v["per_output"].items():
            name = key.rsplit("_", 1)[0]
            worst[name] = max(worst.get(name, 0.0), err)
        print("  per output: " + ", ".join(f"{n} {e:.1e}" for n, e in worst.items()))
    fv = v.get("fused")
    if fv and "skipped" in fv:
        print(f"fused pair ({fv['mixers']} mixers) NOT verified: {fv['skipped']}")
    elif fv:
        print(f"fused pair ({fv['mixers']} mixers) verified with the C++ runtime: max abs err random "
              f"{fv['max_abs_err_random']:.2e}, samples {fv['max_abs_err_samples']:.2e}")
    return 0
