"""Native kernels against the pure-torch references in float64 (and float32 within stated
tolerances), on random and adversarial inputs, for every thread count and SIMD tail length."""

from __future__ import annotations

import pytest
import torch
from support.ops_cases import (
    adversarial_sixd,
    euler_grid,
    random_rotations,
    rotation_pairs,
    sixd_condition,
)

from pyhpe import _C, ops
from pyhpe.geometry import euler_to_matrix
from pyhpe.ops import reference as ref


def test_native_build_is_used():
    info = _C.build_info()
    assert info["cpu_isa"] in {"avx512", "avx2", "sse2", "neon", "scalar"}
    assert info["parallel_threshold"] > 0


# Batch sizes around the SIMD widths (4, 8 and 16) and beyond the threading threshold.
SIZES = [1, 3, 7, 8, 9, 15, 16, 17, 33, 64, 1000, 20000]


@pytest.mark.parametrize("n", SIZES)
def test_gram_schmidt_float64_matches_reference(n, threads):
    x = torch.randn(n, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    tol = 1e-14 * sixd_condition(x).clamp_min(1.0).view(-1, 1, 1)
    assert ((ops.gram_schmidt(x) - ref.gram_schmidt_ref(x)).abs() <= tol).all()


@pytest.mark.parametrize("name,x", list(adversarial_sixd().items()))
def test_gram_schmidt_adversarial(name, x):
    ours, want = ops.gram_schmidt(x), ref.gram_schmidt_ref(x)
    tol = 1e-13 * sixd_condition(x).clamp(1.0, 1e8).view(-1, 1, 1)
    assert ((ours - want).abs() <= tol).all(), name
    # float32 agrees with the float64 reference to float32 precision, scaled the same way
    ours32 = ops.gram_schmidt(x.float()).double()
    want32 = ref.gram_schmidt_ref(x.float().double())
    assert ((ours32 - want32).abs() <= 1e-6 * sixd_condition(x).clamp(1.0, 1e8).view(-1, 1, 1)).all()


def test_gram_schmidt_is_orthonormal():
    R = ops.gram_schmidt(torch.randn(500, 6))
    eye = torch.eye(3).expand(500, 3, 3)
    assert torch.allclose(R.transpose(1, 2) @ R, eye, atol=2e-6)
    assert torch.allclose(torch.linalg.det(R), torch.ones(500), atol=2e-6)


@pytest.mark.parametrize("n", SIZES)
def test_gram_schmidt_backward_float64(n, threads):
    x = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(n, 3, 3, dtype=torch.float64)
    ours = torch.autograd.grad(ops.gram_schmidt(x), x, g)[0]
    want = torch.autograd.grad(ref.gram_schmidt_ref(x), x, g)[0]
    tol = 1e-13 * sixd_condition(x.detach()).clamp_min(1.0).view(-1, 1) ** 2
    assert ((ours - want).abs() <= tol * (1 + want.abs())).all()


@pytest.mark.parametrize("name", list(rotation_pairs()))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_geodesic_distance(name, dtype, threads):
    R1, R2 = rotation_pairs()[name]
    ours = ops.geodesic_distance(R1.to(dtype), R2.to(dtype))
    want = ref.geodesic_distance_ref(R1.to(dtype).double(), R2.to(dtype).double(),
                                     eps=1e-7)
    # float32: the clamp bound is the float32-rounded 1-1e-7 (as in PyTorch), and acos is
    # ill-conditioned at 0 and pi: |d acos(c)| <= |dc| / sqrt(1-c^2); allow 4 ulp of c there.
    if dtype == torch.float32:
        lo, hi = ref.geodesic_cos_bounds(1e-7, torch.float32)
        want = ref.geodesic_distance_ref(R1.float(), R2.float()).double()
        c = torch.cos(want)
        tol = 1e-6 + 4 * 6e-8 / torch.sqrt((1 - c * c).clamp_min(1e-12))
    else:
        tol = torch.full_like(want, 1e-12) / torch.sin(want).clamp_min(1e-4)
    assert ((ours.double() - want).abs() <= tol).all()


@pytest.mark.parametrize("name", list(rotation_pairs()))
def test_geodesic_backward_float64(name, threads):
    R1, R2 = (r.clone().requires_grad_() for r in rotation_pairs()[name])
    g = torch.rand(R1.shape[0], dtype=torch.float64)
    ours = torch.autograd.grad(ops.geodesic_distance(R1, R2), (R1, R2), g)
    want = torch.autograd.grad(ref.geodesic_distance_ref(R1, R2), (R1, R2), g)
    for o, w in zip(ours, want):
        assert torch.allclose(o, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n", [1, 7, 64, 512, 20000])
def test_sixd_geodesic_loss_float64(n, reduction, threads):
    x = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    R_gt = random_rotations(n, n + 1)
    ours = ops.sixd_geodesic_loss(x, R_gt, reduction=reduction)
    want = ref.sixd_geodesic_loss_ref(x, R_gt, reduction=reduction)
    assert ours.shape == want.shape
    assert torch.allclose(ours, want, rtol=1e-12, atol=1e-12)
    g = torch.rand_like(want)
    go = torch.autograd.grad(ours, x, g)[0]
    gw = torch.autograd.grad(want, x, g)[0]
    assert torch.allclose(go, gw, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_sixd_geodesic_loss_equals_composition_float32(seed):
    x = torch.randn(4096, 6, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    R_gt = random_rotations(4096, 3, torch.float32)
    fused = ops.sixd_geodesic_loss(x, R_gt)
    composed = ops.geodesic_loss(ops.gram_schmidt(x), R_gt)
    assert torch.allclose(fused, composed, atol=1e-6)
    g1 = torch.autograd.grad(fused, x)[0]
    g2 = torch.autograd.grad(composed, x)[0]
    # The fused chain normalises with one multiplication by the reciprocal norm where
    # gram_schmidt divides (6DRepNet's exact construction): a few ulp in cos, which
    # d theta / d cos = -1 / sqrt(1 - cos^2) amplifies near theta = 0 and pi (there either
    # float32 gradient can be percent away from the float64 one). Rows are allowed that.
    x64 = x.detach().double().requires_grad_()
    want = ref.sixd_geodesic_loss_ref(x64, R_gt.double(), reduction="none")
    gw = torch.autograd.grad(want.mean(), x64)[0]
    # Relative to the row's largest component, as a few ulp of cos (times the conditioning
    # of Gram-Schmidt, squared for its VJP, as in the float64 backward test) over 1 - cos^2.
    cond = sixd_condition(x64.detach())
    ill = (1e-6 * cond**2 / torch.sin(want.detach()) ** 2).view(-1, 1)
    tol = 1e-6 + 1e-4 * g2.abs().double() + ill * g2.abs().double().amax(dim=1, keepdim=True)
    # Rows whose cos lies within float32 rounding of the clamp bound 1 - 1e-7 are left out: a
    # last-bit difference in cos puts one computation inside the clamp (gradient) and the
    # other outside (gradient 0), as PyTorch's clamp does.
    inside = ((1 - torch.cos(want.detach()).abs()) > 1e-5).view(-1, 1)
    assert (((g1.double() - g2.double()).abs() <= tol) | ~inside).all()
    # and each is within that of the float64 gradient
    assert (((g1.double() - gw).abs() <= tol) | ~inside).all()


@pytest.mark.parametrize("degrees", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matrix_to_euler(degrees, dtype, threads):
    angles = euler_grid()
    R = euler_to_matrix(angles, degrees=True).to(dtype)
    ours = ops.matrix_to_euler(R, degrees=degrees).double()
    want = ref.matrix_to_euler_ref(R.double(), degrees=degrees)
    # float32 packs use polynomial atan2 (a few ulp): 1e-6 rad.
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    tol = tol * (180 / torch.pi if degrees else 1.0)
    assert ((ours - want).abs() <= tol).all()


def test_matrix_to_euler_round_trip_and_gimbal():
    angles = torch.tensor([[10.0, 20.0, 30.0], [-45.0, 80.0, 170.0], [20.0, 90.0, 10.0]],
                          dtype=torch.float64)
    out = ops.matrix_to_euler(euler_to_matrix(angles, degrees=True), degrees=True)
    assert torch.allclose(out[:2], angles[:2], atol=1e-9)
    # yaw = 90: gimbal lock, roll reported 0 and pitch absorbs pitch - roll
    assert out[2, 2] == 0.0
    assert torch.allclose(out[2, :2], torch.tensor([10.0, 90.0], dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_inputs_propagate_like_reference(bad):
    """NaN and Inf never crash and give non-finite outputs exactly where the reference does."""
    x = torch.randn(20, 6)
    x[3, 1] = bad
    x[12, 4] = bad
    R = ops.gram_schmidt(x)
    assert torch.equal(torch.isfinite(R), torch.isfinite(ref.gram_schmidt_ref(x)))
    assert not torch.isfinite(R[3]).all() and torch.isfinite(R[[0, 1, 2, 5, 19]]).all()
    R_gt = random_rotations(20, 0, torch.float32)
    d = ops.sixd_geodesic_loss(x, R_gt, reduction="none")
    assert torch.equal(torch.isfinite(d), torch.isfinite(ref.sixd_geodesic_loss_ref(x, R_gt, reduction="none")))
    Rb = R_gt.clone()
    Rb[5, 1, 1] = bad
    theta = ops.geodesic_distance(Rb, R_gt)
    assert torch.equal(torch.isfinite(theta), torch.isfinite(ref.geodesic_distance_ref(Rb, R_gt)))
    e = ops.matrix_to_euler(Rb)
    assert torch.equal(torch.isfinite(e), torch.isfinite(ref.matrix_to_euler_ref(Rb)))


def test_empty_batches():
    assert ops.gram_schmidt(torch.empty(0, 6)).shape == (0, 3, 3)
    assert ops.geodesic_distance(torch.empty(0, 3, 3), torch.empty(0, 3, 3)).shape == (0,)
    assert ops.matrix_to_euler(torch.empty(0, 3, 3)).shape == (0, 3)
    x = torch.empty(0, 6, requires_grad=True)
    loss = ops.sixd_geodesic_loss(x, torch.empty(0, 3, 3), reduction="sum")
    loss.backward()
    assert x.grad.shape == (0, 6)


def test_non_contiguous_and_half_inputs():
    base = torch.randn(40, 12, dtype=torch.float64)
    x = base[:, ::2]  # non-contiguous (40, 6)
    assert not x.is_contiguous()
    assert torch.allclose(ops.gram_schmidt(x), ref.gram_schmidt_ref(x.contiguous()), atol=1e-14)
    xh = torch.randn(10, 6).to(torch.bfloat16)
    out = ops.gram_schmidt(xh)
    assert out.dtype == torch.float32
    assert torch.allclose(out, ref.gram_schmidt_ref(xh.float()), atol=1e-6)
