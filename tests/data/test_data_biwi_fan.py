"""BIWI test crops in the released TRGv2 protocol: FAN landmarks from ``annot_mtcnn_fan.pkl`` (read
with the restricted unpickler) → the 1.5× box shifted inside the image; frames without a
prediction counted and skipped; the crop box reaching the TRGv2 crop."""

from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pytest
from support.data_fixtures import biwi_fan_landmarks, write_biwi_fan, write_biwi_raw, write_garbage

from pyhpe.data.biwi_fan import fan_crop_box, fan_frame_key, read_fan_annotations
from pyhpe.data.biwi_raw import BIWIRaw
from pyhpe.data.sixdof_crop import SixDoFCrop
from pyhpe.data.sources import detect_format, open_source
from pyhpe.models.card import CropRule
from pyhpe.models.trg.official import UntrustedPickleError
from pyhpe.tasks import get_task

W, H = 640, 480


def _expected_box(landmarks) -> list[int]:
    """The closed form: centre c and size s of the (x, y) extent, corners int(c ∓ 0.75 s), then the
    box moved by whole pixels so that 0 <= left, right <= W − 1, 0 <= top, bottom <= H − 1."""
    xy = np.asarray(landmarks, np.float64)[:, :2]
    c, s = (xy.min(0) + xy.max(0)) / 2, (xy.max(0) - xy.min(0)).max()
    lo = [int(c[0] - 0.75 * s), int(c[1] - 0.75 * s)]
    hi = [int(c[0] + 0.75 * s), int(c[1] + 0.75 * s)]
    for i, limit in enumerate((W - 1, H - 1)):
        shift = max(0, -lo[i])
        shift -= max(0, hi[i] + shift - limit)
        lo[i], hi[i] = lo[i] + shift, hi[i] + shift
    return [lo[0], lo[1], hi[0], hi[1]]


@pytest.fixture
def biwi(tmp_path):
    root = write_biwi_raw(tmp_path)
    return root, root / "hpdb"


def test_fan_box_closed_form_and_shifted_not_shrunk():
    # x in [-10, 50], y in [100, 140]: centre (20, 120), s = 60 -> (-25, 75, 65, 165) -> shifted right by 25
    lm = np.c_[np.linspace(-10, 50, 68), np.linspace(100, 140, 68)]
    np.testing.assert_array_equal(fan_crop_box(lm, W, H), [0, 75, 90, 165])
    # x in [590, 630], y in [420, 470]: (572, 407, 647, 482) -> left by 8, up by 3
    lm = np.c_[np.linspace(590, 630, 68), np.linspace(420, 470, 68)]
    np.testing.assert_array_equal(fan_crop_box(lm, W, H), [564, 404, 639, 479])
    rng = np.random.default_rng(0)
    for _ in range(200):
        lm = rng.uniform([-50, -50], [W + 50, H + 50], (68, 2)) * rng.uniform(0.05, 0.4) + rng.uniform(0, 500, 2)
        box = fan_crop_box(lm, W, H)
        np.testing.assert_array_equal(box, _expected_box(lm))
        raw = _expected_box(lm)
        assert box[2] - box[0] == raw[2] - raw[0] and box[3] - box[1] == raw[3] - raw[1]


def test_reader_official_layout_and_keys(biwi):
    _, hpdb = biwi
    path = write_biwi_fan(hpdb)
    fan = read_fan_annotations(path)
    assert fan.frames == [f"{s:02d}/frame_{f:05d}_rgb.png" for s in (1, 2) for f in (3, 4, 5)]
    assert len(fan) == 6
    np.testing.assert_array_equal(fan.get(hpdb / "02" / "frame_00004_rgb.png"), biwi_fan_landmarks(2, 4)[:, :2])
    assert fan_frame_key("/data/BIWI/kinect_head_pose_db/hpdb/07/frame_00012_rgb.png") == "07/frame_00012_rgb.png"
    assert fan_frame_key("07\\frame_00012_rgb.png") == "07/frame_00012_rgb.png"
    # the other accepted layouts: a pred_kpt list parallel to img_path; a list of records
    keys = fan.frames
    with open(hpdb / "parallel.pkl", "wb") as fh:
        pickle.dump({"img_path": keys, "pred_kpt": [fan.landmarks[k] for k in keys[:-1]] + [None]}, fh)
    par = read_fan_annotations(hpdb / "parallel.pkl")
    assert len(par) == 5 and par.get(keys[-1]) is None
    with open(hpdb / "records.pkl", "wb") as fh:
        pickle.dump([{"img_path": k, "pred_kpt": fan.landmarks[k]} for k in keys], fh)
    assert sorted(read_fan_annotations(hpdb / "records.pkl").landmarks) == sorted(keys)


def test_loader_crop_boxes_follow_the_official_rule(biwi):
    root, hpdb = biwi
    lm = {(1, 3): np.c_[np.linspace(-10, 50, 68), np.linspace(100, 140, 68), np.zeros(68)],
          (2, 5): np.c_[np.linspace(590, 630, 68), np.linspace(420, 470, 68)]}
    data = BIWIRaw(root, fan_annotations=write_biwi_fan(hpdb, landmarks=lm))
    assert len(data) == 6 and data.fan_skipped == []
    for s in data:
        key = fan_frame_key(s.source)
        seq, frame = int(key[:2]), int(key[9:14])
        expect = lm.get((seq, frame), biwi_fan_landmarks(seq, frame))
        np.testing.assert_array_equal(s.extra["crop_box"], _expected_box(expect))
        np.testing.assert_allclose(s.extra["fan_landmarks"], np.asarray(expect, np.float32)[:, :2])
    np.testing.assert_array_equal(data[0].extra["crop_box"], [0, 75, 90, 165])
    np.testing.assert_array_equal(data[5].extra["crop_box"], [564, 404, 639, 479])
    # the TRGv2 test crop uses the box as is (official convention) through the task and the card
    task = get_task("trgv2_6dof")
    rule = CropRule(kind="landmark_box", margin=0.5, resize=224, convention="official")
    out = task.test_transform(rule, 64, {})(data[5])
    np.testing.assert_array_equal(out["box"][:4].numpy(), [564, 404, 639, 479])
    assert out["image"].shape == (3, 64, 64) and not out["landmarks_visible"].any()
    ours = SixDoFCrop(64, None, output="sample")(data[5])  # the default convention squares its width
    np.testing.assert_array_equal(ours.extra["box_info"][:4], [564, 404, 639, 479])


def test_frames_without_a_prediction_are_counted_and_skipped(biwi, caplog):
    root, hpdb = biwi
    path = write_biwi_fan(hpdb, missing=((2, 4), (1, 5)))
    with caplog.at_level(logging.WARNING, logger="pyhpe.data.biwi_raw"):
        data = BIWIRaw(root, fan_annotations=path)
    assert len(data) == 4
    assert data.fan_skipped == ["01/frame_00005_rgb.png", "02/frame_00004_rgb.png"]
    assert "2 of 6 frames have no FAN prediction" in caplog.text
    assert all("crop_box" in s.extra for s in data)
    # the path of the pickle names the protocol: format detection and open_source
    assert detect_format(path) == "biwi-raw"
    via = open_source(path)
    assert isinstance(via, BIWIRaw) and len(via) == 4 and via.fan_skipped == data.fan_skipped
    assert "crop_box" not in open_source(root)[0].extra  # the folder: no FAN crops


def test_malicious_pickle_is_refused_before_it_runs(biwi, tmp_path):
    _, hpdb = biwi
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = hpdb / "annot_mtcnn_fan.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"img_path": ["01/frame_00003_rgb.png"], "pred_kpt": Exploit()}, fh)
    with pytest.raises(UntrustedPickleError, match=r"refusing to load (posix|os|nt)\.system from .*annot_mtcnn_fan.pkl"):
        read_fan_annotations(path)
    with pytest.raises(ValueError, match="refusing to load"):
        open_source(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    ([1, 2, 3], "record 0 is not a dict with 'img_path'"),
    ({"img_path": []}, "not a FAN annotation file: no 'pred_kpt' key"),
    ({"img_path": ["01/frame_00003_rgb.png"], "pred_kpt": {"01/frame_00003_rgb.png": np.zeros((67, 3))}},
     r"pred_kpt\['01/frame_00003_rgb.png'\]: expected \(68, 2\) or \(68, 3\) numbers, got float64 \(67, 3\)"),
    ({"pred_kpt": {"01/frame_00003_rgb.png": np.full((68, 2), np.nan)}},
     r"pred_kpt\['01/frame_00003_rgb.png'\]: non-finite landmark coordinates"),
    ({"img_path": ["a", "b"], "pred_kpt": [np.zeros((68, 2))]}, "a pred_kpt list needs an img_path list of the same length"),
    ({"img_path": "01/frame_00003_rgb.png", "pred_kpt": {}}, "img_path must be a list"),
    ({"pred_kpt": 5}, "pred_kpt must be a dict"),
    (np.zeros(3), "not a FAN annotation file: expected a dict or a list, got ndarray"),
])
def test_bad_annotation_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "annot_mtcnn_fan.pkl"
    with open(path, "wb") as fh:
        pickle.dump(content, fh)
    with pytest.raises(ValueError, match=f"annot_mtcnn_fan.pkl: {message}"):
        read_fan_annotations(path)


def test_unreadable_and_missing_annotation_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pkl"):
        read_fan_annotations(tmp_path / "nowhere.pkl")
    write_garbage(tmp_path / "bad.pkl")
    with pytest.raises(ValueError, match="bad.pkl"):
        read_fan_annotations(tmp_path / "bad.pkl")


def test_trimesh_arrays_in_the_mesh_entry_read_as_plain_arrays(tmp_path, monkeypatch):
    """The released preprocessing stores trimesh's vertex arrays (an ndarray subclass) under
    'mesh': the restricted reader rebuilds them as plain arrays (nothing of trimesh runs)."""
    import sys
    import types

    caching = types.ModuleType("trimesh.caching")

    class TrackedArray(np.ndarray):
        def __setstate__(self, state):  # would run if the class itself were used
            raise AssertionError("trimesh code ran")

    TrackedArray.__module__, TrackedArray.__qualname__ = "trimesh.caching", "TrackedArray"
    caching.TrackedArray = TrackedArray
    monkeypatch.setitem(sys.modules, "trimesh", types.ModuleType("trimesh"))
    monkeypatch.setitem(sys.modules, "trimesh.caching", caching)
    path = tmp_path / "annot_mtcnn_fan.pkl"
    key = "01/frame_00003_rgb.png"
    with open(path, "wb") as fh:
        mesh = {"01": {"vertices": np.arange(9.0).reshape(3, 3).view(TrackedArray)}}
        pickle.dump({"img_path": [key], "pred_kpt": {key: np.full((68, 2), 100.0)}, "mesh": mesh}, fh)
    monkeypatch.delitem(sys.modules, "trimesh.caching")
    fan = read_fan_annotations(path)
    assert key in fan.landmarks
