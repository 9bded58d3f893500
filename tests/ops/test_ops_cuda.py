"""The CUDA kernels against the CPU kernels and the float64 references: every op, forward and
backward, float32 and float64, sizes around the launch block, side streams, opcheck.

Skipped (with the reason) on machines without a CUDA device or without a CUDA build;
``tools/device_check.sh`` runs them on a GPU machine.
"""

from __future__ import annotations

import pytest
import torch
from torch.library import opcheck

import pyhpe.ops as ops
from pyhpe import _C
from pyhpe.ops import reference as ref

from support.ops_cases import (adversarial_sixd, mixer_against_reference, mixer_params, random_rotations,
                               rotation_pairs, sixd_condition)

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.skipif(not _C.build_info()["cuda"], reason="pyhpe._C was built without CUDA"),
]

CUDA = "cuda"
# Around a warp, a block (256) and a grid of many blocks.
SIZES = [1, 31, 33, 255, 257, 4096, 65537]


def _x6(n: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 6, dtype=dtype, generator=torch.Generator().manual_seed(seed + n))


def _close(cuda_out: torch.Tensor, want: torch.Tensor, tol) -> None:
    got = cuda_out.cpu().double()
    err = (got - want.double()).abs()
    assert torch.isfinite(got).all()
    assert (err <= tol).all(), f"max error {err.max().item():.3e}"


def _close_rows(cuda_out: torch.Tensor, want: torch.Tensor, rel: float, cond=None) -> None:
    """Row-wise relative check: |got - want| <= rel * cond * max|want row| (rows whose values are
    all tiny are measured against a thousandth of the largest row)."""
    if want.numel() == 0:
        return
    want = want.double()
    rows = want.abs().reshape(len(want), -1).amax(1)
    scale = rows.clamp_min(1e-3 * rows.max().item()).view(-1, *[1] * (want.dim() - 1))
    if cond is not None:
        scale = scale * cond.view(-1, *[1] * (want.dim() - 1))
    _close(cuda_out, want, rel * scale)


def test_build_reports_the_device_architecture():
    major, minor = torch.cuda.get_device_capability()
    arches = _C.build_info()["cuda_arches"]
    # a real SASS for the device, or PTX of an earlier arch the driver can JIT
    assert any(a.split("-")[0].isdigit() and int(a.split("-")[0]) <= 10 * major + minor
               for a in arches.split(",")), arches


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n", SIZES)
def test_gram_schmidt_forward_backward(n, dtype):
    x64 = _x6(n).requires_grad_()
    want = ref.gram_schmidt_ref(x64)
    g = torch.randn_like(want)
    (want_grad,) = torch.autograd.grad(want, x64, g)
    x = x64.detach().to(CUDA, dtype).requires_grad_()
    ours = ops.gram_schmidt(x)
    (grad,) = torch.autograd.grad(ours, x, g.to(CUDA, dtype))
    cond = sixd_condition(x64.detach()).clamp_min(1.0)
    unit = 1e-13 if dtype == torch.float64 else 2e-6
    _close(ours, want, unit * cond.view(-1, 1, 1))
    _close_rows(grad, want_grad, 10 * unit, cond ** 2)
    # and the CPU kernel on the same float32/float64 input agrees with the CUDA kernel
    _close(ours, ops.gram_schmidt(x.detach().cpu()), unit * cond.view(-1, 1, 1))


@pytest.mark.parametrize("name,x", list(adversarial_sixd().items()))
def test_gram_schmidt_adversarial(name, x):
    ours = ops.gram_schmidt(x.to(CUDA))
    tol = 1e-13 * sixd_condition(x).clamp(1.0, 1e8).view(-1, 1, 1)
    _close(ours, ref.gram_schmidt_ref(x), tol)


def _acos_condition(theta: torch.Tensor) -> torch.Tensor:
    """1/sin θ: how much acos amplifies an error in cos θ (large near 0 and π, where the
    geodesic distance and, squared, its gradient are ill-conditioned)."""
    return 1.0 / torch.sin(theta.detach().double()).abs().clamp_min(1e-8)


# Per-dtype unit errors: of a value (scaled by the acos condition) and of a gradient row
# (relative, scaled by its square). float32 rows whose cos θ lies within a few ulp of the
# clamp bounds (condition > 300) have a gradient that flips between 0 and large: not compared.
VALUE_UNIT = {torch.float64: 1e-12, torch.float32: 1e-6}
GRAD_UNIT = {torch.float64: 1e-12, torch.float32: 1e-5}
F32_WELL_CONDITIONED = 300.0


def _grad_mask(dtype: torch.dtype, kappa: torch.Tensor) -> torch.Tensor:
    return kappa <= (F32_WELL_CONDITIONED if dtype == torch.float32 else float("inf"))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n", SIZES)
def test_geodesic_distance_forward_backward(n, dtype):
    # the reference sees the same dtype-rounded rotations, in float64
    R1 = random_rotations(n, 1).to(dtype).double().requires_grad_()
    R2 = random_rotations(n, 2).to(dtype).double().requires_grad_()
    want = ref.geodesic_distance_ref(R1, R2)
    g = torch.randn_like(want)
    want_grads = torch.autograd.grad(want, (R1, R2), g)
    a = R1.detach().to(CUDA, dtype).requires_grad_()
    b = R2.detach().to(CUDA, dtype).requires_grad_()
    ours = ops.geodesic_distance(a, b)
    grads = torch.autograd.grad(ours, (a, b), g.to(CUDA, dtype))
    kappa = _acos_condition(want)
    _close(ours, want, VALUE_UNIT[dtype] * (1 + kappa))
    _close(ours, ops.geodesic_distance(a.detach().cpu(), b.detach().cpu()),
           2 * VALUE_UNIT[dtype] * (1 + kappa))
    mask = _grad_mask(dtype, kappa)
    for got, exp in zip(grads, want_grads):
        _close_rows(got[mask.to(CUDA)], exp[mask], GRAD_UNIT[dtype], (1 + kappa[mask]) ** 2)


@pytest.mark.parametrize("name", list(rotation_pairs()))
def test_geodesic_distance_edge_pairs(name):
    R1, R2 = rotation_pairs()[name]
    want = ref.geodesic_distance_ref(R1, R2)
    _close(ops.geodesic_distance(R1.to(CUDA), R2.to(CUDA)), want,
           1e-12 * (1 + _acos_condition(want)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n", SIZES)
def test_sixd_geodesic_loss_forward_backward(n, dtype, reduction):
    x64 = _x6(n, seed=7).to(dtype).double().requires_grad_()
    R_gt = random_rotations(n, 3).to(dtype).double()
    per_sample = ref.sixd_geodesic_loss_ref(x64, R_gt, reduction="none")
    want = ref.reduce_loss(per_sample, reduction)
    g = torch.randn_like(want)
    (want_grad,) = torch.autograd.grad(want, x64, g)
    x = x64.detach().to(CUDA, dtype).requires_grad_()
    ours = ops.sixd_geodesic_loss(x, R_gt.to(CUDA, dtype), reduction=reduction)
    (grad,) = torch.autograd.grad(ours, x, g.to(CUDA, dtype))
    cond = sixd_condition(x64.detach()).clamp_min(1.0)
    kappa = _acos_condition(per_sample)
    row_tol = VALUE_UNIT[dtype] * 10 * cond * (1 + kappa)
    if reduction == "none":
        _close(ours, want, row_tol)
    else:  # the rows' tolerances summed (averaged), plus the reduction's own rounding
        total = row_tol.sum() / (n if reduction == "mean" else 1)
        _close(ours, want, total + VALUE_UNIT[dtype] * want.abs())
    mask = _grad_mask(dtype, kappa * cond)
    _close_rows(grad[mask.to(CUDA)], want_grad[mask], 10 * GRAD_UNIT[dtype],
                (cond[mask] * (1 + kappa[mask])) ** 2)


@pytest.mark.parametrize("degrees", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_matrix_to_euler(n, degrees):
    R = random_rotations(n, 5)
    want = ref.matrix_to_euler_ref(R, degrees)
    _close(ops.matrix_to_euler(R.to(CUDA), degrees), want, 1e-10 * (180 if degrees else 1))
    _close(ops.matrix_to_euler(R.to(CUDA, torch.float32), degrees), want, 2e-3 * (180 if degrees else 1))


def test_gradcheck_float64_on_cuda():
    x = _x6(5).to(CUDA).requires_grad_()
    R_gt = random_rotations(5, 3).to(CUDA)
    assert torch.autograd.gradcheck(ops.gram_schmidt, (x,))
    assert torch.autograd.gradcheck(lambda v: ops.sixd_geodesic_loss(v, R_gt), (x,))
    R1 = random_rotations(5, 1).to(CUDA).requires_grad_()
    R2 = random_rotations(5, 2).to(CUDA).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: ops.geodesic_distance(a, b), (R1, R2))


def test_opcheck_rotation_ops_on_cuda():
    P = torch.ops.pyhpe
    x = _x6(9).to(CUDA)
    R1, R2 = random_rotations(9, 1).to(CUDA), random_rotations(9, 2).to(CUDA)
    opcheck(P.gram_schmidt.default, (x,))
    opcheck(P.geodesic_distance.default, (R1, R2, 1e-7))
    opcheck(P.sixd_geodesic_distance.default, (x, R2, 1e-7))
    opcheck(P.matrix_to_euler.default, (R1, True))


def test_side_stream_and_non_contiguous_input():
    """Work is queued on the caller's current stream; strided inputs give the same result."""
    x = _x6(4096).to(CUDA)
    want = ops.gram_schmidt(x)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        big = torch.empty(4096, 12, dtype=x.dtype, device=CUDA)
        big[:, ::2] = x
        got = ops.gram_schmidt(big[:, ::2])
    torch.cuda.current_stream().wait_stream(side)
    assert torch.equal(got, want)


def test_mixed_devices_are_refused():
    with pytest.raises(ValueError):
        ops.geodesic_distance(random_rotations(3, 1).to(CUDA), random_rotations(3, 2))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (2, 8, 9, 13), (3, 16, 23, 30), (4, 64, 56, 56),
                                   (5, 256, 14, 14)])
def test_repnext_mixer_forward_backward(shape, downsample, dtype):
    ours, want, grads, want_grads = mixer_against_reference(shape, downsample, dtype, CUDA)
    rel = 1e-11 if dtype == torch.float64 else 2e-5
    _close(ours, want, rel * want.abs().max())
    for got, exp in zip(grads, want_grads):
        _close(got, exp, 10 * rel * exp.abs().max())


@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
def test_repnext_mixer_channels_last_and_folded_bn(downsample):
    params = [p.to(CUDA, torch.float32) if p is not None else None
              for p in mixer_params(32, downsample)]
    x = torch.randn(2, 32, 14, 14, device=CUDA)
    scale = torch.rand(64 if downsample else 32, device=CUDA) + 0.5
    shift = torch.randn_like(scale)
    with torch.no_grad():
        want = ops.repnext_mixer_ref(x, *params, scale=scale, shift=shift)
        got = ops.repnext_mixer(x.contiguous(memory_format=torch.channels_last), *params,
                                scale=scale, shift=shift)
    _close(got, want.cpu(), 1e-5 * want.abs().max().item())


def test_repnext_mixer_matches_cpu_kernel():
    params = mixer_params(64, False, torch.float32)
    x = torch.randn(3, 64, 28, 28)
    with torch.no_grad():
        cpu = ops.repnext_mixer(x, *params)
        gpu = ops.repnext_mixer(x.to(CUDA), *[p.to(CUDA) for p in params[:8]])
    _close(gpu, cpu, 1e-5 * cpu.abs().max().item())


def test_repnext_mixer_gradcheck_and_opcheck_on_cuda():
    params = [p.to(CUDA).requires_grad_() for p in mixer_params(8, False)[:8]]
    x = torch.randn(2, 8, 6, 7, dtype=torch.float64, device=CUDA, requires_grad=True)
    assert torch.autograd.gradcheck(lambda xx, *ps: ops.repnext_mixer(xx, *ps), (x, *params))
    detached = [p.detach() for p in params]
    opcheck(torch.ops.pyhpe.repnext_mixer.default, (x.detach(), *detached, None, None))


def test_model_training_step_fused_matches_plain_on_cuda():
    """A RepNeXt 6DRepNet step on the GPU: the fused mixers give the plain PyTorch gradients."""
    from pyhpe.models import create_model
    from pyhpe.models.backbones.repnext import set_fused
    from pyhpe.tasks import task_of

    torch.manual_seed(0)
    model = create_model("sixdrepnet_repnext_m0").to(CUDA).double().train()
    batch = {"image": torch.randn(2, 3, 64, 64, device=CUDA, dtype=torch.float64),
             "R": random_rotations(2, 9).to(CUDA)}
    task = task_of(model)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = {}
    for fused in (True, False):
        set_fused(model, fused)
        loss = task.loss(task.forward(model, batch), batch)
        grads[fused] = torch.autograd.grad(loss, params)
    for a, b in zip(grads[True], grads[False]):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7)
