"""`pyhpe bench detect`, the synthetic measurement: its scoring with an oracle detector, and the
command's outputs."""

from __future__ import annotations

import json

import numpy as np

from pyhpe.bench.detect import frame_yaw, head_frame, measure, score_frame
from pyhpe.cli import main
from pyhpe.detect import Detections

SIZE, HEAD = (160, 120), (40.0, 80.0)


def test_score_frame():
    head, lm = np.array([10, 10, 110, 130.0]), np.array([30, 50, 90, 120.0])
    found, fp, dup = score_frame(np.array([[12, 12, 108, 128], [14, 14, 106, 126], [200, 0, 260, 60]]),
                                 head, lm, 0.4)
    assert (found, fp, dup) == (True, 1, 1)
    assert score_frame(np.zeros((0, 4)), head, lm, 0.4) == (False, 0, 0)


def test_frames_are_reproducible_and_yaw_bins_cycle():
    a = head_frame(3, 1, frame_yaw(3, 1), *SIZE, HEAD)
    b = head_frame(3, 1, frame_yaw(3, 1), *SIZE, HEAD)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].shape == (120, 160, 3) and 40 <= a[1][3] - a[1][1] <= 80
    assert [int(abs(frame_yaw(3, i)) // 15) for i in range(12)] == [0, 1, 2, 3, 4, 5] * 2


def test_oracle_detector_scores_every_head_and_one_false_positive():
    def oracle(image, key):
        head = head_frame(5, key, frame_yaw(5, key), *SIZE, HEAD)[1]
        return Detections([head, [0, 0, 5, 5]], [1.0, 0.5])

    r = measure(oracle, frames=6, seed=5, width=SIZE[0], height=SIZE[1], head_px=HEAD)
    assert r["total"]["rate"] == 1.0 and r["total"]["false_pos_per_frame"] == 1.0
    assert [b["frames"] for b in r["bins"]] == [1] * 6


def test_command_writes_results(tmp_path):
    out = tmp_path / "m"
    assert main(["bench", "detect", "--frames", "2", "--seed", "2", "--size", *map(str, SIZE), "--head-px", "40", "80",
                 "--examples", "1", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["seed"] == 2 and len(results["bins"]) == 6 and "cpu" in results
    assert (out / "table.md").read_text().count("\n") >= 8
    assert (out / "detection_rate.png").stat().st_size > 0 and (out / "examples" / "frame000.jpg").exists()


def test_help_and_errors(capsys, tmp_path):
    assert main(["bench", "detect", "--help"]) == 0
    assert "--frames" in capsys.readouterr().out
    assert main(["bench", "detect", "--detector", "yunet", "--out", str(tmp_path / "y")]) == 1
    assert "--detector-weights" in capsys.readouterr().err
