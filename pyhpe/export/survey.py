"""Export every registered 6DRepNet model to ONNX and ncnn and print the verification errors and
the ncnn layer types each one needs (the source of the layer list in tools/build_ncnn.sh).

    python -m pyhpe.export.survey [--out DIR]     # one line per model and format

Random weights with randomised BatchNorm statistics; input 64x64, or the native size for models
that run only there.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    from pyhpe.export import export_model
    from pyhpe.export.ncnn import param_blobs
    from pyhpe.models import create_model, list_models

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="keep the exported files here (default: a temporary folder)")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="pyhpe-survey-")
    out = Path(args.out or tmp.name)
    out.mkdir(parents=True, exist_ok=True)
    layer_types: collections.Counter = collections.Counter()
    failures = 0
    for name in [n for n in list_models() if n.startswith("sixdrepnet_")]:
        torch.manual_seed(0)
        model = create_model(name).eval()
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
        size = model.input_size if model.fixed_input_size else 64
        for fmt in ("onnx", "ncnn"):
            t0 = time.perf_counter()
            path = out / f"{name}.{'onnx' if fmt == 'onnx' else 'ncnn.param'}"
            try:
                r = export_model(model, path, fmt, name=name, input_size=size)
            except Exception as err:  # noqa: BLE001 - report any failure and go on with the next model
                failures += 1
                print(name, fmt, size, "FAIL", type(err).__name__, str(err)[:300].replace("\n", " | "), flush=True)
                continue
            v = r.verification
            types = ""
            if fmt == "ncnn":
                kinds = sorted(set(param_blobs(r.files[0])[0]))
                layer_types.update(kinds)
                types = " ".join(kinds)
            print(name, fmt, size, f"OK {v['max_abs_err_random']:.2e} {v['max_abs_err_samples']:.2e} "
                  f"{time.perf_counter() - t0:.1f}s", types, flush=True)
    print("ALL", sorted(layer_types))
    tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
