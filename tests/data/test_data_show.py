"""``pyhpe data show`` on every format, format detection, and the drawing helpers."""

from __future__ import annotations

import numpy as np
import pytest
from support import REPO_ROOT, run_command
from support.data_fixtures import (
    face_like_points,
    write_arkitface,
    write_biwi_raw,
    write_ddpose,
    write_pose_mat_pair,
)

from pyhpe.cli import main
from pyhpe.data.biwi import write_biwi_npz
from pyhpe.data.draw import axis_endpoints, draw_sample, make_grid
from pyhpe.data.files import read_image_rgb
from pyhpe.data.sample import Sample
from pyhpe.data.sources import detect_format, open_source
from pyhpe.geometry.rotation import euler_to_matrix


def _make(fmt, root):
    if fmt == "300wlp":
        for i in range(3):
            write_pose_mat_pair(root, f"AFW/img_{i}", [10.0 * i, -20.0, 5.0], face_like_points())
        return root
    if fmt == "biwi-npz":
        write_biwi_npz(root / "b.npz", np.full((5, 64, 64, 3), 100, np.uint8), np.zeros((5, 3)))
        return root / "b.npz"
    if fmt == "biwi-raw":
        return write_biwi_raw(root, sequences=(1,), frames=(3, 4))
    if fmt == "arkitface":
        write_arkitface(root, split="train", n=2)
        return root
    if fmt == "ddpose":
        write_ddpose(root)
        return root
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["300wlp", "biwi-npz", "biwi-raw", "arkitface", "ddpose"])
def test_show_writes_a_grid_for_every_format(tmp_path, fmt, capsys):
    src = _make(fmt, tmp_path / "src")
    assert detect_format(src) == fmt
    out = tmp_path / "grid.png"
    assert main(["data", "show", str(src), "--n", "16", "--out", str(out), "--tile", "64"]) == 0
    n = len(open_source(src))
    grid = read_image_rgb(out)
    cols = int(np.ceil(np.sqrt(n)))
    assert grid.shape == (int(np.ceil(n / cols)) * 64, cols * 64, 3)
    assert f"{n} of {n} samples" in capsys.readouterr().out


def test_detect_format_errors(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        detect_format(tmp_path / "nope")
    with pytest.raises(ValueError, match="cannot tell"):
        detect_format(tmp_path)


def test_axes_project_columns_of_R():
    R = euler_to_matrix([0.0, 0.0, 90.0], degrees=True)  # roll 90°: head x -> camera y (down)
    origin, ends = axis_endpoints(R, (50, 50), 10)
    np.testing.assert_allclose(ends, [[50, 60], [40, 50], [50, 50]], atol=1e-12)
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    origin, ends = axis_endpoints(np.eye(3), None, 0, K=K, t=np.array([0, 0, 1.0]), length_m=0.1)
    np.testing.assert_allclose(origin, [50, 40])
    np.testing.assert_allclose(ends[:2], [[60, 40], [50, 50]])


def test_draw_and_grid_shapes():
    s = Sample(image=np.zeros((50, 70, 3), np.uint8), R=np.eye(3), euler=np.zeros(3),
               bbox=np.array([10.0, 10, 40, 40]), landmarks=face_like_points((25, 25), 10),
               landmarks_visible=np.arange(68) % 2 == 0)
    drawn = draw_sample(s)
    assert drawn.shape == s.image.shape and drawn.any() and not s.image.any()
    assert make_grid([drawn] * 5, tile=32).shape == (64, 96, 3)


def test_check_reports_bad_files(tmp_path, capsys):
    src = _make("300wlp", tmp_path / "src")
    assert main(["data", "check", str(src), "--no-progress"]) == 0
    (src / "AFW" / "img_1.jpg").write_bytes(b"broken")
    (src / "AFW" / "img_2.mat").unlink()
    capsys.readouterr()
    assert main(["data", "check", str(src), "--no-progress"]) == 3  # finished, bad files skipped
    captured = capsys.readouterr()
    assert "1 readable item(s), skipped 2 bad file(s)" in captured.out
    bad = captured.err.splitlines()
    assert len(bad) == 2 and all(ln.startswith("pyhpe data check: skipped ") for ln in bad)
    assert "img_1.jpg: not a readable image" in captured.err and "img_2.mat: file not found" in captured.err
    assert main(["data", "check", str(src), "--no-progress", "--strict"]) == 1
    assert "error:" in capsys.readouterr().err


def test_tools_scripts_are_thin_wrappers(tmp_path):
    import sys

    src = _make("300wlp", tmp_path / "src")
    script = REPO_ROOT / "tools" / "create_filelist.py"
    run = run_command([sys.executable, script, src, "--no-progress"])
    assert run.returncode == 0, run.stderr
    assert (src / "files.txt").read_text().splitlines() == [f"./AFW/img_{i}" for i in range(3)]


def test_show_synthetic_renders_heads(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["data", "show", "synthetic", "--n", "4", "--tile", "64", "--out", str(out)]) == 0
    grid = read_image_rgb(out)
    assert grid.shape[0] >= 64 and grid.std() > 10  # real pictures, not a blank canvas
    assert "4 synthetic heads" in capsys.readouterr().out
