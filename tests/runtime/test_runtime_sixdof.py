"""The Predictor's 6DoF path: a full image + faces + intrinsics → R, t, vertices, landmarks, the
same from torch, onnxruntime and ncnn as from the PyTorch model on the same crops."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from support.trgv2_models import random_trgv2

from pyhpe.export import export_model
from pyhpe.models import create_model
from pyhpe.models.io import save_model
from pyhpe.runtime import Predictor
from pyhpe.runtime.preprocess import default_intrinsics, sixdof_inputs
from pyhpe.tasks.trgv2_6dof import CAMERA_INPUT, split_camera

SIZE = 64
NAME = "trgv2_repnext_m0"
# the bound each backend meets against the PyTorch model (landmarks are crop pixels, up to S)
TOLERANCE = {"torch": 1e-4, "onnxruntime": 1e-4, "ncnn": 1e-4}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ncnn")
    d = tmp_path_factory.mktemp("sixdof")
    model = random_trgv2(NAME, SIZE)  # BN statistics and regressor heads that move the points
    save_model(model, d / "t.safetensors", name=NAME, input_size=SIZE)
    reference = copy.deepcopy(model)
    export_model(model, d / "t.onnx", "onnx", name=NAME, input_size=SIZE)
    export_model(model, d / "t.ncnn.param", "ncnn", name=NAME, input_size=SIZE, fused=False)
    return d, reference


@pytest.fixture(scope="module")
def scene():
    """One synthetic camera image (its intrinsics K) and its face's 68 landmarks."""
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    s = SyntheticHeads(n=1, seed=3, config=SynthConfig(size=200))[0]
    return s.image, s.K, s.landmarks


def _predictor(d, backend):
    path = {"torch": "t.safetensors", "onnxruntime": "t.onnx", "ncnn": "t.ncnn.param"}[backend]
    return Predictor(d / path, backend=backend, threads=1)


def _reference(model, predictor, image, K, faces):
    """The PyTorch model's outputs on the crops the Predictor makes (the task's evaluation crop)."""
    x, camera = sixdof_inputs(image, K, faces, predictor.task, predictor.card)
    box, K_crop = split_camera(torch.from_numpy(camera))
    with torch.no_grad():
        out = model(torch.from_numpy(x), K_crop, box)
    return {"R": out.R, "t": out.t, "vertices": out.vertices, "landmarks": out.landmarks}


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "ncnn"])
def test_backends_match_the_model(files, scene, backend):
    d, model = files
    image, K, landmarks = scene
    p = _predictor(d, backend)
    assert p.sixdof and p.card.crop.kind == "landmark_box"
    faces = [landmarks, landmarks + np.array([12.0, -7.0])]  # two faces, one batch
    out = p.predict_sixdof(image, K=K, landmarks=faces)
    ref = _reference(model, p, image, K, faces)
    for key, want in ref.items():
        err = float(np.abs(out[key] - want.numpy()).max())
        assert err <= TOLERANCE[backend], f"{backend} {key}: {err:.3g}"
    assert out["R"].shape == (2, 3, 3) and out["t"].shape == (2, 3)
    assert out["vertices"].shape == (2, model.topology.num_vertices, 3)
    assert bool(out["intrinsics_given"]) and np.array_equal(out["intrinsics"], K)


def test_unknown_intrinsics_and_boxes(files, scene):
    """K=None: f = W + H with the principal point at the image centre; a box stands for the
    landmarks' extent (the same crop as landmarks with that extent)."""
    d, _ = files
    image, _, landmarks = scene
    p = _predictor(d, "onnxruntime")
    h, w = image.shape[:2]
    K0 = default_intrinsics(h, w)
    assert K0[0, 0] == K0[1, 1] == w + h and (K0[0, 2], K0[1, 2]) == ((w - 1) / 2, (h - 1) / 2)
    box = np.concatenate([landmarks.min(0), landmarks.max(0)])
    by_box = p.predict_sixdof(image, boxes=[box])
    by_landmarks = p.predict_sixdof(image, landmarks=[landmarks])
    assert not bool(by_box["intrinsics_given"]) and np.array_equal(by_box["intrinsics"], K0)
    np.testing.assert_array_equal(by_box[CAMERA_INPUT], by_landmarks[CAMERA_INPUT])
    np.testing.assert_allclose(by_box["t"], by_landmarks["t"], atol=1e-6)
    # predict_faces (what `pyhpe predict` calls) is the box path
    np.testing.assert_allclose(p.predict_faces(image, [box])["t"], by_box["t"], atol=1e-6)
    empty = p.predict_sixdof(image, boxes=np.zeros((0, 4)))
    assert empty["t"].shape == (0, 3) and empty["R"].shape == (0, 3, 3)


def test_errors(files, scene, tmp_path):
    d, _ = files
    image, K, landmarks = scene
    p = _predictor(d, "ncnn")
    with pytest.raises(ValueError, match="either"):
        p.predict_sixdof(image, K=K)
    with pytest.raises(ValueError, match="intrinsics"):
        p.predict_sixdof(image, K=np.eye(2), landmarks=[landmarks])
    with pytest.raises(ValueError, match="68"):
        p.predict_sixdof(image, landmarks=[landmarks[:10]])
    with pytest.raises(ValueError, match="camera"):
        p.backend.run(np.zeros((1, 3, SIZE, SIZE), np.float32))
    torch.manual_seed(0)
    save_model(create_model("sixdrepnet_repnext_m0").eval(), tmp_path / "r.safetensors",
               name="sixdrepnet_repnext_m0", input_size=SIZE)
    with pytest.raises(ValueError, match="crops"):
        Predictor(tmp_path / "r.safetensors").predict_sixdof(image, landmarks=[landmarks])
