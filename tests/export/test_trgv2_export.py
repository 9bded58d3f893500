"""TRGv2 export: the deploy graph against the PyTorch model, ONNX and ncnn files verified within
1e-4 on every output, the sidecar's camera input, the decode (R, Eq. 3 t) and the command line."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from pyhpe.cli import main
from pyhpe.export import export_model
from pyhpe.export.ncnn import param_blobs
from pyhpe.geometry.correction import principal_point_from_crop
from pyhpe.models.io import save_model
from pyhpe.models.trg.blocks import project_in_front
from pyhpe.runtime.meta import read_meta
from pyhpe.tasks import task_of
from pyhpe.tasks.trgv2_6dof import (
    CAMERA_INPUT,
    CAMERA_LAYOUT,
    _principal_point,
    _project,
    camera_vector,
    split_camera,
)

SIZE = 64


def _model_outputs(model, inputs):
    box, K = split_camera(torch.from_numpy(inputs[CAMERA_INPUT]))
    with torch.no_grad():
        out = model(torch.from_numpy(inputs["image"]), K, box)
    return out


@pytest.mark.parametrize("form", ["paper", "official"])
def test_deploy_graph_is_the_model(trgv2, form):
    """The deploy form (folded BN, table soft-argmax, one-hot subsample, sliced K) computes the
    model's outputs; the model itself is left as it was."""
    model = trgv2(form=form)
    task = task_of(model)
    inputs = task.deploy_samples(SIZE, 3, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    graph = task.deploy_module(model, "6dof")
    with torch.no_grad():
        sixd, c, verts, landmarks = graph(torch.from_numpy(inputs["image"]), torch.from_numpy(inputs[CAMERA_INPUT]))
    ref = _model_outputs(model, inputs)
    assert (ref.extra["iter_t"][1] - ref.extra["iter_t"][0]).abs().max() > 1e-3  # iteration 2 matters
    for got, want in ((sixd, ref.sixd), (c, ref.extra["correction"]), (verts, ref.vertices),
                      (landmarks, ref.landmarks)):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    decoded = task.decode({"sixd": sixd.numpy(), "correction": c.numpy(), "vertices": verts.numpy(),
                           "landmarks": landmarks.numpy(), CAMERA_INPUT: inputs[CAMERA_INPUT]}, form=form)
    np.testing.assert_allclose(decoded["R"], ref.R.numpy(), atol=1e-5)
    np.testing.assert_allclose(decoded["t"], ref.t.numpy(), atol=1e-5)


def test_camera_vector_pieces():
    """The camera vector round-trips, and the graph's sliced-K geometry equals the library's."""
    rng = np.random.default_rng(0)
    box = np.array([[40.0, 30.0, 136.0, 126.0, 500.0, 480.0, 640.0], [10.0, 5.0, 74.0, 69.0, 300.0, 240.0, 320.0]])
    s = np.array([64 / 96, 1.0])
    K = np.zeros((2, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = box[:, 4] * s
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = rng.uniform(20, 40, 2), rng.uniform(20, 40, 2), 1.0
    cam = torch.from_numpy(camera_vector(box, K))
    assert cam.shape == (2, len(CAMERA_LAYOUT))
    b, Kc = split_camera(cam)
    torch.testing.assert_close(Kc, torch.from_numpy(K).float())
    torch.testing.assert_close(_principal_point(b, cam), principal_point_from_crop(Kc, b))
    points = torch.randn(2, 30, 3) * 0.1 + torch.tensor([0.0, 0.0, 0.5])
    points[0, 0, 2] = -0.2  # behind the camera: clamped alike
    torch.testing.assert_close(_project(points, cam), project_in_front(points, Kc))
    with pytest.raises(ValueError, match="skew"):
        camera_vector(box[0], np.eye(3) + np.array([[0, 0.1, 0], [0, 0, 0], [0, 0, 0]]))


@pytest.mark.parametrize(("form", "size"), [("paper", SIZE), ("official", SIZE), ("paper", 192)])
def test_onnx_export(tmp_path, trgv2, form, size):
    """192: the paper's crop, where landmarks (crop pixels) are largest for the 1e-4 bound."""
    model = trgv2(form=form, size=size)
    result = export_model(model, tmp_path / "t.onnx", "onnx", name="trgv2_repnext_m0", input_size=size)
    v = result.verification
    assert v["max_abs_err_random"] <= 1e-4 and v["max_abs_err_samples"] <= 1e-4
    assert set(v["per_output"]) >= {"sixd_samples", "correction_samples", "vertices_samples", "landmarks_samples"}
    graph = onnx.load(str(tmp_path / "t.onnx"))
    assert [i.name for i in graph.graph.input] == ["input", CAMERA_INPUT]
    assert [o.name for o in graph.graph.output] == ["sixd", "correction", "vertices", "landmarks"]
    assert "GridSample" in {n.op_type for n in graph.graph.node}
    assert {"Loop", "ReduceSum"}.isdisjoint({n.op_type for n in graph.graph.node})
    # the head's BNs are folded (RepNeXt keeps the BN after its mixer, as in 6DRepNet exports)
    assert not [n.name for n in graph.graph.node if n.op_type == "BatchNormalization"
                and ("neck" in n.name or "heat" in n.name)]
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 16
    meta = read_meta(tmp_path / "t.onnx")
    V = model.topology.num_vertices
    assert meta.kind == "6dof" and {n: s for n, _, s in meta.outputs}["vertices"] == (V, 3)
    assert meta.extra_inputs == ((CAMERA_INPUT, CAMERA_INPUT, (11,), CAMERA_LAYOUT),)
    sidecar = json.loads((tmp_path / "t.onnx.json").read_text())
    assert sidecar["inputs"][0]["layout"] == list(CAMERA_LAYOUT)
    assert sidecar["card"]["crop"]["kind"] == "landmark_box"


@pytest.mark.parametrize("form", ["paper", "official"])
def test_ncnn_export(tmp_path, trgv2, form):
    """ncnn (pnnx) runs the graph within 1e-4 of PyTorch on every output (GridSample with
    align_corners False and True)."""
    pytest.importorskip("ncnn")
    model = trgv2(form=form)
    result = export_model(model, tmp_path / "t.ncnn.param", "ncnn", name="trgv2_repnext_m0", input_size=SIZE)
    v = result.verification
    assert v["max_abs_err_random"] <= 1e-4 and v["max_abs_err_samples"] <= 1e-4
    types, inputs, outputs = param_blobs(result.files[0])
    assert types.count("GridSample") == model.iterations and "Input" in types
    assert inputs == [result.meta.input_name, result.meta.extra_inputs[0][1]]
    assert sorted(outputs) == sorted(b for _, b, _ in result.meta.outputs)
    # the fused pair is written (RepNeXt mixers) but only the C++ runtime could run it
    assert "skipped" in v["fused"]


def test_export_refusals(tmp_path, trgv2):
    with pytest.raises(ValueError, match="batch 1"):
        export_model(trgv2(), tmp_path / "t.onnx", "onnx", input_size=SIZE, dynamic_batch=True)
    with pytest.raises(ValueError, match="direct"):
        export_model(trgv2(translation="direct"), tmp_path / "d.onnx", "onnx", input_size=SIZE)
    task = task_of(trgv2())
    with pytest.raises(ValueError, match="camera"):
        task.decode({"sixd": np.zeros((1, 6)), "correction": np.zeros((1, 3)),
                     "vertices": np.zeros((1, 4, 3)), "landmarks": np.zeros((1, 68, 2))})


def test_cli_export_trgv2_model_file(tmp_path, trgv2, capsys):
    model = trgv2()
    save_model(model, tmp_path / "t.safetensors", name="trgv2_repnext_m0", input_size=SIZE)
    rc = main(["export", "--checkpoint", str(tmp_path / "t.safetensors"), "--format", "onnx",
               "-o", str(tmp_path / "t.onnx")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "verified (onnx, 6dof, 64x64)" in out
    assert read_meta(tmp_path / "t.onnx").card.model == "trgv2_repnext_m0"
