"""Boxes from a JSON file: the two forms, lookup by key, one-line errors for bad files and inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyhpe.detect import make_detector


def _write(tmp_path, data, name="boxes.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_video_boxes(tmp_path):
    path = _write(tmp_path, {"width": 640, "height": 480,
                             "frames": {"0": [[10, 20, 110, 140, 0.9], [200, 20, 260, 90]], "3": []}})
    det = make_detector("boxes", boxes=path)
    det.check_input(width=640, height=480, n_frames=10)
    image = np.zeros((480, 640, 3), np.uint8)
    d0 = det(image, key=0)
    np.testing.assert_array_equal(d0.boxes, [[10, 20, 110, 140], [200, 20, 260, 90]])
    np.testing.assert_array_equal(d0.scores, [0.9, 1.0])
    assert len(det(image, key=1)) == 0 and len(det(image, key=np.int64(3))) == 0


def test_folder_boxes(tmp_path):
    path = _write(tmp_path, {"images": {"a.jpg": [[1, 2, 3, 4]], "sub/b.png": [[5, 6, 7, 8, 0.5]]}})
    det = make_detector("boxes", boxes=path)
    det.check_input(names=["a.jpg", "sub/b.png", "c.jpg"])
    det.check_input(names=["/data/a.jpg", "b.png"])  # the file name alone matches
    image = np.zeros((8, 8, 3), np.uint8)
    np.testing.assert_array_equal(det(image, key="a.jpg").boxes, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(det(image, key="/elsewhere/b.png").scores, [0.5])
    assert len(det(image, key="c.jpg")) == 0


@pytest.mark.parametrize("data, fragment", [
    ("{not json", "not valid JSON"),
    ([1, 2], "JSON object"),
    ({"width": 4, "height": 4}, 'exactly one of "frames"'),
    ({"frames": {}, "images": {}}, 'exactly one of "frames"'),
    ({"height": 4, "frames": {}}, 'needs "width"'),
    ({"width": 0, "height": 4, "frames": {}}, "width: must be a positive integer"),
    ({"width": 4, "height": 4, "frames": []}, "frames: expected an object"),
    ({"width": 4, "height": 4, "frames": {"x": []}}, 'frames["x"]: frame keys'),
    ({"width": 4, "height": 4, "frames": {"-1": []}}, 'frames["-1"]: frame keys'),
    ({"width": 4, "height": 4, "frames": {"0": [1, 2, 3, 4]}}, 'frames["0"][0]: a box is'),
    ({"width": 4, "height": 4, "frames": {"0": [[1, 2, 3]]}}, 'frames["0"][0]: a box is'),
    ({"width": 4, "height": 4, "frames": {"0": "box"}}, 'frames["0"]: expected a list'),
    ({"width": 4, "height": 4, "frames": {"2": [[0, 0, 1, 1], [0, "a", 1, 1]]}}, 'frames["2"][1]: box values'),
    ('{"width": 4, "height": 4, "frames": {"0": [[0, 0, NaN, 1]]}}', 'frames["0"][0]: box values'),
    ({"width": 4, "height": 4, "frames": {"0": [[0, 0, 1, True]]}}, "box values"),
    ({"width": 4, "height": 4, "frames": {"0": [[5, 0, 5, 1]]}}, "x1 must be greater than x0"),
    ({"width": 4, "height": 4, "frames": {"0": [[0, 3, 5, 1]]}}, "y1 must be greater than y0"),
    ({"images": {"a.jpg": [[0, 0, 1, 1, "high"]]}}, 'images["a.jpg"][0]: box values'),
])
def test_bad_file_is_one_line_naming_file_and_entry(tmp_path, data, fragment):
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as excinfo:
        make_detector("boxes", boxes=path)
    msg = _one_line(excinfo)
    assert msg.startswith(str(path)) and fragment in msg


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        make_detector("boxes", boxes=tmp_path / "none.json")
    assert "boxes file not found" in _one_line(excinfo)


def test_file_that_does_not_match_the_input(tmp_path):
    video = make_detector("boxes", boxes=_write(tmp_path, {"width": 640, "height": 480,
                                                           "frames": {"12": [[0, 0, 9, 9]]}}))
    with pytest.raises(ValueError) as e:
        video.check_input(width=1280, height=720, n_frames=100)
    assert "640x480 video, but the video is 1280x720" in _one_line(e)
    with pytest.raises(ValueError) as e:
        video.check_input(width=640, height=480, n_frames=12)
    assert 'frames["12"]: the video has only 12 frames' in _one_line(e)
    with pytest.raises(ValueError, match="input is images, not a video"):
        video.check_input(width=640, height=480, names=["a.jpg"])
    with pytest.raises(ValueError, match="by frame index"):
        video(np.zeros((4, 4, 3), np.uint8), key="a.jpg")
    with pytest.raises(ValueError, match="needs the frame index"):
        video(np.zeros((4, 4, 3), np.uint8))
    folder = make_detector("boxes", boxes=_write(tmp_path, {"images": {"a.jpg": [], "z.jpg": [], "y.jpg": []}},
                                                 "f.json"))
    with pytest.raises(ValueError) as e:
        folder.check_input(names=["a.jpg"])
    assert 'images["z.jpg"] and 1 more not among the input images' in _one_line(e)
    with pytest.raises(ValueError, match="input is a video"):
        folder.check_input(width=640, height=480, n_frames=10)
