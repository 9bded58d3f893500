"""300W-LP / AFLW2000 (.jpg + .mat) loaders and 6DRepNet's file list, on fixtures in that format."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from support.data_fixtures import face_like_points, write_garbage, write_pose_mat_pair

from pyhpe.cli import main
from pyhpe.data.aflw2000 import AFLW2000
from pyhpe.data.filelist import build_filelist, read_filelist, write_filelist
from pyhpe.data.files import DataFileError
from pyhpe.data.w300lp import W300LP


def _closed_form_R(p, y, r):
    """6DRepNet's get_R(pitch, yaw, roll) written out element by element (radians)."""
    cp, sp, cy, sy, cr, sr = np.cos(p), np.sin(p), np.cos(y), np.sin(y), np.cos(r), np.sin(r)
    return np.array([
        [cy * cr, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ])


@pytest.fixture
def w300lp_root(tmp_path):
    root = tmp_path / "300W_LP"
    write_pose_mat_pair(root, "AFW/AFW_134212_1_0", [10.0, -35.0, 5.0], face_like_points(rng=np.random.default_rng(1)))
    write_pose_mat_pair(root, "AFW/AFW_134212_1_1", [99.0, 0.0, -99.0], face_like_points())
    write_pose_mat_pair(root, "HELEN/HELEN_1_0", [-20.0, 99.5, 0.0], face_like_points())  # filtered
    write_pose_mat_pair(root, "HELEN/HELEN_2_0", [0.0, -100.0, 0.0], face_like_points())  # filtered
    write_pose_mat_pair(root, "IBUG/IBUG_image_0", [-30.0, 60.0, 20.0], face_like_points())
    return root


def test_labels_read_back_in_6drepnet_convention(w300lp_root):
    pts = face_like_points(rng=np.random.default_rng(1))
    data = W300LP(w300lp_root)
    assert len(data) == 5
    s = data[0]
    assert s.source.endswith("AFW/AFW_134212_1_0.jpg") and s.subject == "AFW"
    np.testing.assert_allclose(s.euler, [10.0, -35.0, 5.0], atol=1e-5)  # float32 in the .mat
    np.testing.assert_allclose(s.R, _closed_form_R(*np.deg2rad(s.euler)), atol=1e-12)
    np.testing.assert_allclose(s.landmarks, pts, atol=1e-4)
    np.testing.assert_allclose(s.bbox, [*pts.min(0), *pts.max(0)], atol=1e-4)
    assert s.image.shape == (120, 160, 3) and s.image.dtype == np.uint8
    np.testing.assert_allclose(s.image.reshape(-1, 3).mean(0), [200, 90, 30], atol=3)  # RGB
    assert s.extra["pose_para"].shape == (7,)


def test_filelist_filter_and_exact_format(w300lp_root):
    result = build_filelist(w300lp_root, progress=False)
    assert result.kept == ["./AFW/AFW_134212_1_0", "./AFW/AFW_134212_1_1", "./IBUG/IBUG_image_0"]
    assert result.rejected == 2
    out = w300lp_root / "files.txt"
    write_filelist(result.kept, out)
    assert out.read_text() == "./AFW/AFW_134212_1_0\n./AFW/AFW_134212_1_1\n./IBUG/IBUG_image_0"
    assert read_filelist(out) == result.kept
    data = W300LP(w300lp_root, filelist=out)
    assert len(data) == 3
    np.testing.assert_allclose(data[1].euler, [99.0, 0.0, -99.0], atol=1e-4)  # ±99 is inclusive


def test_filelist_command_writes_files_txt(w300lp_root, capsys):
    assert main(["data", "filelist", str(w300lp_root), "--no-progress"]) == 0
    assert "kept 3, rejected 2" in capsys.readouterr().out
    assert (w300lp_root / "files.txt").read_text().count("\n") == 2  # no trailing newline


def test_aflw2000_keeps_negative_points_and_pt3d(tmp_path):
    pts = face_like_points(centre=(10.0, 5.0), scale=30.0)
    assert (pts < 0).any()
    pt3d = np.arange(3 * 68, dtype=float).reshape(3, 68)
    write_pose_mat_pair(tmp_path, "image00002", [-5.0, 20.0, 1.0], pts, extra={"pt3d_68": pt3d})
    s = AFLW2000(tmp_path)[0]
    np.testing.assert_allclose(s.landmarks, pts, atol=1e-4)
    np.testing.assert_allclose(s.extra["pt3d_68"], pt3d)
    np.testing.assert_allclose(s.euler, [-5.0, 20.0, 1.0], atol=1e-5)


def test_missing_mat_names_the_file(w300lp_root):
    (w300lp_root / "IBUG" / "IBUG_image_0.mat").unlink()
    data = W300LP(w300lp_root)
    with pytest.raises(DataFileError, match="IBUG_image_0.mat.*not found"):
        data.sample(4)
    with pytest.raises(DataFileError, match="IBUG_image_0.mat"):
        build_filelist(w300lp_root, progress=False)


def test_corrupt_files_name_the_file(w300lp_root):
    write_garbage(w300lp_root / "AFW" / "AFW_134212_1_1.mat")
    write_garbage(w300lp_root / "IBUG" / "IBUG_image_0.jpg")
    data = W300LP(w300lp_root)
    with pytest.raises(DataFileError, match="AFW_134212_1_1.mat: not a readable .mat"):
        data.sample(1)
    with pytest.raises(DataFileError, match="IBUG_image_0.jpg: not a readable image"):
        data.sample(4)


def test_mat_without_pose_para_names_the_key(tmp_path):
    write_pose_mat_pair(tmp_path, "x", [0, 0, 0], face_like_points())
    scipy.io.savemat(tmp_path / "x.mat", {"pt2d": np.zeros((2, 68))})
    with pytest.raises(DataFileError, match=r"x.mat: missing key\(s\) \['Pose_Para'\]"):
        W300LP(tmp_path)[0]


def test_skip_bad_skips_and_counts(w300lp_root):
    (w300lp_root / "AFW" / "AFW_134212_1_0.mat").unlink()  # missing: dropped at construction
    write_garbage(w300lp_root / "IBUG" / "IBUG_image_0.mat")  # corrupt: skipped when read
    data = W300LP(w300lp_root, skip_bad=True)
    assert len(data) == 4 and data.skipped == 1
    sources = [data[i].source for i in range(len(data))]
    sources += [data[i].source for i in range(len(data))]  # a second epoch: the bad item counts once
    assert data.skipped == 2
    assert not any("IBUG" in s for s in sources)
    result = build_filelist(w300lp_root, skip_bad=True, progress=False)
    assert [p.rsplit("/", 1)[1] for p in result.bad] == ["AFW_134212_1_0.mat", "IBUG_image_0.mat"]


def test_missing_root_and_list_name_the_path(tmp_path):
    with pytest.raises(DataFileError, match="nowhere"):
        W300LP(tmp_path / "nowhere")
    with pytest.raises(DataFileError, match="files.txt: file not found"):
        W300LP(tmp_path, filelist=tmp_path / "files.txt")


def test_dataloader_batches_transformed_samples(w300lp_root):
    import torch
    from torch.utils.data import DataLoader

    from pyhpe.data.transforms import SixDRepNetTest

    data = W300LP(w300lp_root, transform=SixDRepNetTest())
    batch = next(iter(DataLoader(data, batch_size=4, num_workers=2)))
    assert batch["image"].shape == (4, 3, 224, 224) and batch["image"].dtype == torch.float32
    assert batch["R"].shape == (4, 3, 3) and batch["euler"].shape == (4, 3)
