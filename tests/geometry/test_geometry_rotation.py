"""pyhpe.geometry.rotation: the per-pose specialised Euler -> matrix equals the batched one, and the
public names stay importable from where callers have them."""

from __future__ import annotations

import numpy as np

import pyhpe.geometry as G
from pyhpe.geometry import rigid, rotation


def test_euler_to_matrix_scalar_equals_euler_to_matrix():
    rng = np.random.default_rng(0)
    for e in rng.uniform(-180, 180, (200, 3)):
        np.testing.assert_allclose(rotation.euler_to_matrix_scalar(*e.tolist()),
                                   rotation.euler_to_matrix(e, degrees=True), rtol=0, atol=1e-14)


def test_public_names():
    for name in ("euler_to_matrix", "flip_rotation_horizontal", "matrix_to_euler", "matrix_to_sixd",
                 "sixd_to_matrix"):
        assert getattr(rotation, name) is getattr(G, name)
    assert rotation.flip_rotation_horizontal is rigid.flip_rotation_horizontal
    assert set(G.__all__) >= set(rotation.__all__) | set(rigid.__all__)
