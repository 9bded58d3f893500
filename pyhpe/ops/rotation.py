"""Rotation ops as ``torch.library`` custom ops (``torch.ops.pyhpe.*``).

Each op has a fake kernel (shapes only, for torch.compile and meta tensors) and an autograd
formula. The real kernel dispatches on the tensor's device: the native CPU kernel, the native
CUDA kernel when built, otherwise the pure-torch reference in :mod:`pyhpe.ops.reference`
(with a one-time warning).

The public functions at the bottom validate their arguments (``TypeError`` for a non-tensor or
non-float dtype, ``ValueError`` for a bad shape, mismatched batch sizes or devices), compute in
float32 for half-precision inputs, and make inputs contiguous before calling the ops.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pyhpe.ops import _native
from pyhpe.ops import reference as ref

# ---------------------------------------------------------------------------------------------
# pyhpe::gram_schmidt and its backward


@torch.library.custom_op("pyhpe::gram_schmidt", mutates_args=())
def _gram_schmidt(x6: Tensor) -> Tensor:
    out = x6.new_empty((x6.shape[0], 3, 3))
    if _native.available(x6.device):
        _native._C.gram_schmidt(x6, out, torch.get_num_threads(), _native.stream_of(x6))
    else:
        _native.warn_fallback("gram_schmidt", x6.device)
        out.copy_(ref.gram_schmidt_ref(x6))
    return out


@_gram_schmidt.register_fake
def _(x6: Tensor) -> Tensor:
    return x6.new_empty((x6.shape[0], 3, 3))


@torch.library.custom_op("pyhpe::gram_schmidt_backward", mutates_args=())
def _gram_schmidt_backward(x6: Tensor, grad_R: Tensor) -> Tensor:
    grad_x6 = torch.empty_like(x6)
    if _native.available(x6.device):
        _native._C.gram_schmidt_backward(
            x6, grad_R, grad_x6, torch.get_num_threads(), _native.stream_of(x6)
        )
    else:
        _native.warn_fallback("gram_schmidt_backward", x6.device)
        _, vjp = torch.func.vjp(ref.gram_schmidt_ref, x6)
        grad_x6.copy_(vjp(grad_R)[0])
    return grad_x6


@_gram_schmidt_backward.register_fake
def _(x6: Tensor, grad_R: Tensor) -> Tensor:
    return torch.empty_like(x6)


def _gs_setup(ctx, inputs, output) -> None:
    ctx.save_for_backward(inputs[0])


def _gs_backward(ctx, grad_R: Tensor):
    (x6,) = ctx.saved_tensors
    return torch.ops.pyhpe.gram_schmidt_backward(x6, grad_R.contiguous())


_gram_schmidt.register_autograd(_gs_backward, setup_context=_gs_setup)

# ---------------------------------------------------------------------------------------------
# pyhpe::geodesic_distance and its backward


@torch.library.custom_op("pyhpe::geodesic_distance", mutates_args=())
def _geodesic_distance(R1: Tensor, R2: Tensor, eps: float) -> Tensor:
    out = R1.new_empty((R1.shape[0],))
    if _native.available(R1.device):
        _native._C.geodesic_distance(
            R1, R2, out, eps, torch.get_num_threads(), _native.stream_of(R1)
        )
    else:
        _native.warn_fallback("geodesic_distance", R1.device)
        out.copy_(ref.geodesic_distance_ref(R1, R2, eps))
    return out


@_geodesic_distance.register_fake
def _(R1: Tensor, R2: Tensor, eps: float) -> Tensor:
    return R1.new_empty((R1.shape[0],))


@torch.library.custom_op("pyhpe::geodesic_distance_backward", mutates_args=())
def _geodesic_distance_backward(
    R1: Tensor, R2: Tensor, grad: Tensor, eps: float
) -> tuple[Tensor, Tensor]:
    g1, g2 = torch.empty_like(R1), torch.empty_like(R2)
    if _native.available(R1.device):
        _native._C.geodesic_distance_backward(
            R1, R2, grad, g1, g2, eps, torch.get_num_threads(), _native.stream_of(R1)
        )
    else:
        _native.warn_fallback("geodesic_distance_backward", R1.device)
        _, vjp = torch.func.vjp(lambda a, b: ref.geodesic_distance_ref(a, b, eps), R1, R2)
        r1, r2 = vjp(grad)
        g1.copy_(r1)
        g2.copy_(r2)
    return g1, g2


@_geodesic_distance_backward.register_fake
def _(R1: Tensor, R2: Tensor, grad: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    return torch.empty_like(R1), torch.empty_like(R2)


def _geo_setup(ctx, inputs, output) -> None:
    R1, R2, eps = inputs
    ctx.save_for_backward(R1, R2)
    ctx.eps = eps


def _geo_backward(ctx, grad: Tensor):
    R1, R2 = ctx.saved_tensors
    g1, g2 = torch.ops.pyhpe.geodesic_distance_backward(R1, R2, grad.contiguous(), ctx.eps)
    return (
        g1 if ctx.needs_input_grad[0] else None,
        g2 if ctx.needs_input_grad[1] else None,
        None,
    )


_geodesic_distance.register_autograd(_geo_backward, setup_context=_geo_setup)

# ---------------------------------------------------------------------------------------------
# pyhpe::sixd_geodesic_distance: the fused training chain, 6D -> R -> distance to R_gt.
# One pass computes each sample's distance and, when asked, its gradient w.r.t. the 6D input;
# the backward pass is then a scale by the incoming gradient.


@torch.library.custom_op("pyhpe::sixd_geodesic_distance", mutates_args=())
def _sixd_geodesic_distance(
    x6: Tensor, R_gt: Tensor, eps: float, need_grad: bool
) -> tuple[Tensor, Tensor]:
    dist = x6.new_empty((x6.shape[0],))
    local = torch.empty_like(x6) if need_grad else x6.new_empty((0, 6))
    if _native.available(x6.device):
        _native._C.sixd_geodesic_distance(
            x6, R_gt, dist, local if need_grad else None, eps,
            torch.get_num_threads(), _native.stream_of(x6),
        )
    else:
        _native.warn_fallback("sixd_geodesic_loss", x6.device)
        d, vjp = torch.func.vjp(
            lambda x: ref.geodesic_distance_ref(ref.gram_schmidt_ref(x), R_gt, eps), x6
        )
        dist.copy_(d)
        if need_grad:
            local.copy_(vjp(torch.ones_like(d))[0])
    return dist, local


@_sixd_geodesic_distance.register_fake
def _(x6: Tensor, R_gt: Tensor, eps: float, need_grad: bool) -> tuple[Tensor, Tensor]:
    local = torch.empty_like(x6) if need_grad else x6.new_empty((0, 6))
    return x6.new_empty((x6.shape[0],)), local


def _chain_setup(ctx, inputs, output) -> None:
    ctx.save_for_backward(output[1])
    ctx.need_grad = inputs[3]


def _chain_backward(ctx, grad_dist: Tensor, _grad_local: Tensor):
    (local,) = ctx.saved_tensors
    if not ctx.need_grad:
        raise RuntimeError(
            "pyhpe::sixd_geodesic_distance was called with need_grad=False; "
            "call pyhpe.ops.sixd_geodesic_loss, which sets it"
        )
    return local * grad_dist.unsqueeze(-1), None, None, None


_sixd_geodesic_distance.register_autograd(_chain_backward, setup_context=_chain_setup)

# ---------------------------------------------------------------------------------------------
# pyhpe::matrix_to_euler (inference post-processing; no gradient)


@torch.library.custom_op("pyhpe::matrix_to_euler", mutates_args=())
def _matrix_to_euler(R: Tensor, degrees: bool) -> Tensor:
    out = R.new_empty((R.shape[0], 3))
    if _native.available(R.device):
        _native._C.matrix_to_euler(
            R, out, degrees, torch.get_num_threads(), _native.stream_of(R)
        )
    else:
        _native.warn_fallback("matrix_to_euler", R.device)
        out.copy_(ref.matrix_to_euler_ref(R, degrees))
    return out


@_matrix_to_euler.register_fake
def _(R: Tensor, degrees: bool) -> Tensor:
    return R.new_empty((R.shape[0], 3))


# ---------------------------------------------------------------------------------------------
# Public front door


def _as_input(name: str, t: object, tail: tuple[int, ...]) -> Tensor:
    """Validate one argument and return it contiguous in float32 or float64."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {t.dtype}")
    if t.dim() != len(tail) + 1 or tuple(t.shape[1:]) != tail:
        want = "(B, " + ", ".join(map(str, tail)) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()  # half/bfloat16 (autocast): compute in float32
    return t.contiguous()


def _check_pair(n1: str, a: Tensor, n2: str, b: Tensor) -> tuple[Tensor, Tensor]:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"batch sizes differ: {n1} has {a.shape[0]}, {n2} has {b.shape[0]}")
    if a.device != b.device:
        raise ValueError(f"{n1} is on {a.device} but {n2} is on {b.device}")
    if a.dtype != b.dtype:
        common = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(common), b.to(common)
    return a, b


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"eps must lie in [0, 1), got {eps}")
    return eps


def gram_schmidt(x6: Tensor) -> Tensor:
    """(B, 6) -> (B, 3, 3) rotation matrices, 6DRepNet's construction.

    ``x6[:, :3]`` and ``x6[:, 3:]`` are the raw first and second columns a1, a2. With norms
    floored at 1e-8: x = a1/|a1|, z = (x × a2)/|x × a2|, y = z × x, R = [x | y | z] (columns).
    """
    return torch.ops.pyhpe.gram_schmidt(_as_input("x6", x6, (6,)))


def geodesic_distance(R1: Tensor, R2: Tensor, eps: float = 1e-7) -> Tensor:
    """(B,3,3),(B,3,3) -> (B,) angle in radians: arccos(clamp((tr(R1 R2ᵀ)-1)/2, -1+eps, 1-eps))."""
    a, b = _check_pair("R1", _as_input("R1", R1, (3, 3)), "R2", _as_input("R2", R2, (3, 3)))
    return torch.ops.pyhpe.geodesic_distance(a, b, _check_eps(eps))


def geodesic_loss(
    R_pred: Tensor, R_gt: Tensor, eps: float = 1e-7, reduction: str = "mean"
) -> Tensor:
    """6DRepNet's GeodesicLoss: the geodesic distance reduced over the batch ('mean'|'sum'|'none')."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return ref.reduce_loss(geodesic_distance(R_pred, R_gt, eps), reduction)


def sixd_geodesic_loss(
    x6: Tensor, R_gt: Tensor, eps: float = 1e-7, reduction: str = "mean"
) -> Tensor:
    """The training loss in one fused op: geodesic_loss(gram_schmidt(x6), R_gt).

    Gradients flow to ``x6`` only; ``R_gt`` is a label (an error is raised if it requires grad).
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    x, r = _check_pair("x6", _as_input("x6", x6, (6,)), "R_gt", _as_input("R_gt", R_gt, (3, 3)))
    if r.requires_grad:
        raise ValueError(
            "R_gt requires grad, but sixd_geodesic_loss differentiates w.r.t. x6 only; use "
            "geodesic_loss(gram_schmidt(x6), R_gt) for gradients w.r.t. both"
        )
    need_grad = torch.is_grad_enabled() and x.requires_grad
    dist, _ = torch.ops.pyhpe.sixd_geodesic_distance(x, r, _check_eps(eps), need_grad)
    return ref.reduce_loss(dist, reduction)


def matrix_to_euler(R: Tensor, degrees: bool = False) -> Tensor:
    """(B,3,3) -> (B,3) (pitch, yaw, roll) for R = Rz(roll) Ry(yaw) Rx(pitch); no gradient.

    Yaw lies in [-90°, 90°]; at gimbal lock (sqrt(R00²+R10²) < 1e-6) roll is 0, as in 6DRepNet.
    """
    return torch.ops.pyhpe.matrix_to_euler(_as_input("R", R, (3, 3)), bool(degrees))
