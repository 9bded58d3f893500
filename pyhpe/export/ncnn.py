"""ncnn export: ONNX (pyhpe.export.onnx) converted by pnnx's ONNX route.

pnnx's TorchScript route leaves ``torch.cross``/``clamp_min`` unconverted for the Gram-Schmidt
head and crashes on some normalisation patterns; its ONNX route converts both the 6D and the
matrix graph (see docs/deployment.md). ``fp16=False`` keeps fp32 weights in the .bin (pnnx's own
default is fp16).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from torch import nn

from pyhpe.export.onnx import export_onnx


def pnnx_executable() -> str:
    """Path of the pnnx converter (the ``pnnx`` package ships it)."""
    exe = shutil.which("pnnx")
    if exe is None:
        candidate = Path(sys.executable).with_name("pnnx")
        if candidate.is_file():
            exe = str(candidate)
    if exe is None:
        try:
            import pnnx

            pkg = Path(pnnx.__file__).parent
            found = [p for p in pkg.rglob("pnnx") if p.is_file() and os.access(p, os.X_OK)]
            exe = str(found[0]) if found else None
        except ImportError:
            exe = None
    if exe is None:
        raise RuntimeError("the pnnx converter was not found: `pip install --no-deps pnnx` "
                           "(torch is already installed and pinned)")
    return exe


def param_blobs(param: str | os.PathLike) -> tuple[list[str], list[str], list[str]]:
    """(layer types, input blob names, names of blobs no layer consumes) of an ncnn .param."""
    lines = Path(param).read_text().split("\n")
    if not lines or lines[0].strip() != "7767517":
        raise ValueError(f"{param}: not an ncnn .param file (magic 7767517 missing)")
    types, inputs, produced, consumed = [], [], [], set()
    for line in lines[2:]:
        parts = line.split()
        if len(parts) < 4:
            continue
        kind, n_in, n_out = parts[0], int(parts[2]), int(parts[3])
        bottoms = parts[4:4 + n_in]
        tops = parts[4 + n_in:4 + n_in + n_out]
        types.append(kind)
        consumed.update(bottoms)
        produced.extend(tops)
        if kind == "Input":
            inputs.extend(tops)
    outputs = [b for b in produced if b not in consumed]
    return types, inputs, outputs


def export_ncnn(model: nn.Module, param_path: str | os.PathLike, input_size: int,
                output: str | None = None, fp16: bool = False, timeout: float = 300
                ) -> tuple[Path, Path, list[str], list[str]]:
    """Write ``<stem>.ncnn.param`` and ``<stem>.ncnn.bin``; returns (param, bin, input blobs (the
    image's, then one per extra input of the task), output blobs in the order of the task's
    deploy outputs of kind ``output``). ``model`` must be in deploy form, eval mode."""
    from pyhpe.export.onnx import extra_inputs, output_names

    param_path = Path(param_path)
    if not param_path.name.endswith(".ncnn.param"):
        raise ValueError(f"ncnn output must be named <stem>.ncnn.param, got {param_path.name}")
    stem = param_path.name[: -len(".ncnn.param")]
    bin_path = param_path.with_name(stem + ".ncnn.bin")
    param_path.parent.mkdir(parents=True, exist_ok=True)
    exe = pnnx_executable()
    with tempfile.TemporaryDirectory(prefix="pyhpe-pnnx-") as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx", input_size, output)
        extras = extra_inputs(model)
        shapes = [(1, 3, input_size, input_size), *((1, *e.shape) for e in extras)]
        cmd = [exe, str(onnx_path), "inputshape=" + ",".join(f"[{','.join(map(str, s))}]" for s in shapes),
               f"fp16={int(bool(fp16))}"]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout, check=False)
        log = proc.stdout + proc.stderr
        produced_param, produced_bin = Path(tmp) / "model.ncnn.param", Path(tmp) / "model.ncnn.bin"
        if proc.returncode != 0 or not produced_param.is_file() or not produced_bin.is_file():
            tail = "\n".join(log.strip().splitlines()[-8:])
            raise RuntimeError(f"pnnx failed (rc={proc.returncode}):\n{tail}")
        ignored = re.findall(r"^ignore .*$", log, flags=re.MULTILINE)
        if ignored:
            raise RuntimeError("pnnx left operators ncnn cannot run:\n" + "\n".join(ignored))
        _, inputs, outputs = param_blobs(produced_param)
        wanted = output_names(model, output)
        if len(inputs) != len(shapes) or len(outputs) != len(wanted):
            raise RuntimeError(f"expected {len(shapes)} input and {len(wanted)} output blob(s), got "
                               f"{inputs} -> {outputs}")
        # pnnx names graph inputs in0, in1, ... in the ONNX graph's input order
        inputs = sorted(inputs, key=lambda b: (len(b), b))
        # pnnx names graph outputs out0, out1, ... in the ONNX graph's output order
        outputs = sorted(outputs, key=lambda b: (len(b), b))
        shutil.move(str(produced_param), param_path)
        shutil.move(str(produced_bin), bin_path)
    return param_path, bin_path, inputs, outputs
