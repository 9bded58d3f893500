"""pyhpe.runtime.Predictor, torch backend: preprocessing, post-processing and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import repnext_m0_eval

from pyhpe.models.io import save_model
from pyhpe.ops import gram_schmidt, matrix_to_euler
from pyhpe.runtime import Predictor
from pyhpe.runtime.preprocess import face_crop, prepare
from pyhpe.tasks import get_task

SIZE = 64


def _model():
    m = repnext_m0_eval()
    return m


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pred") / "m0.safetensors"
    save_model(_model(), path, name="sixdrepnet_repnext_m0", input_size=SIZE)
    return path


def _crops(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (90 + 7 * i, 80, 3), dtype=np.uint8) for i in range(n)]


def test_torch_predictor_matches_training_form(model_file):
    p = Predictor(model_file, backend="torch", threads=1)
    assert p.input_size == SIZE
    crops = _crops()
    out = p.predict(crops)
    assert out["sixd"].shape == (3, 6) and out["R"].shape == (3, 3, 3) and out["euler_deg"].shape == (3, 3)
    x = torch.from_numpy(prepare(crops, SIZE))
    with torch.no_grad():
        m = _model()
        R = m(x).R
        sixd = m(x).sixd
    np.testing.assert_allclose(out["sixd"], sixd.numpy(), atol=1e-4)
    np.testing.assert_allclose(out["R"], R.numpy(), atol=1e-4)
    np.testing.assert_allclose(out["euler_deg"], matrix_to_euler(R, degrees=True).numpy(), atol=1e-2)


def test_prepare_is_the_test_chain():
    from pyhpe.data.photometric import to_tensor

    crop = _crops(1)[0]
    x = prepare([crop], 224)
    # Resize(256) on the shorter side + CenterCrop(224), then ImageNet normalisation
    from pyhpe.data.geometric import center_crop, resize_shorter_side
    from pyhpe.data.sample import Sample

    s = center_crop(resize_shorter_side(Sample(crop, np.eye(3), np.zeros(3)), 256), 224)
    np.testing.assert_array_equal(x[0], to_tensor(s.image).numpy())
    # float input passes through, wrong sizes are refused
    np.testing.assert_array_equal(prepare(x, 224), x)
    with pytest.raises(ValueError, match=r"\(N, 3, 64, 64\)"):
        prepare(x, 64)
    with pytest.raises(ValueError, match="uint8"):
        prepare([crop.astype(np.float32)[..., :2]], 64)
    with pytest.raises(ValueError, match="at least one"):
        prepare([], 64)


def test_postprocess_matrix_and_6d_agree():
    torch.manual_seed(1)
    x6 = torch.randn(5, 6)
    R = gram_schmidt(x6)
    task = get_task("sixd_rotation")
    a = task.decode({"sixd": x6.numpy()})
    b = task.decode({"R": R.numpy()})
    np.testing.assert_allclose(a["R"], b["R"], atol=1e-6)
    np.testing.assert_allclose(a["euler_deg"], b["euler_deg"], atol=1e-3)
    with pytest.raises(ValueError, match="output kind"):
        task.decode({"quat": x6.numpy()})


def test_predict_faces_crops_like_evaluation(model_file):
    p = Predictor(model_file)
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
    box = [60, 50, 150, 160]
    out = p.predict_faces(image, [box])
    ref = p.predict([face_crop(image, box)])
    np.testing.assert_allclose(out["R"], ref["R"], atol=0)
    empty = p.predict_faces(image, np.zeros((0, 4)))
    assert empty["R"].shape == (0, 3, 3)
    with pytest.raises(ValueError, match="face box"):
        p.predict_faces(image, [[10, 10, 5, 20]])


def test_from_module_reparameterizes():
    m = _model()
    p = Predictor.from_module(m, input_size=SIZE, threads=1)
    out = p.predict(_crops(2))
    ref = Predictor.from_module(_model(), input_size=SIZE).predict(_crops(2))
    np.testing.assert_allclose(out["sixd"], ref["sixd"], atol=1e-4)


def test_errors(tmp_path, model_file):
    with pytest.raises(FileNotFoundError, match="not found"):
        Predictor(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="backend must be one of"):
        Predictor(model_file, backend="tflite")
    with pytest.raises(ValueError, match="threads"):
        Predictor(model_file, threads=0)
    with pytest.raises(ValueError, match="fp32 only"):
        Predictor(model_file, precision="fp16")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    (tmp_path / "bad.json").write_text(json.dumps({"format": "pyhpe-model", "model": "sixdrepnet_repnext_m0"}))
    with pytest.raises(ValueError, match="safetensors"):
        Predictor(bad)
