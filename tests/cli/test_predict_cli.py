"""``pyhpe predict``: image, folder and video in, annotated output + JSON out, clear errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from pyhpe.cli import main
from pyhpe.data.files import write_image_rgb
from pyhpe.geometry import crop_rotation_to_camera
from pyhpe.metrics.rotation import matrix_to_euler_deg
from pyhpe.models import create_model
from pyhpe.models.io import save_model
from pyhpe.runtime import Predictor
from pyhpe.runtime.preprocess import crop_box, default_intrinsics


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A model file and a synthetic face the Haar cascade finds (seed 0, index 11, 320 px)."""
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    d = tmp_path_factory.mktemp("predict")
    torch.manual_seed(0)
    save_model(create_model("sixdrepnet_repnext_m0").eval(), d / "m.safetensors",
               name="sixdrepnet_repnext_m0", input_size=64)
    ds = SyntheticHeads(n=20, seed=0, config=SynthConfig(size=320))
    face = ds[11].image
    write_image_rgb(d / "face.png", face)
    return d, face


def test_image(setup, tmp_path):
    d, face = setup
    rc = main(["predict", str(d / "face.png"), "--model", str(d / "m.safetensors"),
               "-o", str(tmp_path), "--threads", "1"])
    assert rc == 0
    record = json.loads((tmp_path / "face.json").read_text())
    assert record["backend"] == "torch"
    assert len(record["faces"]) == 1
    f = record["faces"][0]
    # the JSON is the Predictor's answer on the detected box, turned into the camera frame by the
    # viewing ray through the crop's centre (unknown intrinsics: f = W + H, image centre)
    p = Predictor(d / "m.safetensors")
    ref = p.predict_faces(face, [f["box_xyxy"]])
    K = default_intrinsics(*face.shape[:2])
    R_cam = crop_rotation_to_camera(ref["R"], [crop_box(f["box_xyxy"], p.card.crop)], K)
    np.testing.assert_allclose(f["R"], R_cam[0], atol=1e-5)
    np.testing.assert_allclose([f["pitch"], f["yaw"], f["roll"]], matrix_to_euler_deg(R_cam)[0], atol=1e-3)
    assert record["pose_frame"] == "camera" and record["intrinsics_given"] is False
    # --pose-frame crop: exactly the model's answer
    assert main(["predict", str(d / "face.png"), "--checkpoint", str(d / "m.safetensors"), "-o", str(tmp_path),
                 "--pose-frame", "crop", "--no-draw"]) == 0
    g = json.loads((tmp_path / "face.json").read_text())["faces"][0]
    np.testing.assert_allclose(g["R"], ref["R"][0], atol=1e-5)
    np.testing.assert_allclose([g["pitch"], g["yaw"], g["roll"]], ref["euler_deg"][0], atol=1e-3)
    drawn = cv2.imread(str(tmp_path / "face.jpg"))
    assert drawn is not None and drawn.shape == face.shape


def test_folder_and_video(setup, tmp_path):
    d, face = setup
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image_rgb(folder / "a.png", face)
    write_image_rgb(folder / "b.png", np.zeros((100, 120, 3), np.uint8))  # no face
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--model", str(d / "m.safetensors"), "-o", str(out)]) == 0
    assert len(json.loads((out / "a.json").read_text())["faces"]) == 1
    assert json.loads((out / "b.json").read_text())["faces"] == []

    video = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 320))
    for _ in range(3):
        w.write(cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    w.release()
    assert main(["predict", str(video), "--model", str(d / "m.safetensors"), "-o", str(out)]) == 0
    rec = json.loads((out / "clip.json").read_text())
    assert len(rec["frames"]) == 3
    assert (out / "clip.mp4").stat().st_size > 0


def test_errors(setup, tmp_path, capsys):
    d, _ = setup
    assert main(["predict", str(tmp_path / "none.jpg"), "--model", str(d / "m.safetensors")]) == 1
    assert "input not found" in capsys.readouterr().err
    assert main(["predict", str(d / "face.png"), "--model", str(tmp_path / "x.onnx")]) == 1
    assert "ONNX model not found" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["predict", str(tmp_path / "notes.txt"), "--model", str(d / "m.safetensors")]) == 1
    assert "not an image" in capsys.readouterr().err


def test_checkpoint_and_out_spellings(setup, tmp_path, capsys):
    """`--checkpoint PATH` (a model file) and `--out DIR` (`-o`) are the flags; the older `--model`
    and `--output` still work as hidden aliases that print a deprecation note."""
    d, _ = setup
    out = tmp_path / "new"
    assert main(["predict", str(d / "face.png"), "--checkpoint", str(d / "m.safetensors"), "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert len(json.loads((out / "face.json").read_text())["faces"]) == 1
    old = tmp_path / "old"
    assert main(["predict", str(d / "face.png"), "--model", str(d / "m.safetensors"), "--output", str(old)]) == 0
    err = capsys.readouterr().err
    assert "--model is deprecated; use --checkpoint" in err and "--output is deprecated; use --out" in err
    assert (old / "face.json").read_text() == (out / "face.json").read_text()


def test_usage_errors_exit_2(setup, capsys):
    d, _ = setup
    assert main(["predict", str(d / "face.png")]) == 2  # no --checkpoint
    assert "--checkpoint" in capsys.readouterr().err
    assert main(["predict", str(d / "face.png"), "--checkpoint", "a", "--model", "b"]) == 2
    assert main(["predict", str(d / "face.png"), "--checkpoint", "a", "--backend", "tflite"]) == 2


def test_failures_are_one_line(setup, tmp_path, capsys):
    d, _ = setup
    assert main(["predict", str(d / "face.png"), "--checkpoint", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pyhpe predict: error:") and "not found" in err[0]


def test_trgv2_model_prints_and_writes_t(setup, tmp_path, capsys):
    """A TRGv2 model file: each face's R and t (metres) in the JSON, t on the console; the
    intrinsics are TRGv2's assumption (f = W + H, image centre) unless --intrinsics gives them."""
    d, face = setup
    torch.manual_seed(0)
    save_model(create_model("trgv2_repnext_m0", input_size=64).eval(), tmp_path / "t.safetensors",
               name="trgv2_repnext_m0", input_size=64)
    out = tmp_path / "out"
    assert main(["predict", str(d / "face.png"), "--checkpoint", str(tmp_path / "t.safetensors"),
                 "-o", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "face.json").read_text())
    assert record["intrinsics_given"] is False and record["intrinsics"][0][0] == 320 + 320
    (f,) = record["faces"]
    assert np.asarray(f["R"]).shape == (3, 3) and len(f["t"]) == 3 and f["t"][2] > 0
    assert "t = (" in printed and f"{f['t'][2]:+.3f}" in printed
    ref = Predictor(tmp_path / "t.safetensors").predict_faces(face, [f["box_xyxy"]])
    np.testing.assert_allclose(f["t"], ref["t"][0], atol=1e-6)
    # given intrinsics change the translation (a longer focal length: a farther head)
    assert main(["predict", str(d / "face.png"), "--checkpoint", str(tmp_path / "t.safetensors"),
                 "-o", str(out), "--intrinsics", "1280,1280,160,160", "--no-draw"]) == 0
    given = json.loads((out / "face.json").read_text())
    assert given["intrinsics_given"] is True and given["faces"][0]["t"][2] > f["t"][2]
    assert main(["predict", str(d / "face.png"), "--checkpoint", str(tmp_path / "t.safetensors"),
                 "--intrinsics", "1,2,3"]) == 1
    assert "fx,fy,cx,cy" in capsys.readouterr().err
