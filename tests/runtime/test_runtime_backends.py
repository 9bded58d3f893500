"""The three Predictor backends give the same predictions (fp32 within 1e-4 of PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyhpe.export import export_model
from pyhpe.models import create_model
from pyhpe.models.io import save_model
from pyhpe.runtime import Predictor

SIZE = 64


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ncnn")
    d = tmp_path_factory.mktemp("backends")
    torch.manual_seed(0)
    model = create_model("sixdrepnet_repnext_m0").eval()
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    save_model(model, d / "m0.safetensors", name="sixdrepnet_repnext_m0", input_size=SIZE)
    export_model(model, d / "m0.onnx", "onnx", name="sixdrepnet_repnext_m0", input_size=SIZE)
    export_model(model, d / "m0.ncnn.param", "ncnn", name="sixdrepnet_repnext_m0", input_size=SIZE)
    export_model(model, d / "m0m.ncnn.param", "ncnn", name="sixdrepnet_repnext_m0", input_size=SIZE,
                 output="matrix")
    return d


def _crops(n=4):
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (80 + 5 * i, 70, 3), dtype=np.uint8) for i in range(n)]


def test_backends_agree(exported):
    d = exported
    crops = _crops()
    ref = Predictor(d / "m0.safetensors", "torch").predict(crops)
    for path, backend in ((d / "m0.onnx", "onnxruntime"), (d / "m0.ncnn.param", "ncnn"),
                          (d / "m0m.ncnn.param", "ncnn")):
        for threads in (1, 2):
            out = Predictor(path, backend, threads=threads).predict(crops)
            np.testing.assert_allclose(out["R"], ref["R"], atol=1e-4, err_msg=f"{path.name} {threads}")
            if path.name.startswith("m0m"):  # matrix export: 6D = the orthonormal first columns
                np.testing.assert_allclose(out["sixd"], ref["R"][:, :, :2].transpose(0, 2, 1).reshape(-1, 6),
                                           atol=1e-4)
            else:
                np.testing.assert_allclose(out["sixd"], ref["sixd"], atol=1e-4)
            np.testing.assert_allclose(out["euler_deg"], ref["euler_deg"], atol=1e-2)


def test_ncnn_fp16_precision_is_close(exported):
    crops = _crops()
    ref = Predictor(exported / "m0.safetensors").predict(crops)
    out = Predictor(exported / "m0.ncnn.param", "ncnn", precision="fp16").predict(crops)
    # x86: fp16 storage of weights and activations only; the error is small but not fp32-exact
    np.testing.assert_allclose(out["sixd"], ref["sixd"], atol=2e-2)


def test_backend_errors(exported, tmp_path):
    d = exported
    with pytest.raises(ValueError, match="input_size=32"):
        Predictor(d / "m0.onnx", "onnxruntime", input_size=32)
    with pytest.raises(ValueError, match="input_size=32"):
        Predictor(d / "m0.ncnn.param", "ncnn", input_size=32)
    with pytest.raises(ValueError, match="precision"):
        Predictor(d / "m0.onnx", "onnxruntime", precision="fp16")
    with pytest.raises(ValueError, match="precision must be"):
        Predictor(d / "m0.ncnn.param", "ncnn", precision="int8")
    (tmp_path / "x.ncnn.param").write_text("not a param file\n")
    with pytest.raises(FileNotFoundError, match=r"\.bin"):
        Predictor(tmp_path / "x.ncnn.param", "ncnn", input_size=64)
    (tmp_path / "x.ncnn.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ValueError, match="cannot parse"):
        Predictor(tmp_path / "x.ncnn.param", "ncnn", input_size=64)
    with pytest.raises(ValueError, match="pass input_size"):
        Predictor(tmp_path / "x.ncnn.param", "ncnn")
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="onnxruntime cannot load"):
        Predictor(tmp_path / "bad.onnx", "onnxruntime")
