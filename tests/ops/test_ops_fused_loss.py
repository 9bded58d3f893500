"""The one-pass reduced loss (``pyhpe._C.sixd_geodesic_loss``, the eager CPU path of
``sixd_geodesic_loss`` with reduction 'mean' or 'sum'): values and gradients against the float64
reference, the gradient handed over by backward (upstream gradients other than 1, a second
backward with retain_graph, accumulation into .grad), thread-count independence, and the
binding's arguments."""

from __future__ import annotations

import pytest
import torch
from support.ops_cases import random_rotations, sixd_condition
from torch.utils.dlpack import to_dlpack

from pyhpe import _C, ops
from pyhpe.ops import reference as ref

SIZES = [1, 7, 16, 17, 33, 1023, 1025, 8197]


def _inputs(n: int, dtype=torch.float64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64).to(dtype)
    return x, random_rotations(n, seed + 1, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_value_and_gradient_against_reference(n, dtype, reduction, threads):
    x, R_gt = _inputs(n, dtype, n)
    x = x.requires_grad_()
    loss = ops.sixd_geodesic_loss(x, R_gt, reduction=reduction)
    assert loss.grad_fn is not None and loss.grad_fn.fused  # the one-pass kernel ran
    (g,) = torch.autograd.grad(loss, x)
    x64 = x.detach().double().requires_grad_()
    want = ref.sixd_geodesic_loss_ref(x64, R_gt.double(), reduction=reduction)
    (gw,) = torch.autograd.grad(want, x64)
    scale = 1 if reduction == "mean" else n
    if dtype == torch.float64:
        assert torch.allclose(loss, want, rtol=1e-12, atol=1e-12 * scale)
        assert torch.allclose(g, gw, rtol=1e-9, atol=1e-12)
    else:
        assert loss.dtype == torch.float32 and g.dtype == torch.float32
        assert abs(loss.item() - want.item()) <= 1e-5 * scale
        # float32: a few ulp of cos, amplified by Gram-Schmidt's conditioning (squared for its
        # VJP) and by d theta / d cos = -1 / sin(theta); rows at the clamp bound left out
        theta = ref.sixd_geodesic_loss_ref(x64.detach(), R_gt.double(), reduction="none")
        ill = 1e-6 * sixd_condition(x64.detach()) ** 2 / torch.sin(theta) ** 2
        row = gw.abs().amax(dim=1)
        tol = (1e-5 + ill) * row + 1e-12
        inside = (1 - torch.cos(theta).abs()) > 1e-5
        err = (g.double() - gw).abs().amax(dim=1)
        assert ((err <= tol) | ~inside).all()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_no_grad_forward_is_the_same_loss(reduction):
    x, R_gt = _inputs(5000)
    with torch.no_grad():
        fast = ops.sixd_geodesic_loss(x, R_gt, reduction=reduction)
    per_sample = ops.sixd_geodesic_loss(x, R_gt, reduction="none")
    assert fast.shape == () and fast.dtype == x.dtype
    assert torch.allclose(fast, ref.reduce_loss(per_sample, reduction), rtol=1e-13)


def test_loss_does_not_depend_on_thread_count():
    x, R_gt = _inputs(20000, torch.float32)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.sixd_geodesic_loss(x, R_gt)
        torch.set_num_threads(2)
        two = ops.sixd_geodesic_loss(x, R_gt)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(one, two)


def test_upstream_gradient_scales_the_handed_over_gradient():
    x, R_gt = _inputs(100)
    x1 = x.clone().requires_grad_()
    (3.0 * ops.sixd_geodesic_loss(x1, R_gt)).backward()
    x2 = x.clone().requires_grad_()
    ops.sixd_geodesic_loss(x2, R_gt).backward()
    assert torch.allclose(x1.grad, 3.0 * x2.grad, rtol=1e-14)


def test_second_backward_recomputes_and_accumulates():
    x, R_gt = _inputs(100)
    x1 = x.clone().requires_grad_()
    loss = ops.sixd_geodesic_loss(x1, R_gt)
    (g1,) = torch.autograd.grad(loss, x1, retain_graph=True)
    g1_copy = g1.clone()
    g1.zero_()  # the caller owns what it got: changing it must not change the next backward
    (g2,) = torch.autograd.grad(loss, x1, retain_graph=True)
    assert torch.equal(g2, g1_copy)
    loss.backward(retain_graph=True)
    loss.backward()
    assert torch.allclose(x1.grad, 2 * g1_copy, rtol=1e-15)


def test_double_precision_of_gradcheck_through_the_fused_path():
    x, R_gt = _inputs(6)
    assert torch.autograd.gradcheck(lambda v: ops.sixd_geodesic_loss(v, R_gt, reduction="sum"),
                                    (x.requires_grad_(),))


# --- the binding ----------------------------------------------------------------------------


def test_binding_returns_the_loss_and_writes_the_gradient():
    x, R_gt = _inputs(50)
    grad = torch.empty_like(x)
    mean = _C.sixd_geodesic_loss(to_dlpack(x), to_dlpack(R_gt), to_dlpack(grad), True, 1e-7, 1, 0)
    total = _C.sixd_geodesic_loss(x, R_gt, None, mean=False)
    per_sample = ref.sixd_geodesic_loss_ref(x, R_gt, reduction="none")
    assert mean == pytest.approx(per_sample.mean().item(), rel=1e-13)
    assert total == pytest.approx(per_sample.sum().item(), rel=1e-13)
    local = torch.empty_like(x)
    _C.sixd_geodesic_distance(x, R_gt, torch.empty(50, dtype=x.dtype), local)
    assert torch.allclose(grad, local / 50, rtol=1e-14, atol=0)


def test_binding_empty_batch():
    x, R_gt = torch.empty(0, 6), torch.empty(0, 3, 3)
    assert torch.isnan(torch.tensor(_C.sixd_geodesic_loss(x, R_gt, None, mean=True)))
    assert _C.sixd_geodesic_loss(x, R_gt, torch.empty(0, 6), mean=False) == 0.0


@pytest.mark.parametrize(
    "override,exc,match",
    [
        ({"x6": torch.ones(4, 5)}, ValueError, "x6"),
        ({"R_gt": torch.ones(5, 3, 3)}, ValueError, "R_gt"),
        ({"R_gt": torch.ones(4, 3, 3, dtype=torch.float64)}, TypeError, "R_gt"),
        ({"grad_x6": torch.ones(4, 7)}, ValueError, "grad_x6"),
        ({"grad_x6": torch.ones(8, 6)[::2]}, ValueError, "contiguous"),
        ({"x6": torch.ones(4, 6, dtype=torch.int32)}, TypeError, "x6"),
        ({"eps": 1.0}, ValueError, "eps"),
        ({"num_threads": 0}, ValueError, "num_threads"),
    ],
)
def test_binding_validates_its_arguments(override, exc, match):
    args = {"x6": torch.ones(4, 6), "R_gt": torch.ones(4, 3, 3), "grad_x6": torch.empty(4, 6)}
    args.update(override)
    with pytest.raises(exc, match=match):
        _C.sixd_geodesic_loss(**args)
