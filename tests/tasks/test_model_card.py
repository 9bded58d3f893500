"""The model card travels with the weights: model.json and the deploy sidecar carry it (old
versions still read), and every way of running a model crops as its card says — evaluation's
preprocessing, the torch Predictor, onnxruntime and ncnn give the same pose for the same image."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import repnext_m0_eval

from pyhpe.data.synthetic import SynthConfig, SyntheticHeads
from pyhpe.models import load
from pyhpe.models.card import CropRule, ModelCard
from pyhpe.models.io import save_model
from pyhpe.runtime import Predictor
from pyhpe.runtime.meta import read_meta
from pyhpe.tasks import get_task

pytestmark = pytest.mark.usefixtures("one_thread")
SIZE = 64
# not 6DRepNet's crop (0.2, 256): the only way every path agrees is that each reads the card
CROP = CropRule(kind="margin_box", margin=0.1, resize=224)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    task = get_task("sixd_rotation")
    card = task.card("sixdrepnet_repnext_m0", {}, SIZE, CROP)
    return save_model(repnext_m0_eval(), tmp_path_factory.mktemp("card") / "m0.safetensors", card)


def test_card_round_trips_and_rejects_bad_values():
    card = get_task("sixd_rotation").card("sixdrepnet_repnext_m0", {"x": 1}, 96, CROP, form="deploy")
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    bad = card.to_dict()
    bad["crop"]["resize"] = 200
    with pytest.raises(ValueError, match="resize"):
        ModelCard.from_dict(bad, "m.json")
    with pytest.raises(ValueError, match="m.json: the card has no 'task'"):
        ModelCard.from_dict({"model": "x"}, "m.json")
    with pytest.raises(ValueError, match="version"):
        ModelCard.from_dict({**card.to_dict(), "version": 99})


def test_model_json_carries_the_card(model_file):
    side = json.loads(model_file.with_suffix(".json").read_text())
    assert side["version"] == 2 and side["card"]["crop"] == {"kind": "margin_box", "margin": 0.1, "resize": 224}
    _, card = load(model_file)
    assert card.crop == CROP and card.task == "sixd_rotation" and card.form == "train"


def test_version1_model_json_still_loads(model_file, tmp_path):
    (tmp_path / "old.safetensors").write_bytes(model_file.read_bytes())
    (tmp_path / "old.json").write_text(json.dumps(
        {"format": "pyhpe-model", "version": 1, "model": "sixdrepnet_repnext_m0", "kwargs": {}, "input_size": 64}))
    model, card = load(tmp_path / "old.safetensors")
    assert card.input_size == 64 and card.crop == CropRule(margin=0.2, resize=256)  # 6DRepNet's, as before
    ref, _ = load(model_file)
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(model(x).R, ref(x).R)


def test_version1_deploy_sidecar_still_reads(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"")
    (tmp_path / "m.onnx.json").write_text(json.dumps(
        {"format": "pyhpe-deploy", "version": 1, "model": "sixdrepnet_repnext_m4", "input_size": 224,
         "output": "matrix", "input_name": "input", "output_name": "output"}))
    meta = read_meta(onnx)
    assert meta.kind == "matrix" and meta.outputs == (("R", "output", (3, 3)),)
    assert meta.card.crop == CropRule(margin=0.2, resize=256) and meta.card.form == "deploy"
    (tmp_path / "m.onnx.json").write_text(json.dumps({"format": "pyhpe-deploy", "version": 7}))
    with pytest.raises(ValueError, match="version"):
        read_meta(onnx)


def _face():
    sample = SyntheticHeads(n=1, seed=5, config=SynthConfig(size=160))[0]
    return sample


def _eval_pose(model_file) -> np.ndarray:
    """Evaluation's path: the task's test transform with the card's crop, the model called directly."""
    model, card = load(model_file)
    task = get_task(card.task)
    item = task.test_transform(card.crop, card.input_size, {"margin_crop": True})(_face())
    with torch.no_grad():
        return model(item["image"][None]).R.numpy()


@pytest.fixture(scope="module")
def exports(model_file, tmp_path_factory):
    from pyhpe.export import export_model

    out = tmp_path_factory.mktemp("card-export")
    files = {}
    for fmt, name in (("onnx", "m0.onnx"), ("ncnn", "m0.ncnn.param")):
        model, card = load(model_file)
        result = export_model(model, out / name, fmt, name=card.model, input_size=SIZE, card=card, fused=False)
        files[fmt] = result.files[0]
    return files


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "ncnn"])
def test_every_backend_crops_as_the_card_says(model_file, exports, backend):
    face = _face()
    path = {"torch": model_file, "onnxruntime": exports.get("onnx"), "ncnn": exports.get("ncnn")}[backend]
    if backend != "torch":
        assert read_meta(path).card.crop == CROP
    got = Predictor(path, backend=backend, threads=1).predict_faces(face.image, [face.bbox])["R"]
    want = _eval_pose(model_file)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # and the card's crop matters: 6DRepNet's default crop gives a different input
    p = Predictor(model_file)
    from pyhpe.runtime.preprocess import SIXDREPNET_CROP, face_crop, prepare

    other = prepare([face_crop(face.image, face.bbox, SIXDREPNET_CROP)], SIZE, rule=SIXDREPNET_CROP)
    assert np.abs(other - p.preprocess([face_crop(face.image, face.bbox, CROP)])).max() > 0.1


def test_the_c_runtime_crops_as_the_card_says(model_file, exports, tmp_path):
    """pyhpe-infer reads the sidecar beside the .param (card: margin 0.1, resize 224) and gives
    the pose evaluation's preprocessing gives."""
    from support import run_command
    from support.native_runtime import build_host_runtime

    exe = build_host_runtime() / "pyhpe-infer"
    face = _face()
    h, w = face.image.shape[:2]
    ppm = tmp_path / "face.ppm"
    ppm.write_bytes(f"P6\n{w} {h}\n255\n".encode() + np.ascontiguousarray(face.image).tobytes())
    p = run_command([exe, exports["ncnn"], "--image", ppm, "--box", *[f"{v:.6f}" for v in face.bbox]])
    assert p.returncode == 0, p.stderr
    got = np.reshape(json.loads(p.stdout.strip().splitlines()[-1])["R"], (3, 3))
    np.testing.assert_allclose(got, _eval_pose(model_file)[0], atol=1e-4)
