"""The fused RepNeXt token mixer as a custom op (``torch.ops.pyhpe.repnext_mixer``).

Block mixer (large-branch kernels given): channels split in four equal groups ->
[identity | depthwise w_s | depthwise w_m | depthwise w_l1 then w_l2], every conv "same"-padded
with its bias. Downsample mixer (large branch None): every input channel through w_s and w_m at
stride 2, output [all w_s channels, all w_m channels] (C -> 2C). ``scale``/``shift`` (per output
channel) fold the following BatchNorm in eval mode, so the output is written once.

The kernels are the *merged* ones: RepNeXt modules merge their branch weights with
differentiable torch ops at every step (online reparameterization), so autograd carries the
merged-kernel gradients this op returns back to every branch. CPU tensors run the native kernel
(csrc/include/pyhpe/repnext_mixer.h), CUDA tensors the CUDA kernels (csrc/cuda/mixer_cuda.cu)
when built; other devices run :func:`repnext_mixer_ref`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.dlpack import to_dlpack

from pyhpe.ops import _native

_lib = torch.library.Library("pyhpe", "FRAGMENT")
_lib.define(
    "repnext_mixer(Tensor x, Tensor w_s, Tensor b_s, Tensor w_m, Tensor b_m, Tensor? w_l1, "
    "Tensor? b_l1, Tensor? w_l2, Tensor? b_l2, Tensor? scale, Tensor? shift) -> Tensor"
)
_lib.define(
    "repnext_mixer_backward(Tensor grad, Tensor x, Tensor w_s, Tensor b_s, Tensor w_m, "
    "Tensor b_m, Tensor? w_l1, Tensor? b_l1, Tensor? w_l2, Tensor? b_l2) -> "
    "(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)"
)
_ops = torch.ops.pyhpe
_GRAD_NAMES = ("x", "w_s", "b_s", "w_m", "b_m", "w_l1", "b_l1", "w_l2", "b_l2")


def _out_shape(x: Tensor, downsample: bool) -> tuple[int, int, int, int]:
    n, c, h, w = x.shape
    if downsample:
        return n, 2 * c, (h - 1) // 2 + 1, (w - 1) // 2 + 1
    return n, c, h, w


def _channels_last(x: Tensor) -> bool:
    """x is an NHWC-strided (channels_last) 4-d tensor and not also plain contiguous."""
    return (x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


def _new_output(x: Tensor, shape: tuple[int, int, int, int]) -> Tensor:
    """An uninitialised tensor of ``shape`` in x's layout (NCHW or channels_last)."""
    fmt = torch.channels_last if _channels_last(x) else torch.contiguous_format
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=fmt)


def _nhwc(t: Tensor) -> Tensor:
    """The N x H x W x C view of a channels_last tensor (C-contiguous, for the kernel)."""
    return t.permute(0, 2, 3, 1)


def _same(weight: Tensor) -> tuple[int, int]:
    return weight.shape[2] // 2, weight.shape[3] // 2


def repnext_mixer_ref(x, w_s, b_s, w_m, b_m, w_l1=None, b_l1=None, w_l2=None, b_l2=None,
                      scale=None, shift=None) -> Tensor:
    """Pure-PyTorch reference of the fused mixer (the specification the kernel is tested on)."""
    if w_l1 is None:
        c = x.shape[1]
        y = torch.cat([F.conv2d(x, w_s, b_s, 2, _same(w_s), 1, c),
                       F.conv2d(x, w_m, b_m, 2, _same(w_m), 1, c)], 1)
    else:
        q = x.shape[1] // 4
        x_i, x_s, x_m, x_l = torch.split(x, q, 1)
        large = F.conv2d(F.conv2d(x_l, w_l1, b_l1, 1, _same(w_l1), 1, q), w_l2, b_l2, 1,
                         _same(w_l2), 1, q)
        y = torch.cat([x_i, F.conv2d(x_s, w_s, b_s, 1, _same(w_s), 1, q),
                       F.conv2d(x_m, w_m, b_m, 1, _same(w_m), 1, q), large], 1)
    if scale is not None:
        y = y * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
    return y


def _dl(t: Tensor | None):
    return None if t is None else to_dlpack(t)


def _mixer_native(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift) -> Tensor:
    if not _native.available(x.device):
        _native.warn_fallback("repnext_mixer", x.device)
        return repnext_mixer_ref(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift)
    nhwc = _channels_last(x) and x.device.type == "cpu"
    if not nhwc:
        x = x.contiguous()
    out = _new_output(x, _out_shape(x, w_l1 is None))
    xs, outs = (_nhwc(x), _nhwc(out)) if nhwc else (x, out)
    _native._C.repnext_mixer(
        *[_dl(t) for t in (xs, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift, outs)],
        torch.get_num_threads(), _native.stream_of(x), nhwc,
    )
    return out


def _mixer_backward_native(grad, x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2):
    params = (w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2)
    if not _native.available(x.device):
        _native.warn_fallback("repnext_mixer_backward", x.device)
        return _mixer_backward_ref(grad, x, *params)
    nhwc = _channels_last(x) and x.device.type == "cpu"
    fmt = torch.channels_last if nhwc else torch.contiguous_format
    x, grad = x.contiguous(memory_format=fmt), grad.contiguous(memory_format=fmt)
    gx = torch.empty_like(x, memory_format=fmt)
    gp = [torch.zeros_like(p) if p is not None else None for p in params]
    xs, grads, gxs = (_nhwc(x), _nhwc(grad), _nhwc(gx)) if nhwc else (x, grad, gx)
    _native._C.repnext_mixer_backward(
        to_dlpack(grads), *[_dl(t) for t in (xs, *params, gxs, *gp)], torch.get_num_threads(),
        _native.stream_of(x), nhwc,
    )
    return (gx, *[g if g is not None else x.new_empty(0) for g in gp])


def _mixer_backward_ref(grad, x, *params):
    present = [p for p in params if p is not None]
    _, vjp = torch.func.vjp(lambda xx, *ps: repnext_mixer_ref(xx, *_fill(params, ps)), x, *present)
    grads = iter(vjp(grad))
    gx = next(grads)
    return (gx, *[next(grads) if p is not None else x.new_empty(0) for p in params])


def _fill(template, present):
    it = iter(present)
    return [next(it) if t is not None else None for t in template]


for _key in ("CPU", "CUDA"):
    _lib.impl("repnext_mixer", _mixer_native, _key)
    _lib.impl("repnext_mixer_backward", _mixer_backward_native, _key)
_lib.impl("repnext_mixer", repnext_mixer_ref, "CompositeExplicitAutograd")
_lib.impl("repnext_mixer_backward", _mixer_backward_ref, "CompositeExplicitAutograd")


@torch.library.register_fake("pyhpe::repnext_mixer")
def _(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift):
    return _new_output(x, _out_shape(x, w_l1 is None))


@torch.library.register_fake("pyhpe::repnext_mixer_backward")
def _(grad, x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2):
    params = (w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2)
    return (torch.empty_like(x),
            *[torch.empty_like(p) if p is not None else x.new_empty(0) for p in params])


class _MixerFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2):
        ctx.save_for_backward(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2)
        with torch._C._AutoDispatchBelowAutograd():
            return _ops.repnext_mixer.default(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2,
                                              None, None)

    @staticmethod
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        grads = _ops.repnext_mixer_backward.default(grad, *saved)
        return tuple(g if need and saved[i] is not None else None
                     for i, (g, need) in enumerate(zip(grads, ctx.needs_input_grad)))


def _mixer_autograd(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift):
    tensors = [t for t in (x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2) if t is not None]
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        if scale is not None or shift is not None:
            raise RuntimeError("repnext_mixer with scale/shift (the BatchNorm-folded eval form) "
                               "is not differentiable; train without scale/shift")
        return _MixerFn.apply(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2)
    with torch._C._AutoDispatchBelowAutograd():
        return _ops.repnext_mixer.default(x, w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale,
                                          shift)


def _backward_autograd(*args):
    with torch._C._AutoDispatchBelowAutograd():
        return _ops.repnext_mixer_backward.default(*args)


_lib.impl("repnext_mixer", _mixer_autograd, "Autograd")
_lib.impl("repnext_mixer_backward", _backward_autograd, "Autograd")


def _check(name: str, t: Tensor | None, like: Tensor, ndim: int) -> Tensor | None:
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(t).__name__}")
    if t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if t.dtype != like.dtype or t.device != like.device:
        raise ValueError(f"{name} must match x ({like.dtype} on {like.device}), "
                         f"got {t.dtype} on {t.device}")
    return t.contiguous()


def repnext_mixer(x: Tensor, w_s: Tensor, b_s: Tensor, w_m: Tensor, b_m: Tensor,
                  w_l1: Tensor | None = None, b_l1: Tensor | None = None,
                  w_l2: Tensor | None = None, b_l2: Tensor | None = None,
                  scale: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
    """Fused RepNeXt mixer; see the module docstring for the layout. Kernels are depthwise
    (K, 1, kh, kw) with odd sizes; K = C/4 for the block mixer, C for the downsample mixer."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"x must be a floating NCHW tensor, got {x.dtype} {tuple(x.shape)}")
    if (scale is None) != (shift is None):
        raise ValueError("scale and shift must be given together")
    if x.dtype not in (torch.float32, torch.float64):  # half/bfloat16 (autocast): in float32
        x = x.float()
    if torch.is_autocast_enabled(x.device.type):  # parameters follow x (autocast casts them)
        cast = [w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift]
        w_s, b_s, w_m, b_m, w_l1, b_l1, w_l2, b_l2, scale, shift = [
            t.to(x.dtype) if isinstance(t, Tensor) else t for t in cast]
    if not _channels_last(x):  # channels_last (NHWC) inputs run as they are on the CPU
        x = x.contiguous()
    args = [_check(n, t, x, nd) for n, t, nd in (
        ("w_s", w_s, 4), ("b_s", b_s, 1), ("w_m", w_m, 4), ("b_m", b_m, 1), ("w_l1", w_l1, 4),
        ("b_l1", b_l1, 1), ("w_l2", w_l2, 4), ("b_l2", b_l2, 1), ("scale", scale, 1),
        ("shift", shift, 1))]
    return _ops.repnext_mixer.default(x, *args)
