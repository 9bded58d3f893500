"""``export_model``: deploy form -> ONNX or ncnn file(s) + sidecar, verified against PyTorch."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from pyhpe.export.verify import FP16_TOLERANCE, FP32_TOLERANCE, verify
from pyhpe.models.card import ModelCard
from pyhpe.runtime.meta import PRECISIONS, DeployMeta, write_meta

FORMATS = ("onnx", "ncnn")


@dataclass
class ExportResult:
    """What an export wrote and how well it matched PyTorch."""

    files: list[Path]
    meta_path: Path
    meta: DeployMeta
    verification: dict = field(default_factory=dict)
    seconds: float = 0.0


def default_output_path(out_dir: str | os.PathLike, stem: str, fmt: str) -> Path:
    suffix = ".onnx" if fmt == "onnx" else ".ncnn.param"
    return Path(out_dir) / f"{stem}{suffix}"


def export_model(model: nn.Module, path: str | os.PathLike, fmt: str = "onnx", *, name: str = "model",
                 input_size: int = 224, output: str | None = None, fp16: bool = False,
                 dynamic_batch: bool = False, tolerance: float | None = None,
                 check: bool = True, fused: bool = True, card: ModelCard | None = None,
                 precision: str | None = None) -> ExportResult:
    """Export ``model`` (reparameterized here, in place) to ``path`` (.onnx or .ncnn.param).

    ``output`` is the task's deploy kind (rotation: "6d" or "matrix"; default the task's
    default). ``card`` (e.g. from :func:`pyhpe.models.load`) goes into the sidecar in deploy form
    at ``input_size``, so runtimes crop as the model was evaluated; without one, the task's
    default card for ``name``.

    ONNX files are verified with onnxruntime, ncnn files with the ncnn Python package (fp32
    inference); ``tolerance`` defaults to 1e-4 (fp32 weights) or 5e-2 (``fp16`` ncnn weights).
    Raises :class:`~pyhpe.export.verify.VerificationError` beyond it.

    ``precision`` ("fp32", "fp16" or "bf16"; ncnn only; default "fp16" when ``fp16`` else "fp32")
    is recorded in the sidecar, where the C runtime takes it as the model's default precision
    (docs/deployment.md, "Precision"). "fp16" also stores fp16 weights (``fp16=True``: pnnx's
    fp16 .bin). "bf16" keeps fp32 weights: ncnn's .bin has no bf16 weight type, and ncnn converts
    weights for bf16 storage at load time. The export is verified in fp32 either way.

    ncnn exports of models with RepNeXt mixers also get a fused pair ``<stem>.fused.ncnn.param/.bin``
    (``fused=False`` skips it; pyhpe.export.ncnn_fuse). Only the C++ runtime runs it, so it is
    verified with ``pyhpe-infer`` when that is built (``verification["fused"]``), else left
    unverified (``verification["fused"]["skipped"]`` says why).
    """
    from pyhpe.models import reparameterize
    from pyhpe.tasks import task_of

    task = task_of(model)
    output = output or task.default_deploy
    outputs = task.deploy_outputs(output, model)
    card = (card or task.card(name, {}, input_size)).with_(form="deploy", input_size=int(input_size))
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if precision is None:
        precision = "fp16" if fp16 else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if fp16 and precision != "fp16":
        raise ValueError(f"--fp16 (fp16 weights) is --precision fp16, not {precision}")
    fp16 = precision == "fp16"
    if fp16 and fmt != "ncnn":
        raise ValueError("--fp16 stores ncnn weights in half precision; it applies to --format ncnn only")
    if precision != "fp32" and fmt != "ncnn":
        raise ValueError(f"--precision {precision} applies to --format ncnn only (the ONNX graph runs as exported)")
    if dynamic_batch and fmt != "onnx":
        raise ValueError("--dynamic-batch applies to ONNX only (ncnn runs one sample per extractor)")
    fixed = getattr(model, "fixed_input_size", False)
    native = getattr(model, "input_size", 224)
    if fixed and input_size != native:
        raise ValueError(f"{name} runs only at {native}x{native}, input_size={input_size} given")
    start = time.perf_counter()
    model.eval()
    reparameterize(model)
    path = Path(path)
    if fmt == "onnx":
        from pyhpe.export.onnx import export_onnx

        if path.suffix != ".onnx":
            raise ValueError(f"ONNX output must end in .onnx, got {path.name}")
        export_onnx(model, path, input_size, output, dynamic_batch)
        files = [path]
        meta = DeployMeta(card=card, kind=output, outputs=tuple((n, n, s) for n, s in outputs),
                          input_name="input", dynamic_batch=dynamic_batch,
                          extra_inputs=_extra_meta(task, [e.name for e in task.deploy_inputs]))
    else:
        from pyhpe.export.ncnn import export_ncnn

        param, weights, blobs_in, blobs_out = export_ncnn(model, path, input_size, output, fp16)
        files = [param, weights]
        meta = DeployMeta(card=card, kind=output,
                          outputs=tuple((n, b, s) for (n, s), b in zip(outputs, blobs_out)),
                          input_name=blobs_in[0], fp16_weights=fp16, precision=precision,
                          extra_inputs=_extra_meta(task, blobs_in[1:]))
    meta_file = write_meta(files[0], meta)
    result = ExportResult(files=files, meta_path=meta_file, meta=meta)
    if check:
        from pyhpe.runtime.backends import NcnnBackend, OnnxRuntimeBackend

        if fmt == "onnx":
            backend = OnnxRuntimeBackend(path, threads=1)
        else:
            backend = NcnnBackend(files[0], threads=1, precision="fp32")
        tol = tolerance if tolerance is not None else (FP16_TOLERANCE if fp16 else FP32_TOLERANCE)
        result.verification = verify(model, backend.run, input_size, output, tol,
                                     what=f"{fmt} export {path.name}")
    if fmt == "ncnn" and fused:
        _export_fused(model, result, input_size, output, check,
                      tolerance if tolerance is not None else (FP16_TOLERANCE if fp16 else FP32_TOLERANCE))
    result.seconds = time.perf_counter() - start
    return result


def _extra_meta(task, blobs: list[str]) -> tuple:
    """The sidecar's records of the task's extra graph inputs, fed through ``blobs``."""
    return tuple((e.name, b, tuple(e.shape), tuple(e.layout)) for e, b in zip(task.deploy_inputs, blobs))


def _export_fused(model: nn.Module, result: ExportResult, input_size: int, output: str, check: bool,
                  tol: float) -> None:
    """The fused-mixer pair of an ncnn export (nothing for models without RepNeXt mixers)."""
    from dataclasses import replace

    from pyhpe.export.cpp_runtime import CppRuntime, find_pyhpe_infer
    from pyhpe.export.ncnn_fuse import fuse_mixers

    written = fuse_mixers(result.files[0], result.files[1])
    if written is None:
        return
    param, weights, count = written
    result.files += [param, weights]
    write_meta(param, replace(result.meta))
    if not check:
        return
    if result.meta.extra_inputs:
        result.verification["fused"] = {"mixers": count, "skipped": "the C++ runtime feeds the image only "
                                        "(graphs with extra inputs are not runnable there yet)"}
        return
    if find_pyhpe_infer() is None:
        result.verification["fused"] = {"mixers": count, "skipped": "pyhpe-infer (C++ runtime) not built"}
        return
    report = verify(model, CppRuntime(param, output), input_size, output, tol,
                    what=f"fused ncnn export {param.name} (C++ runtime)")
    result.verification["fused"] = {"mixers": count, **report}
