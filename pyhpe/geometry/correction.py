"""TRGv2's head translation from regressed correction parameters (Eq. 3) through the pinhole model.

The model does not regress the translation t; it regresses c = (s, τ̃x, τ̃y) relative to the crop box
and recovers t through the full image's pinhole camera, so one network serves any focal length and
any box (TRGv2 paper §3.1.5, Eq. 3). Conventions (docs/conventions.md):

- **Pose**: x_cam = R v + t; t is the head centre in the camera frame, in **metres**; OpenCV axes,
  x right, y down, z forward.
- **Pixels**: integer pixel centres, as in :mod:`pyhpe.geometry.camera`.
- **Box** (the official code's ``bbox_info``): (B, 7) = [left, top, right, bottom, f, H_img, W_img] in
  **full-image** pixels; f is the full image's focal length (fx = fy assumed), b = right − left the box
  side, (c_x, c_y) = ((left + right)/2, (top + bottom)/2) the box centre.
- **τ** = box centre − principal point (pixels). ``form="paper"`` (ours): the full image's principal
  point, given. ``form="official"`` (the released TRGv2 code): the image centre (W/2, H/2), which
  equals ours only when the principal point is there (ARKitFace's is; our renderer's is not).
- **Eq. 3**: T_z = B·s·f/b, T_xy = B·s·τ/b + k·B·s·τ̃ with B = 0.2 m the canonical face size and
  k = 1 (paper: τ̃ in units of b) or k = ½ (official: τ̃ in units of b/2). So t projects to
  box centre + k·τ̃·b: τ̃ = 0 puts the head centre at the box centre, s = 1 makes the 0.2 m face fill
  the box.

Torch tensors batched over a leading dim B, computed in their common floating dtype, differentiable.
Bad shapes and values raise ValueError; value checks are skipped while tracing or compiling.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "FACE_SIZE_M",
    "box_info",
    "box_offsets",
    "correction_from_translation",
    "principal_point_from_crop",
    "translation_from_correction",
]

FACE_SIZE_M = 0.2
"""The canonical physical face size B (metres): the side of the square a face of scale s = 1 fills."""

_FORMS = ("paper", "official")
_BOX = "(B, 7) = [left, top, right, bottom, f, H_img, W_img]"


# ---- validation ----------------------------------------------------------------------------------

def _floats(*xs) -> list[Tensor]:
    """The arguments (None passes through) as tensors of one floating dtype on the device of the
    first tensor."""
    ref = [x for x in xs if isinstance(x, Tensor)]
    dtype = ref[0].dtype if ref else torch.get_default_dtype()
    for r in ref[1:]:
        dtype = torch.promote_types(dtype, r.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    device = ref[0].device if ref else None
    # Tensor.to, not torch.as_tensor: a tracer records the former and bakes the latter in as a constant
    return [x.to(dtype=dtype, device=device) if isinstance(x, Tensor)
            else None if x is None else torch.as_tensor(x, dtype=dtype, device=device) for x in xs]


def _checking(x: Tensor) -> bool:
    """Value checks run only on concrete tensors outside tracing, compiling and export (they read
    values, which would bake constants into a traced graph or break a compiled one)."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return False
    return x.device.type != "meta"


def _check_shape(name: str, x: Tensor, shape: tuple[int, ...], what: str) -> None:
    # a tracer's sizes are tensors (comparing them warns and freezes the trace): rank only there
    if x.ndim != len(shape) + 1 or (not torch.jit.is_tracing() and tuple(x.shape[1:]) != shape):
        raise ValueError(f"{name} must have shape {what}, got {tuple(x.shape)}")


def _check_batch(box: Tensor, name: str, x: Tensor) -> None:
    if not torch.jit.is_tracing() and x.shape[0] != box.shape[0]:
        raise ValueError(f"batch sizes differ: box has {box.shape[0]} rows, {name} has {x.shape[0]}")


def _check_box(box: Tensor) -> None:
    _check_shape("box", box, (7,), _BOX)
    if not _checking(box):
        return
    bad = (box[:, 2] <= box[:, 0]) | (box[:, 3] <= box[:, 1])
    if bool(bad.any()):
        raise ValueError(f"box has zero or negative size (right <= left or bottom <= top) in "
                         f"{int(bad.sum())} of {box.shape[0]} rows")
    if bool((box[:, 4] <= 0).any()):
        raise ValueError("box focal length f (column 4) must be > 0")


def _check_form(form: str) -> None:
    if form not in _FORMS:
        raise ValueError(f"unknown form {form!r}; expected 'paper' or 'official'")


def _check_face_size(face_size: float) -> None:
    if not face_size > 0:
        raise ValueError(f"face_size must be > 0 metres, got {face_size}")


def _prepare(box, principal_point, form: str, name: str | None = None, x=None):
    """Validated (box (B, 7), principal point (B, 2) or None for the official form, x (B, 3) or
    None) in one floating dtype."""
    _check_form(form)
    if form == "paper" and principal_point is None:
        raise ValueError("form='paper' needs principal_point (B, 2): the full image's (cx, cy)")
    pp = principal_point if form == "paper" else None
    box, pp, x = _floats(box, pp, x)
    _check_box(box)
    if pp is not None:
        _check_shape("principal_point", pp, (2,), "(B, 2)")
        _check_batch(box, "principal_point", pp)
    if x is not None:
        _check_shape(name, x, (3,), "(B, 3)")
        _check_batch(box, name, x)
    return box, pp, x


def _tau(box: Tensor, pp: Tensor | None) -> Tensor:
    """Box centre − principal point; the image centre (W/2, H/2) when pp is None (official)."""
    if pp is None:
        pp = torch.stack([box[:, 6], box[:, 5]], -1) / 2
    return (box[:, 0:2] + box[:, 2:4]) / 2 - pp


# ---- box quantities ------------------------------------------------------------------------------

def principal_point_from_crop(K_crop: Tensor, box: Tensor) -> Tensor:
    """The full image's principal point (B, 2) recovered from the crop intrinsics K_crop (B, 3, 3).

    Inverts :func:`pyhpe.geometry.camera.crop_intrinsics` (shift by (left, top), then scale by
    s = K_crop[0, 0]/f, integer pixel centres): cx_crop = (cx − left + ½)·s − ½, so
    cx = (cx_crop + ½)/s − ½ + left; likewise cy with top and K_crop[1, 1]/f. Needs fx = fy = f
    in the full image; box (B, 7) = [left, top, right, bottom, f, H_img, W_img] in full-image pixels.
    """
    K_crop, box = _floats(K_crop, box)
    _check_box(box)
    _check_shape("K_crop", K_crop, (3, 3), "(B, 3, 3)")
    _check_batch(box, "K_crop", K_crop)
    if _checking(K_crop) and bool((torch.diagonal(K_crop, dim1=-2, dim2=-1)[:, :2] <= 0).any()):
        raise ValueError("K_crop focal lengths (K_crop[0, 0], K_crop[1, 1]) must be > 0")
    f = box[:, 4:5]
    s = torch.stack([K_crop[:, 0, 0], K_crop[:, 1, 1]], -1) / f
    return (K_crop[:, :2, 2] + 0.5) / s - 0.5 + box[:, :2]


def box_offsets(box: Tensor, principal_point: Tensor | None = None, form: str = "paper") -> Tensor:
    """τ (B, 2) = box centre − principal point, in pixels.

    ``form="paper"``: from ``principal_point`` (B, 2), the full image's (cx, cy) (required).
    ``form="official"``: from the image centre (W_img/2, H_img/2) as the released TRGv2 code measures
    it (``principal_point`` ignored); the same as ours only when the principal point is the image
    centre, which our renderer's is not.
    """
    box, pp, _ = _prepare(box, principal_point, form)
    return _tau(box, pp)


def box_info(box: Tensor, principal_point: Tensor | None = None, form: str = "paper") -> Tensor:
    """I_bbox (B, 3), the box as the regressor sees it, in units of the focal length.

    ``form="paper"``: [τx/f, τy/f, b/f]. ``form="official"``: [4·τx/f, 4·τy/f, b/f] with τ from
    the image centre (the released code multiplies the offsets by 4). τ as in :func:`box_offsets`;
    b = right − left.
    """
    box, pp, _ = _prepare(box, principal_point, form)
    tau = _tau(box, pp) * (4.0 if form == "official" else 1.0)
    f, b = box[:, 4:5], box[:, 2:3] - box[:, 0:1]
    return torch.cat([tau / f, b / f], -1)


# ---- Eq. 3 and its inverse -----------------------------------------------------------------------

def translation_from_correction(c: Tensor, box: Tensor, principal_point: Tensor | None = None,
                                form: str = "paper", face_size: float = FACE_SIZE_M) -> Tensor:
    """Eq. 3: correction parameters c (B, 3) = (s, τ̃x, τ̃y) -> head translation t (B, 3), metres.

    T_z = B·s·f/b, T_xy = B·s·τ/b + k·B·s·τ̃ with B = ``face_size``, k = 1 for ``form="paper"``
    (τ̃ in units of b, τ from ``principal_point``) and k = ½ for ``form="official"`` (τ̃ in units of
    b/2, τ from the image centre). Meaning: t projects, with the full-image K of that principal
    point, to box centre + k·τ̃·b, so τ̃ = 0 puts the head centre at the box centre; s = 1 means
    the face of size B fills the box. x_cam = R v + t, OpenCV axes.
    """
    _check_face_size(face_size)
    box, pp, c = _prepare(box, principal_point, form, "c", c)
    k = 1.0 if form == "paper" else 0.5
    b, f = box[:, 2:3] - box[:, 0:1], box[:, 4:5]
    scale = face_size * c[:, 0:1]
    return torch.cat([scale * (_tau(box, pp) / b + k * c[:, 1:3]), scale * f / b], -1)


def correction_from_translation(t: Tensor, box: Tensor, principal_point: Tensor | None = None,
                                form: str = "paper", face_size: float = FACE_SIZE_M) -> Tensor:
    """The exact inverse of :func:`translation_from_correction`: t (B, 3) metres -> c (B, 3).

    s = T_z·b/(B·f); τ̃ = (f·T_xy/T_z − τ)/(k·b): the head centre's image offset from the box centre
    in units of k·b (k = 1 paper, ½ official). Requires T_z > 0 (the head in front of the camera).
    Same box, principal point and form conventions as the forward map.
    """
    _check_face_size(face_size)
    box, pp, t = _prepare(box, principal_point, form, "t", t)
    if _checking(t) and bool((t[:, 2] <= 0).any()):
        raise ValueError("t_z must be > 0 (the head in front of the camera)")
    k = 1.0 if form == "paper" else 0.5
    b, f, tz = box[:, 2:3] - box[:, 0:1], box[:, 4:5], t[:, 2:3]
    s = tz * b / (face_size * f)
    return torch.cat([s, (f * t[:, 0:2] / tz - _tau(box, pp)) / (k * b)], -1)
