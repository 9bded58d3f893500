"""DD-Pose loader: TRGv2's subject splits, the frames' devkit keys, pyhpe's optional landmark file,
and the predictions writer / reader in the devkit's submission layout (folder and zip)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from support.data_fixtures import ddpose_transform, write_ddpose, write_garbage

from pyhpe.data.ddpose import (
    SPLITS,
    TEST_SUBJECTS,
    TRGV2_VAL_SUBJECTS,
    DDPose,
    pose_matrices,
    read_ddpose_predictions,
    write_ddpose_predictions,
)
from pyhpe.data.files import DataFileError
from pyhpe.data.sources import open_source


def _tree(root):
    """Subjects 1 (train), 8 (val), 3 (test), one item each with two labelled frames."""
    for subject, base in ((1, 1000), (8, 2000), (3, 3000)):
        write_ddpose(root, subject=subject, stamps=(base, base + 100), labelled=(base, base + 100),
                     humanhash=f"item-{subject}")
    return root


def test_split_subjects_are_the_papers():
    assert SPLITS["val"] == (8, 19, 23) == TRGV2_VAL_SUBJECTS
    assert SPLITS["test"] == TEST_SUBJECTS == (3, 6, 10, 11, 14, 15, 16, 17)
    assert SPLITS["train"] == (1, 2, 4, 5, 7, 9, 12, 13, 18, 20, 21, 22, 24, 25, 26, 27)  # 16
    assert SPLITS["all"] is None


@pytest.mark.parametrize("split, subjects", [("train", {1}), ("val", {8}), ("test", {3}),
                                             ("all", {1, 3, 8})])
def test_split_filters_subjects(tmp_path, split, subjects):
    data = DDPose(_tree(tmp_path), split=split)
    assert {int(s) for s in data.frames().subject} == subjects
    assert len(data) == 2 * len(subjects)
    assert len(open_source(tmp_path, "ddpose", split=split)) == len(data)


def test_default_split_is_all_and_subjects_combine(tmp_path):
    _tree(tmp_path)
    assert len(DDPose(tmp_path)) == 6 and len(open_source(tmp_path, "ddpose")) == 6
    assert len(DDPose(tmp_path, split="train", subjects=[1, 8])) == 2


def test_bad_split_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="DD-Pose split must be one of train, val, test, all, got 'dev'"):
        DDPose(_tree(tmp_path), split="dev")


def test_frames_carry_the_devkit_keys(tmp_path):
    write_ddpose(tmp_path, subject=4, scenario=7, stamps=(1000, 1100, 1200), labelled=(1000, 1200),
                 occlusion={1200: "partial-auto"})
    frames = DDPose(tmp_path).frames()
    assert len(frames) == 2
    assert frames.subject == [4, 4] and frames.scenario == [7, 7]
    assert frames.humanhash == ["tango-alpha-bravo"] * 2 and frames.stamp == [1000, 1200]
    assert frames.occlusion == ["none", "partial-auto"]
    np.testing.assert_array_equal(frames.T[1], ddpose_transform(1200))
    sub = frames.select([1])
    assert sub.stamp == [1200] and sub.T.shape == (1, 4, 4)


def test_landmark_file(tmp_path):
    item = write_ddpose(tmp_path, stamps=(1000, 1200), labelled=(1000, 1200), landmarks=True)
    s = DDPose(tmp_path)[0]
    assert s.landmarks.shape == (68, 2)
    lm = json.loads((item / "small-resolution" / "driver-left-landmarks-68.json").read_text())
    np.testing.assert_array_equal(s.landmarks, lm["1000"])
    assert DDPose(tmp_path, resolution="full").landmarks[item] == {}  # per resolution
    (item / "small-resolution" / "driver-left-landmarks-68.json").write_text(json.dumps({"1000": [[1, 2]]}))
    with pytest.raises(DataFileError, match=r"landmarks-68.json: landmarks of stamp 1000 have shape \(1, 2\)"):
        DDPose(tmp_path)
    write_garbage(item / "small-resolution" / "driver-left-landmarks-68.json")
    with pytest.raises(DataFileError, match="landmarks-68.json: not valid JSON"):
        DDPose(tmp_path)
    assert len(DDPose(tmp_path, skip_bad=True)) == 0


@pytest.mark.parametrize("name", ["preds", "preds.zip"])
def test_predictions_round_trip(tmp_path, name):
    _tree(tmp_path / "dd")
    frames = DDPose(tmp_path / "dd").frames()
    rng = np.random.default_rng(0)
    R = np.stack([ddpose_transform(s)[:3, :3] for s in frames.stamp])
    t = rng.normal(size=(len(frames), 3))
    out = write_ddpose_predictions(tmp_path / name, frames, pose_matrices(R, t), name="trgv2",
                                   metadata={"split": "all"})
    expected = {"subject-01/scenario-02/item-1/t-camdriver-head-predictions.json",
                "subject-03/scenario-02/item-3/t-camdriver-head-predictions.json",
                "subject-08/scenario-02/item-8/t-camdriver-head-predictions.json", "metadata.json"}
    if name.endswith(".zip"):
        assert set(zipfile.ZipFile(out).namelist()) == expected  # entries at the zip's root
    else:
        assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == expected
    items, meta = read_ddpose_predictions(out)
    assert meta == {"name": "trgv2", "dirname": "trgv2", "metadata": {"split": "all"}}
    assert set(items) == {"subject-01/scenario-02/item-1", "subject-03/scenario-02/item-3",
                          "subject-08/scenario-02/item-8"}
    for i, stamp in enumerate(frames.stamp):
        T = items[f"subject-{frames.subject[i]:02d}/scenario-02/item-{frames.subject[i]}"][stamp]
        np.testing.assert_array_equal(T[:3, :3], R[i])
        np.testing.assert_array_equal(T[:3, 3], t[i])
        np.testing.assert_array_equal(T[3], [0, 0, 0, 1])
    with pytest.raises(FileExistsError, match="already exists"):
        write_ddpose_predictions(out, frames, pose_matrices(R, t))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dd", name]  # no temporary left


def test_predictions_bad_input(tmp_path):
    frames = DDPose(_tree(tmp_path / "dd")).frames()
    with pytest.raises(ValueError, match=r"T_pred must be \(6, 4, 4\)"):
        write_ddpose_predictions(tmp_path / "p", frames, np.zeros((2, 4, 4)))
    bad = np.tile(np.eye(4), (6, 1, 1))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_ddpose_predictions(tmp_path / "p", frames, bad)
    assert not (tmp_path / "p").exists()
    with pytest.raises(ValueError, match=r"need \(N, 3, 3\) rotations"):
        pose_matrices(np.eye(3), np.zeros(3))
    sub = tmp_path / "sub" / "subject-01" / "scenario-02" / "x"
    sub.mkdir(parents=True)
    (sub / "t-camdriver-head-predictions.json").write_text(json.dumps({"5": [[1, 0], [0, 1]]}))
    with pytest.raises(DataFileError, match=r"stamp 5 has shape \(2, 2\)"):
        read_ddpose_predictions(tmp_path / "sub")
    write_garbage(tmp_path / "bad.zip")
    with pytest.raises(DataFileError, match="bad.zip: not a readable predictions zip"):
        read_ddpose_predictions(tmp_path / "bad.zip")
