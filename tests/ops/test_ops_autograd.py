"""Autograd formulas (gradcheck), op registration (opcheck) and torch.compile(fullgraph=True)."""

from __future__ import annotations

import pytest
import torch
from torch.library import opcheck

import pyhpe.ops as ops
from pyhpe.ops import reference as ref

from support.ops_cases import random_rotations

P = torch.ops.pyhpe


def _x6(n=6, **kw):
    return torch.randn(n, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(n), **kw)


def test_gradcheck_gram_schmidt():
    assert torch.autograd.gradcheck(ops.gram_schmidt, (_x6(requires_grad=True),))


def test_gradcheck_geodesic_distance_both_inputs():
    # perturbations leave SO(3), so compare against finite differences of the formula itself
    R1 = random_rotations(6, 1).requires_grad_()
    R2 = random_rotations(6, 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: ops.geodesic_distance(a, b), (R1, R2))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_sixd_geodesic_loss(reduction):
    R_gt = random_rotations(6, 3)
    assert torch.autograd.gradcheck(
        lambda x: ops.sixd_geodesic_loss(x, R_gt, reduction=reduction), (_x6(requires_grad=True),)
    )


def test_gradcheck_geodesic_loss_composition():
    R_gt = random_rotations(6, 4)
    assert torch.autograd.gradcheck(
        lambda x: ops.geodesic_loss(ops.gram_schmidt(x), R_gt), (_x6(requires_grad=True),)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck_every_op(dtype):
    x = _x6().to(dtype)
    R1, R2 = random_rotations(6, 1, dtype), random_rotations(6, 2, dtype)
    g = torch.rand(6, dtype=dtype)
    cases = [
        (P.gram_schmidt.default, (x.clone().requires_grad_(),)),
        (P.gram_schmidt_backward.default, (x, torch.randn(6, 3, 3, dtype=dtype))),
        (P.geodesic_distance.default, (R1.clone().requires_grad_(), R2.clone().requires_grad_(), 1e-7)),
        (P.geodesic_distance_backward.default, (R1, R2, g, 1e-7)),
        (P.sixd_geodesic_distance.default, (x.clone().requires_grad_(), R2, 1e-7)),
        (P.sixd_geodesic_distance_with_grad.default, (x, R2, 1e-7)),
        (P.matrix_to_euler.default, (R1, True)),
    ]
    for op, args in cases:
        result = opcheck(op, args)
        assert all(v == "SUCCESS" for v in result.values()), (op, result)


def test_matrix_to_euler_refuses_gradients():
    R = random_rotations(4, 0).requires_grad_()
    with pytest.raises(RuntimeError, match="not differentiable"):
        ops.matrix_to_euler(R)
    with torch.no_grad():
        assert ops.matrix_to_euler(R).shape == (4, 3)


def test_sixd_loss_refuses_label_gradients():
    with pytest.raises(ValueError, match="R_gt requires grad"):
        ops.sixd_geodesic_loss(torch.randn(3, 6), random_rotations(3, 0).requires_grad_())


def test_torch_compile_fullgraph_matches_eager():
    R_gt = random_rotations(32, 9, torch.float32)

    def step(x):
        R = ops.gram_schmidt(x)
        loss = ops.sixd_geodesic_loss(x, R_gt) + ops.geodesic_loss(R, R_gt, reduction="sum")
        return loss, ops.matrix_to_euler(R.detach(), degrees=True)

    compiled = torch.compile(step, fullgraph=True)
    x1 = torch.randn(32, 6, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    (l1, e1), (l2, e2) = compiled(x1), step(x2)
    l1.backward()
    l2.backward()
    assert torch.allclose(l1, l2, atol=1e-5)
    assert torch.allclose(e1, e2, atol=1e-4)
    assert torch.allclose(x1.grad, x2.grad, atol=1e-6)


def test_reference_fallback_on_meta_device():
    """Devices without a native kernel take the reference (here: meta shapes via the fake)."""
    x = torch.empty(5, 6, device="meta")
    assert ops.gram_schmidt(x).shape == (5, 3, 3)
    assert ref.gram_schmidt_ref(torch.eye(6)[:1]).shape == (1, 3, 3)
