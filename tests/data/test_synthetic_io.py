"""Synthetic data on disk: the repo's own loaders read the renderer's output back exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from pyhpe.cli import main
from pyhpe.data.sixdof import SixDoFFolder
from pyhpe.data.synthetic import SynthConfig, render_index
from pyhpe.data.synthetic.cli import RenderedStream
from pyhpe.data.synthetic.mesh import topology
from pyhpe.data.synthetic.writer import write_dataset
from pyhpe.data.w300lp import W300LP

CFG = SynthConfig(size=128)


def test_300wlp_layout_round_trip(tmp_path):
    n = write_dataset(tmp_path, RenderedStream(CFG, 3, range(4)), "300wlp", progress=False)
    assert n == 4
    loaded = W300LP(tmp_path, filelist=tmp_path / "files.txt")
    assert len(loaded) == 4
    for i in range(4):
        want, got = render_index(CFG, 3, i), loaded[i]
        np.testing.assert_allclose(got.euler, want.euler, atol=1e-9)
        np.testing.assert_allclose(got.R, want.R, atol=1e-9)
        np.testing.assert_allclose(got.landmarks, want.landmarks, atol=1e-9)
        assert np.abs(got.image.astype(int) - want.image).mean() < 20  # JPEG of a noisy image
    mat = scipy.io.loadmat(tmp_path / "synth" / "000001.mat")
    want = render_index(CFG, 3, 1)
    assert mat["Pose_Para"].shape == (1, 7) and mat["pt2d"].shape == (2, 68)
    np.testing.assert_allclose(mat["Pose_Para"][0, :3], np.deg2rad(want.euler))
    np.testing.assert_allclose(mat["t"][0], want.t)
    np.testing.assert_array_equal(mat["pt2d_visible"][0].astype(bool), want.landmarks_visible)


def test_6dof_layout_round_trip(tmp_path):
    topo = topology(CFG.n_lat, CFG.n_lon)
    write_dataset(tmp_path, RenderedStream(CFG, 5, range(3)), "6dof", faces=topo.faces,
                  vertex_flip_index=topo.flip_index, progress=False)
    loaded = SixDoFFolder(tmp_path)
    assert len(loaded) == 3
    for i in range(3):
        want, got = render_index(CFG, 5, i), loaded[i]
        for key in ("R", "t", "K", "vertices", "landmarks", "landmarks_visible", "bbox"):
            np.testing.assert_allclose(getattr(got, key), getattr(want, key), atol=1e-12, err_msg=key)
        np.testing.assert_allclose(got.euler, want.euler, atol=1e-6)
        np.testing.assert_array_equal(got.faces, topo.faces)
    np.testing.assert_array_equal(loaded.vertex_flip_index, topo.flip_index)


def test_cli_start_names_files_by_sample_index(tmp_path):
    assert main(["data", "synth", "--out", str(tmp_path), "--n", "2", "--size", "64", "--start", "7",
                 "--no-progress"]) == 0
    assert (tmp_path / "files.txt").read_text().splitlines() == ["./synth/000007", "./synth/000008"]
    got = W300LP(tmp_path, filelist=tmp_path / "files.txt")[0]
    np.testing.assert_allclose(got.R, render_index(SynthConfig(size=64), 0, 7).R, atol=1e-12)


def test_unknown_layout_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        write_dataset(tmp_path, [], "coco")


@pytest.mark.parametrize("layout", ["300wlp", "6dof"])
def test_cli_writes_a_loadable_folder(tmp_path, layout):
    out = tmp_path / layout
    code = main(["data", "synth", "--out", str(out), "--n", "3", "--size", "96", "--seed", "4",
                 "--layout", layout, "--yaw", "-30", "30", "--identity-repeat", "2", "--no-progress"])
    assert code == 0
    meta = json.loads((out / "synth_config.json").read_text())
    assert meta["n"] == 3 and meta["config"]["size"] == 96 and meta["config"]["yaw"] == [-30.0, 30.0]
    assert meta["config"]["identity_repeat"] == 2
    assert SynthConfig(**meta["config"]) == SynthConfig(size=96, yaw=(-30.0, 30.0), identity_repeat=2)
    if layout == "300wlp":
        assert (out / "files.txt").read_text().splitlines()[0] == "./synth/000000"
    loaded = W300LP(out, filelist=out / "files.txt") if layout == "300wlp" else SixDoFFolder(out)
    assert len(loaded) == 3 and loaded[2].image.shape == (96, 96, 3)
    assert all(abs(loaded[i].euler[1]) <= 30.0 + 1e-6 for i in range(3))
