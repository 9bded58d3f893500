"""biwi-preprocess: FSA crops and labels, drop/reuse of missed frames, seeded split by sequence,
and the offline Haar detector on a real photograph shipped with matplotlib."""

from __future__ import annotations

import json

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from support.data_fixtures import biwi_head_pose, write_biwi_raw

from pyhpe.cli import main
from pyhpe.data.biwi import BIWINpz, fsa_label_from_pose_matrix
from pyhpe.data.biwi_preprocess import preprocess_biwi, split_sequences
from pyhpe.data.face_detect import HaarFaceDetector, choose_box, enlarge_box
from pyhpe.data.files import read_image_rgb


def _frame_of(image):  # fixture frames are filled with 40 + 10·frame
    return (int(image[0, 0, 0]) - 40) // 10


def fake_detector(misses=(), jumps=()):
    def detect(image):
        f = _frame_of(image)
        if f in misses:
            return np.zeros((0, 4))
        x = 300.0 if f in jumps else 200.0 + 5 * f
        return np.array([[50.0, 60.0, 20.0, 20.0], [x, 150.0, 100.0, 120.0]])  # a small false hit
    return detect


def test_enlarge_and_choose_follow_fsa():
    np.testing.assert_array_equal(enlarge_box([100, 50, 100, 200], 640, 480), [60, 0, 240, 330])
    np.testing.assert_array_equal(enlarge_box([600, 400, 100, 100], 640, 480), [560, 360, 640, 480])
    boxes = np.array([[10, 10, 50, 50], [300, 200, 80, 80], [420, 300, 30, 30]], float)
    np.testing.assert_array_equal(choose_box(boxes, 640, 480, "largest"), boxes[1])
    np.testing.assert_array_equal(choose_box(boxes, 640, 480, "fsa"), boxes[2])  # nearest (2W/3, 2H/3)
    assert choose_box(np.zeros((0, 4)), 640, 480) is None


def test_crops_and_labels_drop_mode(tmp_path):
    write_biwi_raw(tmp_path / "biwi", sequences=(1, 2), frames=(3, 4, 5), with_mesh=False)
    report = preprocess_biwi(tmp_path / "biwi", tmp_path / "out", fake_detector(misses=(4,)),
                             img_size=64, progress=False)
    assert report.frames == 6 and report.dropped == 2 and report.written == 4
    with np.load(tmp_path / "out.npz") as npz:
        assert npz["image"].shape == (4, 64, 64, 3) and int(npz["img_size"]) == 64
        expected = [fsa_label_from_pose_matrix(biwi_head_pose(s, f)[0]) for s in (1, 2) for f in (3, 5)]
        np.testing.assert_allclose(npz["pose"], expected)
        # crop of a flat frame is flat; BGR order of a grey frame is the grey value
        assert npz["image"][1].min() == npz["image"][1].max() == 90
    assert len(BIWINpz(tmp_path / "out.npz")) == 4


def test_reuse_mode_and_temporal_check(tmp_path):
    write_biwi_raw(tmp_path / "biwi", sequences=(1,), frames=(3, 4, 5, 6), with_mesh=False)
    det = fake_detector(misses=(4,), jumps=(5,))
    drop = preprocess_biwi(tmp_path / "biwi", tmp_path / "drop", det, img_size=32, progress=False)
    assert (drop.written, drop.dropped) == (2, 2)  # frame 4 missed, frame 5 jumped >= 80 px
    reuse = preprocess_biwi(tmp_path / "biwi", tmp_path / "reuse", det, img_size=32,
                            on_miss="reuse", progress=False)
    assert (reuse.written, reuse.reused, reuse.dropped) == (4, 2, 0)


def test_split_is_seeded_and_by_sequence():
    seqs = [f"{i:02d}" for i in range(1, 25)]
    train, test = split_sequences(seqs, seed=7)
    assert (len(train), len(test)) == (17, 7) and not set(train) & set(test)
    assert sorted(train + test) == seqs
    assert split_sequences(seqs, seed=7) == (train, test)
    assert split_sequences(seqs, seed=8) != (train, test)
    assert len(split_sequences(seqs, seed=7, train_count=16)[0]) == 16
    with pytest.raises(ValueError):
        split_sequences(seqs[:1], seed=0)


def test_split_outputs(tmp_path):
    write_biwi_raw(tmp_path / "biwi", sequences=(1, 2, 3, 4, 5), frames=(3,), with_mesh=False)
    kw = {"img_size": 16, "split": 0.7, "seed": 3, "progress": False}
    r1 = preprocess_biwi(tmp_path / "biwi", tmp_path / "a", fake_detector(), **kw)
    r2 = preprocess_biwi(tmp_path / "biwi", tmp_path / "b", fake_detector(), **kw)
    assert r1.train_sequences == r2.train_sequences and len(r1.train_sequences) == 4
    assert r1.outputs == {str(tmp_path / "a_train.npz"): 4, str(tmp_path / "a_test.npz"): 1}
    saved = json.loads((tmp_path / "a_split.json").read_text())
    assert saved["test_sequences"] == r1.test_sequences and saved["seed"] == 3


def _grace_hopper_frame():
    photo = read_image_rgb(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    small = cv2.resize(photo, (256, 300), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:400, 250:506] = small
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


def test_haar_detector_finds_a_real_face():
    frame = cv2.cvtColor(_grace_hopper_frame(), cv2.COLOR_BGR2RGB)
    box = choose_box(HaarFaceDetector()(frame), 640, 480)
    assert box is not None
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    # the face sits around x ≈ 250 + 0.5·(149 + 115), y ≈ 100 + 0.5·(100 + 115) in the frame
    assert abs(cx - 382) < 25 and abs(cy - 207) < 25 and 80 < box[2] < 160


def test_cli_end_to_end_with_haar(tmp_path, capsys):
    write_biwi_raw(tmp_path / "biwi", sequences=(1, 2, 3), frames=(3, 4), image=_grace_hopper_frame(),
                   with_mesh=False)
    args = ["data", "biwi-preprocess", str(tmp_path / "biwi"), str(tmp_path / "biwi_256"),
            "--split", "0.7", "--seed", "1", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "dropped 0" in out
    train, test = BIWINpz(tmp_path / "biwi_256_train.npz"), BIWINpz(tmp_path / "biwi_256_test.npz")
    assert (len(train), len(test)) == (4, 2)
    assert train[0].image.shape == (256, 256, 3)
