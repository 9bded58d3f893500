"""pyhpe export: every registered 6DRepNet model to ONNX, a representative set to ncnn, each
verified against PyTorch (fp32 1e-4) by the export itself; the command line and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pyhpe.cli import main
from pyhpe.export import VerificationError, export_model
from pyhpe.export.ncnn import param_blobs
from pyhpe.models import create_model, list_models
from pyhpe.models.io import save_model
from pyhpe.runtime.meta import read_meta

MODELS = [n for n in list_models() if n.startswith("sixdrepnet_")]
# ncnn: one per family and both output kinds (pnnx takes a few seconds per model)
NCNN_MODELS = ["sixdrepnet_repnext_m0", "sixdrepnet_repvgg_a0", "sixdrepnet_mobilenetv3_small",
               "sixdrepnet_repvit_m0_9", "sixdrepnet_resnet18", "sixdrepnet_mobilevig_ti"]


def make(name: str) -> tuple[torch.nn.Module, int]:
    """Random weights with non-trivial BatchNorm statistics; small input unless fixed."""
    torch.manual_seed(0)
    m = create_model(name).eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    return m, (m.input_size if m.fixed_input_size else 64)


@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_every_model(tmp_path, name):
    model, size = make(name)
    result = export_model(model, tmp_path / f"{name}.onnx", "onnx", name=name, input_size=size)
    v = result.verification
    assert v["max_abs_err_random"] <= 1e-4 and v["max_abs_err_samples"] <= 1e-4
    meta = read_meta(result.files[0])
    assert (meta.model, meta.input_size, meta.output) == (name, size, "6d")


@pytest.mark.parametrize("name", NCNN_MODELS)
def test_ncnn_export_representative(tmp_path, name):
    pytest.importorskip("ncnn")
    model, size = make(name)
    result = export_model(model, tmp_path / f"{name}.ncnn.param", "ncnn", name=name, input_size=size)
    assert result.verification["max_abs_err_samples"] <= 1e-4
    types, inputs, outputs = param_blobs(result.files[0])
    assert "Input" in types and inputs == [result.meta.input_name] and outputs == [result.meta.output_name]
    assert result.files[1].stat().st_size > 0


@pytest.mark.parametrize("fmt", ["onnx", "ncnn"])
def test_matrix_output(tmp_path, fmt):
    if fmt == "ncnn":
        pytest.importorskip("ncnn")
    model, size = make("sixdrepnet_repnext_m0")
    suffix = ".onnx" if fmt == "onnx" else ".ncnn.param"
    result = export_model(model, tmp_path / f"m{suffix}", fmt, name="m", input_size=size, output="matrix")
    assert result.meta.output == "matrix"
    assert result.verification["max_abs_err_random"] <= 1e-4


def test_ncnn_fp16_weights(tmp_path):
    pytest.importorskip("ncnn")
    model, size = make("sixdrepnet_repnext_m0")
    r32 = export_model(model, tmp_path / "a.ncnn.param", "ncnn", name="m", input_size=size)
    r16 = export_model(model, tmp_path / "b.ncnn.param", "ncnn", name="m", input_size=size, fp16=True)
    assert r16.meta.fp16_weights and r16.files[1].stat().st_size < 0.6 * r32.files[1].stat().st_size
    assert r16.verification["tolerance"] == 5e-2
    # half-precision weights cost accuracy, but stay within the stated bound
    assert r16.verification["max_abs_err_samples"] > r32.verification["max_abs_err_samples"]


def test_dynamic_batch_onnx(tmp_path):
    import onnxruntime as ort

    model, size = make("sixdrepnet_mobilenetv3_small")
    r = export_model(model, tmp_path / "d.onnx", "onnx", name="d", input_size=size, dynamic_batch=True)
    sess = ort.InferenceSession(str(r.files[0]), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((5, 3, size, size)).astype(np.float32)
    y = sess.run(None, {"input": x})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).sixd.numpy()
    np.testing.assert_allclose(y, ref, atol=1e-4)


def test_verification_fails_loudly(tmp_path):
    model, size = make("sixdrepnet_repnext_m0")
    with pytest.raises(VerificationError, match="exceeds"):
        export_model(model, tmp_path / "t.onnx", "onnx", name="t", input_size=size, tolerance=0.0)


def test_argument_errors(tmp_path):
    model, _ = make("sixdrepnet_mobilenetv3_small")
    with pytest.raises(ValueError, match="ncnn only"):
        export_model(model, tmp_path / "x.onnx", "onnx", fp16=True)
    with pytest.raises(ValueError, match="ONNX only"):
        export_model(model, tmp_path / "x.ncnn.param", "ncnn", dynamic_batch=True)
    with pytest.raises(ValueError, match="format"):
        export_model(model, tmp_path / "x.tflite", "tflite")
    with pytest.raises(ValueError, match=r"\.onnx"):
        export_model(model, tmp_path / "x.bin", "onnx", input_size=64)
    fixed, _ = make("sixdrepnet_efficientformerv2_s0")
    with pytest.raises(ValueError, match="runs only at 224"):
        export_model(fixed, tmp_path / "f.onnx", "onnx", input_size=64)


def test_cli_checkpoint_roundtrip(tmp_path, capsys):
    model, size = make("sixdrepnet_repnext_m0")
    ckpt = save_model(model, tmp_path / "m0.safetensors", name="sixdrepnet_repnext_m0", input_size=size)
    out = tmp_path / "out" / "m0.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--format", "onnx", "-o", str(out),
                 "--dynamic-batch"]) == 0
    text = capsys.readouterr().out
    assert "verified (onnx, 6d, 64x64)" in text
    meta = json.loads((out.parent / "m0.onnx.json").read_text())
    assert meta["card"]["model"] == "sixdrepnet_repnext_m0" and meta["dynamic_batch"] is True


def test_cli_errors(tmp_path, capsys):
    assert main(["export", "--format", "onnx"]) == 1
    assert "give --checkpoint" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(tmp_path / "none.safetensors")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    (tmp_path / "w.pth").write_bytes(b"x")
    assert main(["export", "--checkpoint", str(tmp_path / "w.pth")]) == 1
    assert "--model" in capsys.readouterr().err
    assert main(["export", "--model", "nope", "--random-init"]) == 1
    assert "unknown model" in capsys.readouterr().err
    assert main(["export", "--model", "sixdrepnet_mobilenetv3_small", "--random-init", "--input-size", "64",
                 "--tolerance", "0", "-o", str(tmp_path / "z.onnx")]) == 1
    assert "verification FAILED" in capsys.readouterr().err
