"""6DoF sources: ARKitFace (OpenGL -> OpenCV), pyhpe's 6DoF folder, DD-Pose."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.data_fixtures import (
    DDPOSE_K,
    arkit_pose_gl,
    arkit_verts_gl,
    ddpose_transform,
    write_arkitface,
    write_ddpose,
    write_garbage,
)

from pyhpe.data.arkitface import ARKIT_LANDMARK_IDS, ARKitFace, arkit_intrinsics
from pyhpe.data.ddpose import DDPose
from pyhpe.data.files import DataFileError
from pyhpe.data.sample import Sample
from pyhpe.data.sixdof import SixDoFFolder, write_sixdof_dataset
from pyhpe.geometry.camera import project_points
from pyhpe.geometry.rotation import euler_to_matrix

PERSPNET_PROJECTION = np.array([[1.57443701, 0, 0, 0], [0, 1.57443701, 0, 0],
                                [0, 0, -0.99999976, -1], [0, 0, -0.001, 0]])

# ---- ARKitFace ---------------------------------------------------------------------------------


def _gl_pixels(verts_gl, R_t, width, height):
    """PerspNet's OpenGL route: [v,1]·R_t·P, divide by w, viewport, then y -> H − y."""
    clip = np.c_[verts_gl, np.ones(len(verts_gl))] @ R_t @ PERSPNET_PROJECTION
    ndc = clip[:, :2] / clip[:, 3:4]
    u = (ndc[:, 0] + 1) * width / 2
    v = height - (ndc[:, 1] + 1) * height / 2
    return np.c_[u, v]


def test_arkitface_converts_gl_to_cv_exactly(tmp_path):
    write_arkitface(tmp_path, split="test", n=3, size=200)
    data = ARKitFace(tmp_path, split="test")
    assert len(data) == 3
    D = np.diag([1.0, -1.0, -1.0])
    for i in range(3):
        s = data[i]
        R_gl, t_gl = arkit_pose_gl(i)
        np.testing.assert_allclose(s.R, D @ R_gl @ D, atol=1e-12)
        np.testing.assert_allclose(s.t, D @ t_gl, atol=1e-12)
        assert s.t[2] > 0  # in front of an OpenCV camera
        np.testing.assert_allclose(s.vertices, arkit_verts_gl(i) @ D)
        np.testing.assert_allclose(s.K, arkit_intrinsics(200, 200))
        R_t = np.eye(4)
        R_t[:3, :3], R_t[3, :3] = R_gl.T, t_gl
        gl = _gl_pixels(arkit_verts_gl(i)[ARKIT_LANDMARK_IDS], R_t, 200, 200)
        np.testing.assert_allclose(s.landmarks, gl, atol=1e-6)
        np.testing.assert_allclose(s.bbox, [*gl.min(0), *gl.max(0)], atol=1e-6)
        assert s.subject == "225579" and s.extra["facial_action"] == "09_LeftToRight_Frown"
    assert len(ARKIT_LANDMARK_IDS) == 68 and len(set(ARKIT_LANDMARK_IDS.tolist())) == 68
    assert s.faces is None
    (tmp_path / "ARKitFace_resources").mkdir()
    np.save(tmp_path / "ARKitFace_resources" / "triangles.npy", np.array([[0, 1, 2], [1, 2, 3]], np.int32))
    np.testing.assert_array_equal(ARKitFace(tmp_path, split="test")[0].faces, [[0, 1, 2], [1, 2, 3]])


def test_arkitface_bad_files(tmp_path):
    rows = write_arkitface(tmp_path, split="train", n=3)
    info = tmp_path / "ARKitFace_info_train" / "info" / rows[0][0] / rows[0][1]
    (info / f"{rows[0][2]}_info.npz").unlink()
    write_garbage(tmp_path / "ARKitFace_image_train" / "image" / rows[1][0] / rows[1][1] / f"{rows[1][2]}_ar.jpg")
    np.savez(info / f"{rows[2][2]}_info.npz", verts=arkit_verts_gl(), R_t=np.ones((4, 4)))
    data = ARKitFace(tmp_path, split="train")
    with pytest.raises(DataFileError, match=f"{rows[0][2]}_info.npz: file not found"):
        data.sample(0)
    with pytest.raises(DataFileError, match=f"{rows[1][2]}_ar.jpg: not a readable image"):
        data.sample(1)
    with pytest.raises(DataFileError, match="not a rotation"):
        data.sample(2)
    assert len(ARKitFace(tmp_path, split="train", skip_bad=True)) == 2
    with pytest.raises(DataFileError, match="ARKitFace_test.csv: file not found"):
        ARKitFace(tmp_path, split="test")


# ---- pyhpe 6DoF folder ----------------------------------------------------------------------


def _six_samples(n=3):
    out = []
    rng = np.random.default_rng(0)
    for i in range(n):
        R = euler_to_matrix([5.0 * i, -10.0 * i, 3.0], degrees=True)
        t = np.array([0.01 * i, 0.0, 0.6])
        K = np.array([[300.0, 0, 80], [0, 300.0, 60], [0, 0, 1]])
        verts = rng.uniform(-0.08, 0.08, (30, 3))
        lm = project_points(verts[:min(68, len(verts))], R, t, K)
        img = np.zeros((120, 160, 3), np.uint8)
        img[:] = (200, 90, 30)
        out.append(Sample(image=img, R=R, euler=np.zeros(3), t=t, K=K, vertices=verts, landmarks=lm,
                          landmarks_visible=np.arange(len(lm)) % 2 == 0, subject=f"s{i}"))
    return out


def test_sixdof_round_trip(tmp_path):
    samples = _six_samples()
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    assert write_sixdof_dataset(tmp_path, samples, image_ext=".png", faces=faces, progress=False) == 3
    header = (tmp_path / "samples.csv").read_text().splitlines()[0]
    assert header == "image,annotation,subject"
    data = SixDoFFolder(tmp_path)
    for s, ref in zip((data[i] for i in range(3)), samples):
        np.testing.assert_allclose(s.R, ref.R)
        np.testing.assert_allclose(s.t, ref.t)
        np.testing.assert_allclose(s.K, ref.K)
        np.testing.assert_allclose(s.vertices, ref.vertices)
        np.testing.assert_allclose(s.landmarks, ref.landmarks)
        np.testing.assert_array_equal(s.landmarks_visible, ref.landmarks_visible)
        np.testing.assert_allclose(s.bbox, [*ref.landmarks.min(0), *ref.landmarks.max(0)])
        np.testing.assert_allclose(euler_to_matrix(s.euler, degrees=True), ref.R, atol=1e-12)
        np.testing.assert_array_equal(s.image, ref.image)  # png: lossless, RGB preserved
        np.testing.assert_array_equal(s.faces, faces)
        assert s.subject == ref.subject


def test_sixdof_hand_written_npz_and_bad_files(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    write_sixdof_dataset(tmp_path / "ref", _six_samples(1), progress=False)
    (tmp_path / "samples.csv").write_text(
        "image,annotation,subject\nimages/a.png,annotations/a.npz,x\nimages/b.png,annotations/b.npz,\n"
        "images/a.png,annotations/c.npz,\n")
    import cv2
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.zeros((10, 10, 3), np.uint8))
    np.savez(tmp_path / "annotations" / "a.npz", R=np.eye(3), t=np.array([0, 0, 1.0]), K=np.eye(3),
             bbox=np.array([1.0, 2, 3, 4]))
    np.savez(tmp_path / "annotations" / "c.npz", R=2 * np.eye(3), t=np.zeros(3), K=np.eye(3))
    data = SixDoFFolder(tmp_path)
    s = data[0]
    np.testing.assert_allclose(s.bbox, [1, 2, 3, 4])
    assert s.vertices is None and s.landmarks is None and s.subject == "x"
    with pytest.raises(DataFileError, match="b.npz: file not found"):
        data.sample(1)
    with pytest.raises(DataFileError, match="c.npz: R is not a rotation"):
        data.sample(2)
    skipping = SixDoFFolder(tmp_path, skip_bad=True)
    assert len(skipping) == 2 and skipping.skipped == 1
    (tmp_path / "samples.csv").write_text("img,ann\n")
    with pytest.raises(DataFileError, match="samples.csv: csv needs columns"):
        SixDoFFolder(tmp_path)


# ---- DD-Pose -----------------------------------------------------------------------------------


@pytest.mark.parametrize("k_nested", [False, True])
def test_ddpose_reads_labelled_frames(tmp_path, k_nested):
    write_ddpose(tmp_path, subject=4, stamps=(1000, 1100, 1200), labelled=(1000, 1200), k_nested=k_nested)
    write_ddpose(tmp_path, subject=3, stamps=(500,), labelled=(500,))
    data = DDPose(tmp_path, subjects=[4])
    assert len(data) == 2  # stamp 1100 has no transform
    s = data[1]
    T = ddpose_transform(1200)
    np.testing.assert_allclose(s.R, T[:3, :3])
    np.testing.assert_allclose(s.t, T[:3, 3])
    np.testing.assert_allclose(s.K, DDPOSE_K)
    np.testing.assert_allclose(euler_to_matrix(s.euler, degrees=True), s.R, atol=1e-12)
    assert s.image.shape == (48, 64, 3) and s.image[0, 0, 0] == 12  # (12·256 + 77) >> 8
    assert s.subject == "04" and s.extra == {"stamp": 1200, "occlusion": "none", "labelled": True}
    assert len(DDPose(tmp_path)) == 3


def test_ddpose_bad_files(tmp_path):
    item = write_ddpose(tmp_path, stamps=(1000, 1200), labelled=(1000, 1200))
    (item / "small-resolution" / "driver-left-img" / "1000.png").unlink()
    with pytest.raises(DataFileError, match="1000.png: file not found"):
        DDPose(tmp_path).sample(0)
    (item / "small-resolution" / "driver-left-img" / "1200.json").write_text(json.dumps({"height": 1}))
    with pytest.raises(DataFileError, match="1200.json: no usable 'K'"):
        DDPose(tmp_path).sample(1)
    write_garbage(item / "t-camdriver-head.json")
    with pytest.raises(DataFileError, match="t-camdriver-head.json: not valid JSON"):
        DDPose(tmp_path)
    data = DDPose(tmp_path, skip_bad=True)
    assert len(data) == 0 and data.skipped == 1
    (item / "t-camdriver-head.json").write_text(json.dumps({"1000": [[1, 0], [0, 1]]}))
    with pytest.raises(DataFileError, match=r"stamp 1000 has shape \(2, 2\)"):
        DDPose(tmp_path)
