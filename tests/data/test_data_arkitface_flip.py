"""ARKitFace's vertex mirror permutation: ``flip_index.npy`` at the dataset root (read and
validated), or a topology's, and horizontal flips that re-index the vertices with it so the
projected landmark vertices stay on the flipped landmarks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from support.data_fixtures import arkit_mirror_template, write_arkitface, write_garbage

from pyhpe.data.arkitface import ARKIT_LANDMARK_IDS, ARKitFace, read_flip_index
from pyhpe.data.geometric import hflip
from pyhpe.data.landmarks import IBUG68_MIRROR
from pyhpe.data.sixdof_crop import SixDoFCrop
from pyhpe.geometry.camera import crop_matrix, project_points
from pyhpe.models.trg.topology import FaceTopology

S, IMG = 96, 200


def _flip_crop(flip_index=None, convention="pyhpe"):
    """A training crop that always flips and has no other randomness."""
    return SixDoFCrop(S, 1220, train=True, flip_index=flip_index, flip_p=1.0, rotate_p=0.0,
                      box_shift=0.0, box_scale_jitter=0.0, output="sample", seed=0, convention=convention)


def _landmark_gap(s) -> float:
    """Largest distance (px) between the projected landmark vertices and the landmarks."""
    uv = project_points(s.vertices[ARKIT_LANDMARK_IDS], s.R, s.t, s.K)
    return float(np.abs(uv - s.landmarks).max())


@pytest.mark.parametrize("convention", ["pyhpe", "official"])
def test_flip_reindexes_vertices_with_flip_index_npy(tmp_path, convention):
    write_arkitface(tmp_path, split="train", n=3, size=IMG, symmetric=True, flip_index=True)
    data = ARKitFace(tmp_path, split="train")
    _, flip = arkit_mirror_template()
    assert data.flip_source == str(tmp_path / "flip_index.npy")
    np.testing.assert_array_equal(data.flip_index, flip)
    for s in data:
        np.testing.assert_array_equal(s.extra["vertex_flip_index"], flip)
        out = _flip_crop(convention=convention)(s)  # the model topology gives none: the sample's is used
        box = out.extra["box_info"][:4]
        np.testing.assert_array_equal(out.vertices, (s.vertices * [-1.0, 1.0, 1.0])[flip])
        # the projected flipped landmark vertices are the flipped landmarks, in the crop
        assert _landmark_gap(out) < 1e-3
        # ... and those are the mirrored, iBUG-relabelled input landmarks (the permutation is right)
        lm_mirror = np.stack([IMG - 1 - s.landmarks[:, 0], s.landmarks[:, 1]], 1)[IBUG68_MIRROR]
        A = crop_matrix(box, S, convention)
        np.testing.assert_allclose(out.landmarks, lm_mirror @ A[:2, :2].T + A[:2, 2], rtol=0, atol=1e-6)


def test_without_the_permutation_the_mesh_and_landmarks_come_apart(tmp_path):
    """What the loaders did before: the mirror without re-indexing leaves the landmark vertices
    far from the (relabelled) landmarks."""
    write_arkitface(tmp_path, split="train", n=2, size=IMG, symmetric=True)
    s = ARKitFace(tmp_path, split="train")[0]
    assert "vertex_flip_index" not in s.extra
    plain = hflip(s)
    assert _landmark_gap(plain) > 5.0


def test_flip_falls_back_to_the_topologys_permutation(tmp_path, caplog):
    write_arkitface(tmp_path, split="train", n=2, size=IMG, symmetric=True)
    template, flip = arkit_mirror_template()
    with caplog.at_level(logging.INFO, logger="pyhpe.data.arkitface"):
        data = ARKitFace(tmp_path, split="train")
    assert data.flip_index is None and data.flip_source.startswith("none")
    assert "flips use the model topology's" in caplog.text
    s = data[0]
    out = _flip_crop(flip_index=flip)(s)  # the model topology's permutation (SixDoFCrop's own)
    np.testing.assert_array_equal(out.vertices, (s.vertices * [-1.0, 1.0, 1.0])[flip])
    assert _landmark_gap(out) < 1e-3
    with pytest.raises(ValueError, match="vertex mirror permutation"):
        _flip_crop()(s)
    # a topology object given to the loader
    topo = FaceTopology.from_arrays("arkit_fixture", template, [[0, 1, 2]], [0, 1, 2], ARKIT_LANDMARK_IDS, flip)
    data = ARKitFace(tmp_path, split="train", topology=topo)
    assert data.flip_source == "topology 'arkit_fixture'"
    np.testing.assert_array_equal(data[1].extra["vertex_flip_index"], flip)
    # a symmetric template: its mirror is derived
    data = ARKitFace(tmp_path, split="train", topology=template)
    assert "mirror_permutation" in data.flip_source
    np.testing.assert_array_equal(data.flip_index, flip)
    assert _landmark_gap(_flip_crop()(data[0])) < 1e-3
    small = FaceTopology.from_arrays("small", template[:10], [[0, 1, 2]], [0, 1, 2], np.zeros(68, int),
                                     np.arange(10))
    with pytest.raises(ValueError, match="topology 'small' has 10 vertices, ARKitFace meshes 1220"):
        ARKitFace(tmp_path, split="train", topology=small)


def test_the_file_wins_over_a_given_topology(tmp_path):
    write_arkitface(tmp_path, split="test", n=1, size=IMG, symmetric=True, flip_index=True)
    template, flip = arkit_mirror_template()
    other = FaceTopology.from_arrays("other", template, [[0, 1, 2]], [0, 1, 2], ARKIT_LANDMARK_IDS,
                                     np.arange(1220))
    data = ARKitFace(tmp_path, split="test", topology=other)
    assert data.flip_source.endswith("flip_index.npy")
    np.testing.assert_array_equal(data.flip_index, flip)


@pytest.mark.parametrize("content, message", [
    (np.arange(1220, dtype=np.float64) + 0.5, "expected integer vertex indices"),
    (np.arange(1219), r"shape \(1219,\), expected \(1220,\)"),
    (np.arange(1220).reshape(2, 610), r"shape \(2, 610\)"),
    (np.r_[np.arange(1219), 1220], "entry 1219 = 1220 is out of range"),
    (np.r_[1, 2, 0, np.arange(3, 1220)], "not an involution"),
    (np.array(["a"] * 1220), "expected integer vertex indices"),
])
def test_bad_flip_index_files_are_one_clear_error(tmp_path, content, message):
    write_arkitface(tmp_path, split="test", n=1, size=IMG)
    np.save(tmp_path / "flip_index.npy", content)
    with pytest.raises(ValueError, match=f"flip_index.npy: {message}"):
        ARKitFace(tmp_path, split="test")


def test_unreadable_flip_index_files(tmp_path):
    write_arkitface(tmp_path, split="test", n=1, size=IMG)
    write_garbage(tmp_path / "flip_index.npy")
    with pytest.raises(ValueError, match="flip_index.npy: not a plain .npy array"):
        ARKitFace(tmp_path, split="test")
    np.save(tmp_path / "flip_index.npy", np.array([object()] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a plain .npy array"):
        ARKitFace(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="nowhere.npy: file not found"):
        read_flip_index(tmp_path / "nowhere.npy")
    np.save(tmp_path / "ok.npy", np.arange(1220, dtype=np.float32)[::-1])  # integral floats are fine
    np.testing.assert_array_equal(read_flip_index(tmp_path / "ok.npy"), np.arange(1220)[::-1])
