"""Agreement with the official 6DRepNet functions (pip package sixdrepnet==0.1.6) to 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pyhpe.ops as ops
from pyhpe.geometry import euler_to_matrix

from support.ops_cases import random_rotations


def test_gram_schmidt_matches_official(official_sixdrepnet):
    x = torch.randn(512, 6, dtype=torch.float64)
    want = official_sixdrepnet.utils.compute_rotation_matrix_from_ortho6d(x)
    assert torch.allclose(ops.gram_schmidt(x), want, atol=1e-6, rtol=0)
    want32 = official_sixdrepnet.utils.compute_rotation_matrix_from_ortho6d(x.float())
    assert torch.allclose(ops.gram_schmidt(x.float()), want32, atol=1e-6, rtol=0)


def test_gram_schmidt_gradient_matches_official(official_sixdrepnet):
    x = torch.randn(256, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(256, 3, 3, dtype=torch.float64)
    ours = torch.autograd.grad(ops.gram_schmidt(x), x, g)[0]
    want = torch.autograd.grad(
        official_sixdrepnet.utils.compute_rotation_matrix_from_ortho6d(x), x, g
    )[0]
    assert torch.allclose(ours, want, atol=1e-6, rtol=0)


def test_geodesic_loss_matches_official(official_sixdrepnet):
    R_gt, R_pred = random_rotations(512, 1), random_rotations(512, 2)
    official = official_sixdrepnet.loss.GeodesicLoss()
    # 6DRepNet calls loss(R_gt, R_pred) and takes the mean over the batch
    want = official(R_gt, R_pred)
    assert abs(ops.geodesic_loss(R_pred, R_gt).item() - want.item()) < 1e-6
    x = torch.randn(512, 6, dtype=torch.float64, requires_grad=True)
    want_chain = official(R_gt, official_sixdrepnet.utils.compute_rotation_matrix_from_ortho6d(x))
    ours_chain = ops.sixd_geodesic_loss(x, R_gt)
    assert abs(ours_chain.item() - want_chain.item()) < 1e-6
    g_ours = torch.autograd.grad(ours_chain, x)[0]
    g_want = torch.autograd.grad(want_chain, x)[0]
    assert torch.allclose(g_ours, g_want, atol=1e-6, rtol=0)


def test_geodesic_loss_float32_floor_matches_official(official_sixdrepnet):
    """In float32 both clamp at 0.99999988, so identical rotations give the same floor."""
    R = random_rotations(64, 5, torch.float32)
    want = official_sixdrepnet.loss.GeodesicLoss()(R, R)
    assert abs(ops.geodesic_loss(R, R).item() - want.item()) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_euler_matches_official(official_sixdrepnet, dtype):
    rng = np.random.default_rng(0)
    angles = torch.from_numpy(rng.uniform([-99, -89, -99], [99, 89, 99], size=(500, 3)))
    R = euler_to_matrix(angles, degrees=True)
    R = torch.cat([R, euler_to_matrix(torch.tensor([[20.0, 90.0, 10.0]]), degrees=True)
                   .double()]).to(dtype)
    want = official_sixdrepnet.utils.compute_euler_angles_from_rotation_matrices(R)
    assert torch.allclose(ops.matrix_to_euler(R).float(), want.float(), atol=1e-6, rtol=0)


def test_get_R_matches_our_euler_to_matrix(official_sixdrepnet):
    for p, y, r in [(0.1, -0.4, 0.7), (-1.2, 1.3, 2.9)]:
        want = official_sixdrepnet.utils.get_R(p, y, r)
        ours = euler_to_matrix(np.array([p, y, r]))
        assert np.allclose(ours, want, atol=1e-12)
