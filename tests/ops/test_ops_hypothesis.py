"""Property tests: for random batch sizes (0 and 1 included), magnitudes, dtypes and layouts
the native ops agree with the references and never crash."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyhpe.ops as ops
from pyhpe.ops import reference as ref

from support.ops_cases import random_rotations, sixd_condition

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
