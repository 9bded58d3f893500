"""The dataset fixture writers (tests/support/data_fixtures.py) write each format's layout."""

from __future__ import annotations

import scipy.io
from support.data_fixtures import face_like_points, write_pose_mat_pair, write_rgb_cal


def test_pose_mat_writer_uses_matlab_layout(tmp_path):
    write_pose_mat_pair(tmp_path, "a/x", [1, 2, 3], face_like_points())
    mat = scipy.io.loadmat(tmp_path / "a" / "x.mat")
    assert mat["Pose_Para"].shape == (1, 7) and mat["pt2d"].shape == (2, 68)


def test_biwi_cal_writer_has_the_published_line_structure(tmp_path):
    write_rgb_cal(tmp_path / "rgb.cal")
    lines = (tmp_path / "rgb.cal").read_text().splitlines()
    assert [len(line.split()) for line in lines] == [3, 3, 3, 0, 4, 0, 3, 3, 3, 0, 3, 0, 2]
