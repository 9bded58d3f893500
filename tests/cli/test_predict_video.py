"""``pyhpe predict`` on videos and folders the tests write from synthetic frames: a head crossing
the frame while it turns from frontal to profile, a second head, frames without a head; boxes
from a JSON file (the true boxes, as a user's own detector would give them); bad inputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from pyhpe.cli import main
from pyhpe.data.files import write_image_rgb
from pyhpe.data.synthetic.video import HeadPath, render_clip
from pyhpe.models import create_model
from pyhpe.models.io import save_model
from pyhpe.runtime.frames import write_video

N_FRAMES = 30


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict_video")
    torch.manual_seed(0)
    save_model(create_model("sixdrepnet_repnext_m0").eval(), d / "m.safetensors",
               name="sixdrepnet_repnext_m0", input_size=64)
    paths = [HeadPath(identity=1, start=(0.25, 0.5, 0.9, 0, 0, 0), end=(0.7, 0.5, 0.9, 0, 80, 0), shown=(0, 26)),
             HeadPath(identity=2, start=(0.85, 0.35, 1.4, 0, -40, 0), shown=(5, 26))]
    clip = render_clip(paths, n_frames=N_FRAMES, width=480, height=272, hfov_deg=80.0, fps=25.0)
    write_video(d / "clip.mp4", clip.frames, fps=clip.fps)
    boxes = {"width": 480, "height": 272,
             "frames": {str(i): [[*map(float, lab["box"]), 0.9] for lab in labels]
                        for i, labels in enumerate(clip.labels) if labels}}
    (d / "boxes.json").write_text(json.dumps(boxes))
    return d, clip


def _predict(*args):
    return main(["predict", *map(str, args), "--threads", "1", "--no-progress"])


def test_video_with_boxes_file(files, tmp_path, capsys):
    d, clip = files
    out = tmp_path / "out"
    assert _predict(d / "clip.mp4", "--checkpoint", d / "m.safetensors", "--boxes", d / "boxes.json",
                    "--detect-every", "5", "-o", out) == 0
    printed = capsys.readouterr().out
    assert "frames/s end to end" in printed and "2 face id(s)" in printed
    record = json.loads((out / "clip.json").read_text())
    assert len(record["frames"]) == N_FRAMES and record["detect_every"] == 5 and record["smoothing"] is True
    assert record["unreadable_frames"] == 0 and record["pose_frame"] == "camera"
    ids_per_head = {0: set(), 1: set()}
    for frame, labels in zip(record["frames"][:26], clip.labels):
        assert len(frame["faces"]) == len(labels)
        for face in frame["faces"]:
            centre = np.add(face["box_xyxy"][:2], face["box_xyxy"][2:]) / 2
            head = min(labels, key=lambda lab: np.linalg.norm((lab["box"][:2] + lab["box"][2:]) / 2 - centre))["head"]
            ids_per_head[head].add(face["id"])
            assert np.asarray(face["R"]).shape == (3, 3) and {"pitch", "yaw", "roll", "score"} <= set(face)
    assert all(len(ids) == 1 for ids in ids_per_head.values())  # one id per head, through the turn
    assert ids_per_head[0] != ids_per_head[1]
    rows = list(csv.DictReader((out / "clip.csv").open()))
    assert len(rows) == sum(len(f["faces"]) for f in record["frames"])
    assert rows[0]["frame"] == "0" and float(rows[0]["time_s"]) == 0.0 and "R22" in rows[0] and "tx" not in rows[0]
    first = record["frames"][0]["faces"][0]
    assert float(rows[0]["yaw"]) == pytest.approx(first["yaw"], abs=1e-3)
    assert (out / "clip.mp4").stat().st_size > 0


def test_no_track_detects_every_frame_without_smoothing(files, tmp_path):
    d, _ = files
    out = tmp_path / "out"
    assert _predict(d / "clip.mp4", "--checkpoint", d / "m.safetensors", "--boxes", d / "boxes.json",
                    "--no-track", "--no-draw", "-o", out) == 0
    record = json.loads((out / "clip.json").read_text())
    assert record["smoothing"] is False and record["detect_every"] == 1
    assert all(f["detected"] for fr in record["frames"] for f in fr["faces"])
    assert not (out / "clip.mp4").exists()


def test_folder_skips_an_unreadable_image_and_says_so(files, tmp_path, capsys):
    d, clip = files
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image_rgb(folder / "a.png", clip.frames[0])
    (folder / "b.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    rc = _predict(folder, "--checkpoint", d / "m.safetensors", "-o", out, "--no-draw")
    captured = capsys.readouterr()
    assert rc == 3
    assert "skipped" in captured.err and "b.jpg" in captured.err and "Traceback" not in captured.err
    assert "skipped 1 unreadable input" in captured.out
    assert (out / "a.json").exists() and not (out / "b.json").exists()
    assert (out / "imgs.csv").exists()
    rc = _predict(folder, "--checkpoint", d / "m.safetensors", "-o", out, "--no-draw", "--strict")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "b.jpg" in err[0] and "--strict" in err[0]


@pytest.mark.parametrize("case", ["garbage_video", "boxes_size", "boxes_frames", "focal", "intrinsics_file",
                                  "boxes_without_file", "detect_every"])
def test_bad_input_is_one_line(files, tmp_path, capsys, case):
    d, _ = files
    args = [d / "clip.mp4", "--checkpoint", d / "m.safetensors", "-o", tmp_path / "out"]
    expect = {"garbage_video": "cannot open", "boxes_size": "480x272", "boxes_frames": "has only",
              "focal": "--focal", "intrinsics_file": "--intrinsics", "boxes_without_file": "--boxes",
              "detect_every": "--detect-every"}[case]
    if case == "garbage_video":
        (tmp_path / "bad.mp4").write_bytes(b"\x00\x01 not a video" * 100)
        args[0] = tmp_path / "bad.mp4"
    elif case == "boxes_size":
        (tmp_path / "b.json").write_text(json.dumps({"width": 640, "height": 480, "frames": {}}))
        args += ["--boxes", tmp_path / "b.json"]
        expect = "640x480"
    elif case == "boxes_frames":
        (tmp_path / "b.json").write_text(json.dumps({"width": 480, "height": 272, "frames": {"99": [[1, 1, 9, 9]]}}))
        args += ["--boxes", tmp_path / "b.json"]
    elif case == "focal":
        args += ["--focal", "0"]
    elif case == "intrinsics_file":
        (tmp_path / "k.json").write_text(json.dumps({"fx": -5, "fy": 5, "cx": 1, "cy": 1}))
        args += ["--intrinsics", tmp_path / "k.json"]
    elif case == "boxes_without_file":
        args += ["--detector", "boxes"]
    elif case == "detect_every":
        args += ["--detect-every", "0"]
    assert _predict(*args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pyhpe predict: error:") and expect in err[0], err


def test_intrinsics_file_and_focal_are_used(files, tmp_path):
    d, _ = files
    out = tmp_path / "out"
    (tmp_path / "k.json").write_text(json.dumps({"K": [[400, 0, 239.5], [0, 400, 135.5], [0, 0, 1]]}))
    assert _predict(d / "clip.mp4", "--checkpoint", d / "m.safetensors", "--boxes", d / "boxes.json",
                    "--intrinsics", tmp_path / "k.json", "--no-draw", "-o", out) == 0
    record = json.loads((out / "clip.json").read_text())
    assert record["intrinsics_given"] is True and record["intrinsics"][0][0] == 400
    assert _predict(d / "clip.mp4", "--checkpoint", d / "m.safetensors", "--boxes", d / "boxes.json",
                    "--focal", "500", "--no-draw", "-o", out) == 0
    record = json.loads((out / "clip.json").read_text())
    assert record["intrinsics_given"] is True and record["intrinsics"][0][0] == 500
    assert record["intrinsics"][0][2] == pytest.approx(239.5)


def test_ncnn_export_beside_the_model_is_used(files, tmp_path, capsys):
    pytest.importorskip("ncnn")
    d, clip = files
    model = tmp_path / "m.safetensors"
    model.write_bytes((d / "m.safetensors").read_bytes())
    (tmp_path / "m.json").write_bytes((d / "m.json").read_bytes())
    assert main(["export", "--checkpoint", str(model), "--format", "ncnn", "--out", str(tmp_path / "m.ncnn.param"),
                 "--no-fused"]) == 0
    write_image_rgb(tmp_path / "f.png", clip.frames[10])
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({"images": {"f.png": [[*map(float, lab["box"])] for lab in clip.labels[10]]}}))
    capsys.readouterr()
    assert _predict(tmp_path / "f.png", "--checkpoint", model, "--boxes", boxes, "-o", tmp_path / "o") == 0
    assert "ncnn export beside the model" in capsys.readouterr().out
    on_ncnn = json.loads((tmp_path / "o" / "f.json").read_text())
    assert on_ncnn["backend"] == "ncnn" and len(on_ncnn["faces"]) == 2
    assert _predict(tmp_path / "f.png", "--checkpoint", model, "--boxes", boxes, "--backend", "torch",
                    "-o", tmp_path / "t") == 0
    on_torch = json.loads((tmp_path / "t" / "f.json").read_text())
    for a, b in zip(on_ncnn["faces"], on_torch["faces"]):
        np.testing.assert_allclose(a["R"], b["R"], atol=1e-4)


def test_an_undecodable_frame_is_skipped_and_counted(files, tmp_path, capsys):
    """An MJPEG AVI whose frame 5 is zeroed out: OpenCV cannot decode it; the run goes on."""
    import cv2

    d, clip = files
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (480, 272))
    for frame in clip.frames[:10]:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]  # JPEG starts
    assert len(starts) == 10
    data[starts[5]:starts[5] + 2000] = bytes(2000)
    video.write_bytes(bytes(data))
    boxes = json.loads((d / "boxes.json").read_text())
    boxes["frames"] = {k: v for k, v in boxes["frames"].items() if int(k) < 10}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "out"
    rc = _predict(video, "--checkpoint", d / "m.safetensors", "--boxes", tmp_path / "boxes.json", "-o", out, "--no-draw")
    captured = capsys.readouterr()
    assert rc == 3 and "frame 5 could not be decoded" in captured.err and "Traceback" not in captured.err
    record = json.loads((out / "clip.json").read_text())
    assert record["unreadable_frames"] == 1
    assert [f["frame"] for f in record["frames"]] == [0, 1, 2, 3, 4, 6, 7, 8, 9]


def test_a_6dof_model_on_video_writes_t_smoothed_per_face(files, tmp_path):
    d, _ = files
    torch.manual_seed(0)
    save_model(create_model("trgv2_repnext_m0", input_size=64).eval(), tmp_path / "t.safetensors",
               name="trgv2_repnext_m0", input_size=64)
    out = tmp_path / "out"
    assert _predict(d / "clip.mp4", "--checkpoint", tmp_path / "t.safetensors", "--boxes", d / "boxes.json",
                    "--focal", "300", "-o", out) == 0
    record = json.loads((out / "clip.json").read_text())
    assert record["intrinsics_given"] is True and record["pose_frame"] == "camera"
    faces = [f for fr in record["frames"] for f in fr["faces"]]
    assert faces and all(len(f["t"]) == 3 and f["t"][2] > 0 for f in faces)
    rows = list(csv.DictReader((out / "clip.csv").open()))
    assert {"tx", "ty", "tz"} <= set(rows[0]) and float(rows[0]["tz"]) == pytest.approx(faces[0]["t"][2], abs=1e-4)
    assert (out / "clip.mp4").stat().st_size > 0  # drawn: projected face, axes from t, distance
