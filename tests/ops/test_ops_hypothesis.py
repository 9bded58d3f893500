"""Property tests: for random batch sizes (0 and 1 included), magnitudes, dtypes and layouts
the native ops agree with the references and never crash."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.ops_cases import random_rotations, sixd_condition

from pyhpe import ops
from pyhpe.ops import reference as ref

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

batch = st.integers(min_value=0, max_value=70)
log_scale = st.floats(min_value=-12, max_value=6)
dtypes = st.sampled_from([torch.float32, torch.float64])


def _sixd(n: int, scale: float, dtype, contiguous: bool, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12 if not contiguous else 6, generator=g, dtype=torch.float64) * 10**scale
    x = x[:, ::2] if not contiguous else x
    return x.to(dtype)


@SETTINGS
@given(n=batch, scale=log_scale, dtype=dtypes, contiguous=st.booleans(), seed=st.integers(0, 999))
def test_gram_schmidt_property(n, scale, dtype, contiguous, seed):
    x = _sixd(n, scale, dtype, contiguous, seed)
    ours = ops.gram_schmidt(x)
    want = ref.gram_schmidt_ref(x.double())
    assert ours.shape == (n, 3, 3) and ours.dtype == dtype
    unit = 1e-14 if dtype == torch.float64 else 1e-6
    tol = unit * sixd_condition(x.double()).clamp(1.0, 1e6).view(-1, 1, 1)
    assert ((ours.double() - want).abs() <= tol).all()


@SETTINGS
@given(n=batch, dtype=dtypes, seed=st.integers(0, 999), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_sixd_geodesic_loss_property(n, dtype, seed, reduction):
    x = _sixd(n, 0.0, torch.float64, True, seed).requires_grad_()
    R_gt = random_rotations(n, seed + 1)
    ours = ops.sixd_geodesic_loss(x.to(dtype), R_gt.to(dtype), reduction=reduction)
    want = ref.sixd_geodesic_loss_ref(x, R_gt, reduction=reduction)
    assert ours.shape == want.shape
    tol = 1e-10 if dtype == torch.float64 else 2e-3  # float32: acos near 0/pi is ill-conditioned
    assert torch.allclose(ours.double(), want, atol=tol * max(1, n if reduction == "sum" else 1),
                          equal_nan=True)  # the mean of an empty batch is NaN, as in torch
    if n:
        (g,) = torch.autograd.grad(ours.sum(), x)
        assert torch.isfinite(g).all()


@SETTINGS
@given(n=batch, dtype=dtypes, seed=st.integers(0, 999), degrees=st.booleans())
def test_matrix_to_euler_property(n, dtype, seed, degrees):
    R = random_rotations(n, seed, dtype)
    ours = ops.matrix_to_euler(R, degrees=degrees).double()
    want = ref.matrix_to_euler_ref(R.double(), degrees=degrees)
    tol = (1e-12 if dtype == torch.float64 else 2e-6) * (57.3 if degrees else 1)
    assert ((ours - want).abs() <= tol).all()


@SETTINGS
@given(n=batch, values=st.lists(st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0,
                                                 1e30, -1e-30]), min_size=1, max_size=5),
       seed=st.integers(0, 999))
def test_special_values_never_crash(n, values, seed):
    x = _sixd(n, 0.0, torch.float32, True, seed)
    R = random_rotations(n, seed, torch.float32)
    if n:
        flat_x, flat_r = x.view(-1), R.view(-1)
        for i, v in enumerate(values):
            flat_x[(seed + 7 * i) % flat_x.numel()] = v
            flat_r[(seed + 5 * i) % flat_r.numel()] = v
    out = ops.gram_schmidt(x)
    assert torch.equal(torch.isfinite(out), torch.isfinite(ref.gram_schmidt_ref(x)))
    ops.geodesic_distance(R, out)
    ops.sixd_geodesic_loss(x, R, reduction="none")
    ops.matrix_to_euler(R)


# ---- every op, gradients included, on strided views and at large batch sizes -------------------

big_batch = st.sampled_from([0, 1, 3, 17, 64, 1000, 70_000])  # the threaded split's sizes too
layouts = st.sampled_from(["contiguous", "sliced", "transposed"])


def _strided_sixd(n: int, layout: str, dtype, seed: int) -> torch.Tensor:
    """(n, 6) with the given memory layout: contiguous, every other column of (n, 12), or a
    transposed (6, n) view."""
    g = torch.Generator().manual_seed(seed)
    if layout == "sliced":
        return torch.randn(n, 12, generator=g, dtype=torch.float64).to(dtype)[:, ::2]
    if layout == "transposed":
        return torch.randn(6, n, generator=g, dtype=torch.float64).to(dtype).t()
    return torch.randn(n, 6, generator=g, dtype=torch.float64).to(dtype)


def _strided_rotations(n: int, layout: str, dtype, seed: int) -> torch.Tensor:
    R = random_rotations(n, seed, dtype)
    if layout == "sliced":  # every other matrix of a batch twice as long
        R = torch.stack([R, R], 1).reshape(2 * n, 3, 3)[::2]
    elif layout == "transposed":  # R stored transposed, read through a transposed view
        R = R.transpose(1, 2).contiguous().transpose(1, 2)
    return R


@SETTINGS
@given(n=big_batch, layout=layouts, dtype=dtypes, seed=st.integers(0, 999))
def test_gram_schmidt_gradient_property(n, layout, dtype, seed):
    x = _strided_sixd(n, layout, dtype, seed).requires_grad_()
    x64 = x.detach().double().requires_grad_()
    ours, want = ops.gram_schmidt(x), ref.gram_schmidt_ref(x64)
    unit = 1e-12 if dtype == torch.float64 else 2e-5
    tol = unit * sixd_condition(x64.detach()).clamp(1.0, 1e4).view(-1, 1, 1)
    assert ((ours.double() - want).abs() <= tol).all()
    if n:
        g = torch.randn(n, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        (a,) = torch.autograd.grad(ours, x, g.to(dtype))
        (b,) = torch.autograd.grad(want, x64, g)
        assert ((a.double() - b).abs() <= 10 * tol.view(-1, 1) * (1 + b.abs())).all()


@SETTINGS
@given(n=big_batch, layout=layouts, dtype=dtypes, seed=st.integers(0, 999),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_geodesic_distance_and_loss_property(n, layout, dtype, seed, reduction):
    R1 = _strided_rotations(n, layout, dtype, seed).requires_grad_()
    R2 = _strided_rotations(n, "contiguous", dtype, seed + 1)
    d = ops.geodesic_distance(R1, R2)
    want = ref.geodesic_distance_ref(R1.detach().double(), R2.double())
    tol = 1e-10 if dtype == torch.float64 else 2e-3  # acos near 0/pi is ill-conditioned in float32
    assert d.shape == (n,) and ((d.double() - want).abs() <= tol).all()
    loss = ops.geodesic_loss(R1, R2, reduction=reduction)
    want_loss = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    assert torch.allclose(loss.double(), want_loss, atol=tol * max(1, n if reduction == "sum" else 1),
                          equal_nan=True)
    if n:
        (g,) = torch.autograd.grad(d.sum(), R1)
        R64 = R1.detach().double().requires_grad_()
        (g_ref,) = torch.autograd.grad(ref.geodesic_distance_ref(R64, R2.double()).sum(), R64)
        assert torch.isfinite(g).all()
        # d(acos c)/dc = -1/sin(d): ill-conditioned in float32 near 0 and pi, so compared away from them
        ok = want.sin() > (1e-6 if dtype == torch.float64 else 0.05)
        assert torch.allclose(g.double()[ok], g_ref[ok], atol=1e-8 if dtype == torch.float64 else 1e-3,
                              rtol=1e-3)


def _mixer_case(draw_kernel, N, C, H, W, downsample, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    q = C if downsample else C // 4
    ks, km = draw_kernel
    shapes = [(q, 1, ks, ks), (q,), (q, 1, km, km), (q,)]
    if not downsample:
        k1, k2 = 2 * (seed % 6) + 1, 2 * ((seed // 6) % 6) + 1
        shapes += [(q, 1, 1, k1), (q,), (q, 1, k2, 1), (q,)]
    params = [torch.randn(s, generator=g, dtype=torch.float64).to(dtype) for s in shapes]
    params += [None] * 4 if downsample else []
    out_c = 2 * C if downsample else C
    fold = [torch.rand(out_c, generator=g, dtype=torch.float64).to(dtype) + 0.5,
            torch.randn(out_c, generator=g, dtype=torch.float64).to(dtype)] if seed % 3 == 0 else [None, None]
    x = torch.randn(N, C, H, W, generator=g, dtype=torch.float64).to(dtype)
    return x, params, fold


mixer_layouts = st.sampled_from(["nchw", "channels_last", "sliced"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(N=st.integers(0, 3), C=st.sampled_from([4, 8, 12, 32]), H=st.integers(1, 19), W=st.integers(1, 19),
       downsample=st.booleans(), dtype=dtypes, layout=mixer_layouts, seed=st.integers(0, 999),
       kernels=st.tuples(st.sampled_from([1, 3, 5]), st.sampled_from([3, 5, 7])))
def test_repnext_mixer_property(N, C, H, W, downsample, dtype, layout, seed, kernels):
    """The fused mixer (forward and backward, with and without the folded BN) against the float64
    reference, on NCHW, channels_last and sliced inputs of odd sizes."""
    x, params, fold = _mixer_case(kernels, N, C, H, W, downsample, dtype, seed)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":  # every other column of a twice-as-wide image
        x = torch.cat([x, x], 3)[..., ::2] if W else x
    trains = fold[0] is None  # the BN-folded form is the eval form: no gradient
    x = x.requires_grad_(trains)
    leaves = [p.requires_grad_(trains) for p in params if p is not None]
    ours = ops.repnext_mixer(x, *params, *fold)
    x64 = x.detach().double().requires_grad_()
    p64 = [p.detach().double().requires_grad_() if p is not None else None for p in params]
    f64 = [f.double() if f is not None else None for f in fold]
    want = ops.repnext_mixer_ref(x64, *p64, *f64)
    assert ours.shape == want.shape and ours.dtype == dtype
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert torch.allclose(ours.double(), want, atol=tol, rtol=tol)
    if trains and ours.numel():
        grad = torch.randn(want.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        mine = torch.autograd.grad(ours, [x, *leaves], grad.to(dtype))
        theirs = torch.autograd.grad(want, [x64, *[p for p in p64 if p is not None]], grad)
        for a, b in zip(mine, theirs):
            assert torch.allclose(a.double(), b, atol=tol * 10, rtol=tol * 10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(C=st.sampled_from([4, 8]), H=st.integers(1, 12), W=st.integers(1, 12), downsample=st.booleans(),
       seed=st.integers(0, 999),
       values=st.lists(st.sampled_from([float("nan"), float("inf"), -float("inf")]), min_size=1, max_size=4))
def test_repnext_mixer_special_values(C, H, W, downsample, seed, values):
    """NaN and ±Inf inputs propagate exactly as in the reference (same non-finite positions), never crash."""
    x, params, fold = _mixer_case((3, 7), 2, C, H, W, downsample, torch.float32, seed)
    flat = x.view(-1)
    for i, v in enumerate(values):
        flat[(seed + 13 * i) % flat.numel()] = v
    ours = ops.repnext_mixer(x, *params, *fold)
    want = ops.repnext_mixer_ref(x.double(), *[p.double() if p is not None else None for p in params],
                                 *[f.double() if f is not None else None for f in fold])
    assert torch.equal(torch.isnan(ours), torch.isnan(want))
    assert torch.equal(torch.isinf(ours), torch.isinf(want))
    finite = torch.isfinite(want)
    assert torch.allclose(ours.double()[finite], want[finite], atol=1e-4, rtol=1e-4)
