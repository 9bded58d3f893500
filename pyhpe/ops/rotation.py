"""Rotation ops as ``torch.library`` custom ops (``torch.ops.pyhpe.*``).

Each op is defined with a schema, a CPU and a CUDA kernel (native; the pure-torch reference in
:mod:`pyhpe.ops.reference` where no native kernel exists, with a one-time warning), a fake
kernel (shapes only, for torch.compile, torch.export and meta tensors) and an Autograd kernel.

The ops are registered through the low-level ``torch.library.Library`` API rather than
``torch.library.custom_op``: the latter wraps every call in several Python layers and cost
~27 µs per call here, against ~6 µs for this registration (see docs/benchmarks.md).

The public functions at the bottom validate their arguments (``TypeError`` for a non-tensor or
non-float dtype, ``ValueError`` for a bad shape, mismatched batch sizes or devices), compute in
float32 for half-precision inputs, and make inputs contiguous before calling the ops.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.dlpack import to_dlpack

from pyhpe.ops import _native
from pyhpe.ops import reference as ref

_lib = torch.library.Library("pyhpe", "DEF")
_lib.define("gram_schmidt(Tensor x6) -> Tensor")
_lib.define("gram_schmidt_backward(Tensor x6, Tensor grad_R) -> Tensor")
_lib.define("geodesic_distance(Tensor R1, Tensor R2, float eps) -> Tensor")
_lib.define(
    "geodesic_distance_backward(Tensor R1, Tensor R2, Tensor grad, float eps) -> (Tensor, Tensor)"
)
_lib.define("sixd_geodesic_distance(Tensor x6, Tensor R_gt, float eps) -> Tensor")
_lib.define(
    "sixd_geodesic_distance_with_grad(Tensor x6, Tensor R_gt, float eps) -> (Tensor, Tensor)"
)
_lib.define("matrix_to_euler(Tensor R, bool degrees) -> Tensor")

_ops = torch.ops.pyhpe
_C = _native._C
_get_num_threads = torch.get_num_threads


def _impl(name: str, fn) -> None:
    """Register ``fn`` as the kernel of ``pyhpe::name`` for CPU, CUDA and every other backend."""
    for key in ("CPU", "CUDA", "CompositeExplicitAutograd"):
        _lib.impl(name, fn, key)


def _call_native(op: str, lead: Tensor, *args) -> bool:
    """Run ``_C.<op>`` on DLPack views of the tensors in ``args``; False if no native kernel.

    This is on every call's path, so it is kept lean (~1 µs over the kernel at small batches).
    """
    if lead.is_cpu and _C is not None:
        stream = 0
    elif _native.available(lead.device):
        stream = _native.stream_of(lead)
    else:
        _native.warn_fallback(op, lead.device)
        return False
    getattr(_C, op)(*[to_dlpack(a) if isinstance(a, Tensor) else a for a in args],
                    _get_num_threads(), stream)
    return True


# ---------------------------------------------------------------------------------------------
# Kernels (what runs below autograd)


def _gram_schmidt_kernel(x6: Tensor) -> Tensor:
    out = x6.new_empty((x6.shape[0], 3, 3))
    if not _call_native("gram_schmidt", x6, x6, out):
        out.copy_(ref.gram_schmidt_ref(x6))
    return out


def _gram_schmidt_backward_kernel(x6: Tensor, grad_R: Tensor) -> Tensor:
    grad_x6 = torch.empty_like(x6)
    if not _call_native("gram_schmidt_backward", x6, x6, grad_R, grad_x6):
        _, vjp = torch.func.vjp(ref.gram_schmidt_ref, x6)
        grad_x6.copy_(vjp(grad_R)[0])
    return grad_x6


def _geodesic_kernel(R1: Tensor, R2: Tensor, eps: float) -> Tensor:
    out = R1.new_empty((R1.shape[0],))
    if not _call_native("geodesic_distance", R1, R1, R2, out, eps):
        out.copy_(ref.geodesic_distance_ref(R1, R2, eps))
    return out


def _geodesic_backward_kernel(
    R1: Tensor, R2: Tensor, grad: Tensor, eps: float
) -> tuple[Tensor, Tensor]:
    g1, g2 = torch.empty_like(R1), torch.empty_like(R2)
    if not _call_native("geodesic_distance_backward", R1, R1, R2, grad, g1, g2, eps):
        _, vjp = torch.func.vjp(lambda a, b: ref.geodesic_distance_ref(a, b, eps), R1, R2)
        r1, r2 = vjp(grad)
        g1.copy_(r1)
        g2.copy_(r2)
    return g1, g2


def _sixd_geodesic_run(x6: Tensor, R_gt: Tensor, eps: float, local: Tensor | None) -> Tensor:
    dist = x6.new_empty((x6.shape[0],))
    if not _call_native("sixd_geodesic_distance", x6, x6, R_gt, dist, local, eps):
        d, vjp = torch.func.vjp(
            lambda x: ref.geodesic_distance_ref(ref.gram_schmidt_ref(x), R_gt, eps), x6
        )
        dist.copy_(d)
        if local is not None:
            local.copy_(vjp(torch.ones_like(d))[0])
    return dist


def _sixd_geodesic_kernel(x6: Tensor, R_gt: Tensor, eps: float) -> Tensor:
    return _sixd_geodesic_run(x6, R_gt, eps, None)


def _sixd_geodesic_with_grad_kernel(x6: Tensor, R_gt: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    local = torch.empty_like(x6)
    return _sixd_geodesic_run(x6, R_gt, eps, local), local


def _matrix_to_euler_kernel(R: Tensor, degrees: bool) -> Tensor:
    out = R.new_empty((R.shape[0], 3))
    if not _call_native("matrix_to_euler", R, R, out, degrees):
        out.copy_(ref.matrix_to_euler_ref(R, degrees))
    return out


_impl("gram_schmidt", _gram_schmidt_kernel)
_impl("gram_schmidt_backward", _gram_schmidt_backward_kernel)
_impl("geodesic_distance", _geodesic_kernel)
_impl("geodesic_distance_backward", _geodesic_backward_kernel)
_impl("sixd_geodesic_distance", _sixd_geodesic_kernel)
_impl("sixd_geodesic_distance_with_grad", _sixd_geodesic_with_grad_kernel)
_impl("matrix_to_euler", _matrix_to_euler_kernel)

# ---------------------------------------------------------------------------------------------
# Fake kernels (shapes and dtypes only)


@torch.library.register_fake("pyhpe::gram_schmidt")
def _(x6: Tensor) -> Tensor:
    return x6.new_empty((x6.shape[0], 3, 3))


@torch.library.register_fake("pyhpe::gram_schmidt_backward")
def _(x6: Tensor, grad_R: Tensor) -> Tensor:
    return torch.empty_like(x6)


@torch.library.register_fake("pyhpe::geodesic_distance")
def _(R1: Tensor, R2: Tensor, eps: float) -> Tensor:
    return R1.new_empty((R1.shape[0],))


@torch.library.register_fake("pyhpe::geodesic_distance_backward")
def _(R1: Tensor, R2: Tensor, grad: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    return torch.empty_like(R1), torch.empty_like(R2)


@torch.library.register_fake("pyhpe::sixd_geodesic_distance")
def _(x6: Tensor, R_gt: Tensor, eps: float) -> Tensor:
    return x6.new_empty((x6.shape[0],))


@torch.library.register_fake("pyhpe::sixd_geodesic_distance_with_grad")
def _(x6: Tensor, R_gt: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    return x6.new_empty((x6.shape[0],)), torch.empty_like(x6)


@torch.library.register_fake("pyhpe::matrix_to_euler")
def _(R: Tensor, degrees: bool) -> Tensor:
    return R.new_empty((R.shape[0], 3))


# ---------------------------------------------------------------------------------------------
# Autograd kernels. Each runs the op below autograd, through an autograd.Function when a
# gradient is needed. The backward passes call ops too, so torch.compile traces them.


def _below_autograd(op, *args):
    with torch._C._AutoDispatchBelowAutograd():
        return op(*args)


def _wants_grad(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


class _GramSchmidtFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x6: Tensor) -> Tensor:
        ctx.save_for_backward(x6)
        return _below_autograd(_ops.gram_schmidt.default, x6)

    @staticmethod
    def backward(ctx, grad_R: Tensor) -> Tensor:
        (x6,) = ctx.saved_tensors
        return _ops.gram_schmidt_backward.default(x6, grad_R.contiguous())


class _GeodesicFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, R1: Tensor, R2: Tensor, eps: float) -> Tensor:
        ctx.save_for_backward(R1, R2)
        ctx.eps = eps
        return _below_autograd(_ops.geodesic_distance.default, R1, R2, eps)

    @staticmethod
    def backward(ctx, grad: Tensor):
        R1, R2 = ctx.saved_tensors
        g1, g2 = _ops.geodesic_distance_backward.default(R1, R2, grad.contiguous(), ctx.eps)
        return (
            g1 if ctx.needs_input_grad[0] else None,
            g2 if ctx.needs_input_grad[1] else None,
            None,
        )


class _SixdGeodesicFn(torch.autograd.Function):
    """One pass computes the distances and their gradients w.r.t. x6; backward only scales."""

    @staticmethod
    def forward(ctx, x6: Tensor, R_gt: Tensor, eps: float) -> Tensor:
        dist, local = _below_autograd(
            _ops.sixd_geodesic_distance_with_grad.default, x6, R_gt, eps
        )
        ctx.save_for_backward(local)
        ctx.mark_non_differentiable()
        return dist

    @staticmethod
    def backward(ctx, grad: Tensor):
        (local,) = ctx.saved_tensors
        return local * grad.unsqueeze(-1), None, None


def _fused_loss_native(x6: Tensor, R_gt: Tensor, eps: float, mean: bool,
                       grad_x6: Tensor | None) -> float:
    """The CPU kernel of the reduced loss: one pass over x6 and R_gt, writing grad_x6 (the
    loss's gradient, 1/B already applied for the mean) when given; returns the loss."""
    return _C.sixd_geodesic_loss(to_dlpack(x6), to_dlpack(R_gt),
                                 None if grad_x6 is None else to_dlpack(grad_x6), mean, eps,
                                 _get_num_threads(), 0)


def _fused_loss_applies(x6: Tensor, R_gt: Tensor, reduction: str) -> bool:
    """Whether the reduced loss can run as the one-pass CPU kernel called from Python: plain
    CPU tensors in eager mode (no tracing, no functorch transform), a non-empty batch."""
    return (reduction != "none" and _C is not None and x6.is_cpu and x6.shape[0] > 0
            and type(x6) is Tensor and type(R_gt) is Tensor
            and not torch.jit.is_tracing()
            and not torch._C._are_functorch_transforms_active())


class _SixdGeodesicLossFn(torch.autograd.Function):
    """The eager training path: distances, their gradients and the reduction in one autograd
    node, calling the kernel directly (torch.compile goes through the op instead).

    On CPU with reduction 'mean' or 'sum' the forward is one pass that returns the loss and
    writes its gradient (the only tensor it allocates); backward hands that tensor over as it
    is when the upstream gradient is 1 (``loss.backward()``), or scales it in place. A second
    backward through the same graph (``retain_graph=True``) recomputes it from the inputs."""

    @staticmethod
    def forward(ctx, x6: Tensor, R_gt: Tensor, eps: float, reduction: str) -> Tensor:
        ctx.reduction = reduction
        ctx.eps = eps
        if _fused_loss_applies(x6, R_gt, reduction):
            grad_x6 = torch.empty_like(x6)
            loss = _fused_loss_native(x6, R_gt, eps, reduction == "mean", grad_x6)
            ctx.fused, ctx.fused_grad = True, grad_x6
            ctx.save_for_backward(x6, R_gt)
            return torch.tensor(loss, dtype=x6.dtype)
        ctx.fused = False
        dist, local = _sixd_geodesic_with_grad_kernel(x6, R_gt, eps)
        ctx.save_for_backward(local)
        return ref.reduce_loss(dist, reduction)

    @staticmethod
    def backward(ctx, grad: Tensor):
        if ctx.reduction == "none":
            (local,) = ctx.saved_tensors
            return local * grad.unsqueeze(-1), None, None, None
        if ctx.fused:  # the one-pass kernel ran
            grad_x6 = ctx.fused_grad
            if grad_x6 is None:  # a second backward: the first one took the tensor
                x6, R_gt = ctx.saved_tensors
                grad_x6 = torch.empty_like(x6)
                _fused_loss_native(x6, R_gt, ctx.eps, ctx.reduction == "mean", grad_x6)
            ctx.fused_grad = None
            if grad.requires_grad or grad.item() != 1.0:
                grad_x6 = grad_x6 * grad if grad.requires_grad else grad_x6.mul_(grad)
            return grad_x6, None, None, None
        (local,) = ctx.saved_tensors
        scale = grad / local.shape[0] if ctx.reduction == "mean" else grad
        return local * scale, None, None, None


def _gram_schmidt_autograd(x6: Tensor) -> Tensor:
    if _wants_grad(x6):
        return _GramSchmidtFn.apply(x6)
    return _below_autograd(_ops.gram_schmidt.default, x6)


def _geodesic_autograd(R1: Tensor, R2: Tensor, eps: float) -> Tensor:
    if _wants_grad(R1, R2):
        return _GeodesicFn.apply(R1, R2, eps)
    return _below_autograd(_ops.geodesic_distance.default, R1, R2, eps)


def _refuse_label_grad(R_gt: Tensor) -> None:
    if R_gt.requires_grad and torch.is_grad_enabled():
        raise ValueError(
            "R_gt requires grad, but sixd_geodesic_loss differentiates w.r.t. x6 only; use "
            "geodesic_loss(gram_schmidt(x6), R_gt) for gradients w.r.t. both"
        )


def _sixd_geodesic_autograd(x6: Tensor, R_gt: Tensor, eps: float) -> Tensor:
    _refuse_label_grad(R_gt)
    if _wants_grad(x6):
        return _SixdGeodesicFn.apply(x6, R_gt, eps)
    return _below_autograd(_ops.sixd_geodesic_distance.default, x6, R_gt, eps)


def _no_grad_autograd(op):
    """Autograd kernel of an op without a derivative: refuses inputs that require grad."""

    def kernel(*args):
        if any(isinstance(a, Tensor) and a.requires_grad for a in args) and torch.is_grad_enabled():
            raise RuntimeError(f"pyhpe::{op._name.split('::')[-1]} is not differentiable")
        return _below_autograd(op, *args)

    return kernel


_lib.impl("gram_schmidt", _gram_schmidt_autograd, "Autograd")
_lib.impl("geodesic_distance", _geodesic_autograd, "Autograd")
_lib.impl("sixd_geodesic_distance", _sixd_geodesic_autograd, "Autograd")
for _name in ("gram_schmidt_backward", "geodesic_distance_backward",
              "sixd_geodesic_distance_with_grad", "matrix_to_euler"):
    _lib.impl(_name, _no_grad_autograd(getattr(_ops, _name).default), "Autograd")

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


def _run(op, *args):
    """Call ``op``; in eager mode when no input needs a gradient, skip the Autograd kernel's
    Python hop (a few µs at small batches). torch.compile always sees the plain op call."""
    if torch.compiler.is_compiling() or (
        torch.is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args)
    ):
        return op(*args)
    with torch._C._AutoDispatchBelowAutograd():
        return op(*args)


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
    return _run(_ops.gram_schmidt.default, _as_input("x6", x6, (6,)))


def geodesic_distance(R1: Tensor, R2: Tensor, eps: float = 1e-7) -> Tensor:
    """(B,3,3),(B,3,3) -> (B,) angle in radians: arccos(clamp((tr(R1 R2ᵀ)-1)/2, -1+eps, 1-eps))."""
    a, b = _check_pair("R1", _as_input("R1", R1, (3, 3)), "R2", _as_input("R2", R2, (3, 3)))
    return _run(_ops.geodesic_distance.default, a, b, _check_eps(eps))


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
    eps = _check_eps(eps)
    if torch.compiler.is_compiling():
        return ref.reduce_loss(_run(_ops.sixd_geodesic_distance.default, x, r, eps), reduction)
    if x.requires_grad and torch.is_grad_enabled():
        _refuse_label_grad(r)
        return _SixdGeodesicLossFn.apply(x, r, eps, reduction)
    if _fused_loss_applies(x, r, reduction) and not (r.requires_grad and torch.is_grad_enabled()):
        return torch.tensor(_fused_loss_native(x, r, eps, reduction == "mean", None), dtype=x.dtype)
    return ref.reduce_loss(_run(_ops.sixd_geodesic_distance.default, x, r, eps), reduction)


def matrix_to_euler(R: Tensor, degrees: bool = False) -> Tensor:
    """(B,3,3) -> (B,3) (pitch, yaw, roll) for R = Rz(roll) Ry(yaw) Rx(pitch); no gradient.

    Yaw lies in [-90°, 90°]; at gimbal lock (sqrt(R00²+R10²) < 1e-6) roll is 0, as in 6DRepNet.
    """
    return _run(_ops.matrix_to_euler.default, _as_input("R", R, (3, 3)), bool(degrees))
