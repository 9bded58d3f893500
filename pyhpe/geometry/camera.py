"""Camera geometry: the head -> camera transform, pinhole projection, crop/resize intrinsics, boxes.

The one place for these formulas (docs/conventions.md, "Camera, crops and boxes"):

- **Camera frame**: OpenCV axes, x right, y down, z forward (into the scene). Lengths are in the
  units of the points (metres everywhere in pyhpe); image coordinates are in pixels.
- **Row vectors**: N points are an (…, N, 3) array; x_cam = R x_head + t is ``points @ Rᵀ + t``.
- **K** = [[fx, s, cx], [0, fy, cy], [0, 0, 1]] in pixels. Its last row is assumed, not read.
- **Pixel centres at integer coordinates** (OpenCV): pixel column j covers x ∈ [j − ½, j + ½), so a
  W-wide image spans x ∈ [−½, W − ½]. Projection itself is convention-free (K carries it); the
  crop/resize/flip updates of K and of 2D points below follow this convention.
- **Boxes**: ``xyxy`` = (x0, y0, x1, y1) and ``cxcywh`` = (centre x, centre y, width, height), in
  those pixel coordinates; ``xywh`` = (x, y, w, h) is a detector's box (first column, first row,
  width, height in pixels).

Every function here takes NumPy arrays (computed in float64) or torch tensors (computed in the
tensor's dtype, differentiable) and dispatches on the type; a torch tensor anywhere in the
arguments selects torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "CROP_CONVENTIONS",
    "affine_points",
    "box_cxcywh_to_xyxy",
    "box_from_points",
    "box_iou",
    "box_xywh_to_xyxy",
    "box_xyxy_to_cxcywh",
    "centered_intrinsics",
    "crop_intrinsics",
    "crop_matrix",
    "crop_rotation_to_camera",
    "project",
    "project_points",
    "ray_rotation",
    "scale_intrinsics",
    "scale_points",
    "shift_intrinsics",
    "shift_points",
    "square_box",
    "to_camera",
]


def _is_torch(*xs) -> bool:
    for x in xs:
        if isinstance(x, torch.Tensor):
            return True
    return False


def _as_torch(*xs) -> list[torch.Tensor]:
    """The arguments as tensors of one floating dtype and the device of the first tensor."""
    ref = [x for x in xs if isinstance(x, torch.Tensor)]
    dtype = ref[0].dtype
    for r in ref[1:]:
        dtype = torch.promote_types(dtype, r.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    return [torch.as_tensor(x, dtype=dtype, device=ref[0].device) for x in xs]


def _check(name: str, x, last: tuple[int, ...], min_ndim: int) -> None:
    if x.ndim < min_ndim or tuple(x.shape[x.ndim - len(last):]) != last:
        want = "(…, " + ", ".join("N" if d < 0 else str(d) for d in last) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")


def to_camera(points, R, t):
    """Head-frame points (…, N, 3) -> camera frame (…, N, 3): x_cam = R x_head + t.

    R (…, 3, 3) maps head to camera coordinates (docs/conventions.md); t (…, 3) is the head origin
    in the camera frame, in the points' units. Row vectors: computed as ``points @ Rᵀ + t``.
    Leading dimensions broadcast.
    """
    if _is_torch(points, R, t):
        points, R, t = _as_torch(points, R, t)
        _check("points", points, (3,), 2)
        return points @ R.transpose(-1, -2) + t[..., None, :]
    points = np.asarray(points, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    _check("points", points, (3,), 2)
    return points @ R.swapaxes(-1, -2) + t[..., None, :]


def project(points, K):
    """Pinhole projection of camera-frame points (…, N, 3) -> pixels (…, N, 2).

    u = fx·x/z + s·y/z + cx, v = fy·y/z + cy: the points are divided by their depth first, then the
    2×2 part of K and the principal point are applied (``(p[..., :2] / z) @ K[:2, :2]ᵀ + K[:2, 2]``;
    the synthetic renderer's order, kept bit for bit). K (…, 3, 3) with last row (0, 0, 1); the
    pixel convention is K's (integer pixel centres throughout pyhpe). Leading dimensions of points
    and K broadcast. Points at z = 0 give inf/nan; points behind the camera (z < 0) are projected
    through the centre like any other (callers that care test z). NumPy: float64; torch: the
    tensors' dtype, differentiable in points and K.
    """
    if _is_torch(points, K):
        points, K = _as_torch(points, K)
        _check("points", points, (3,), 2)
        _check("K", K, (3, 3), 2)
        return (points[..., :2] / points[..., 2:3]) @ K[..., :2, :2].transpose(-1, -2) + K[..., None, :2, 2]
    points = np.asarray(points, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    _check("points", points, (3,), 2)
    _check("K", K, (3, 3), 2)
    return (points[..., :2] / points[..., 2:3]) @ K[..., :2, :2].swapaxes(-1, -2) + K[..., None, :2, 2]


def project_points(points_head, R, t, K):
    """Head-frame points (…, N, 3) seen with pose (R, t) through K -> pixels (…, N, 2):
    ``project(to_camera(points_head, R, t), K)``."""
    return project(to_camera(points_head, R, t), K)


def _copy_float(x):
    if isinstance(x, torch.Tensor):
        return x.clone() if x.is_floating_point() else x.to(torch.get_default_dtype())
    return np.array(x, dtype=np.float64)


def _last_axis(v):
    """A per-sample factor as a column that broadcasts over a row of K (scalars stay scalars)."""
    return v[..., None] if isinstance(v, (np.ndarray, torch.Tensor)) and v.ndim > 0 else v


def shift_intrinsics(K, x0, y0):
    """K of a crop whose top-left pixel is (x0, y0) of the original image: cx -= x0, cy -= y0.

    A point at pixel (u, v) of the image sits at (u − x0, v − y0) of the crop (integer pixel
    centres; x0, y0 are the crop's first column and row). K (…, 3, 3); x0, y0 scalars or (…)
    arrays. Returns a new array/tensor (NumPy: float64).
    """
    K = _copy_float(K)
    K[..., 0, 2] -= x0
    K[..., 1, 2] -= y0
    return K


def _scale_rows(K, sx, sy):
    """diag(sx, sy, 1) · K: the first row of K times sx, the second times sy (a new array)."""
    K = _copy_float(K)
    K[..., 0, :] *= _last_axis(sx)
    K[..., 1, :] *= _last_axis(sy)
    return K


def scale_intrinsics(K, sx, sy):
    """K of an image resized by (sx, sy) = (new width / width, new height / height).

    With integer pixel centres a resize maps u -> (u + ½)·sx − ½ (cv2.resize's sampling), so the
    first row of K scales by sx and cx gains ½·sx − ½ (likewise y):
    K' = [[sx, 0, (sx − 1)/2], [0, sy, (sy − 1)/2], [0, 0, 1]] · K, computed entry by entry.
    K (…, 3, 3); sx, sy scalars or (…) arrays. Returns a new array/tensor (NumPy: float64).
    """
    K = _scale_rows(K, sx, sy)
    K[..., 0, 2] += 0.5 * sx - 0.5
    K[..., 1, 2] += 0.5 * sy - 0.5
    return K


def shift_points(points, x0, y0):
    """(…, 2) pixel coordinates -> those of a crop whose top-left pixel is (x0, y0): p − (x0, y0)
    (the point counterpart of :func:`shift_intrinsics`)."""
    if _is_torch(points):
        return points - torch.as_tensor([x0, y0], dtype=points.dtype, device=points.device)
    return np.asarray(points, dtype=np.float64) - np.array([x0, y0])


def scale_points(points, sx, sy):
    """(…, 2) pixel coordinates -> those of the image resized by (sx, sy), integer pixel centres:
    p -> (p + ½)·(sx, sy) − ½ (the point counterpart of :func:`scale_intrinsics`)."""
    if _is_torch(points):
        return (points + 0.5) * torch.as_tensor([sx, sy], dtype=points.dtype, device=points.device) - 0.5
    return (np.asarray(points, dtype=np.float64) + 0.5) * np.array([sx, sy]) - 0.5


CROP_CONVENTIONS = ("pyhpe", "official")
"""How a crop box becomes an S×S crop and its K_crop (see :func:`crop_matrix`)."""


def _check_convention(convention: str) -> None:
    if convention not in CROP_CONVENTIONS:
        raise ValueError(f"crop convention must be one of {CROP_CONVENTIONS}, got {convention!r}")


def _output_wh(output_size: int | tuple[int, int]) -> tuple[int, int]:
    return (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)


def affine_points(points, A):
    """(…, N, 2) pixel coordinates through the 2D affine map A ((2, 3) or (3, 3), last row
    ignored): p -> A[:2, :2] p + A[:2, 2] (NumPy, float64)."""
    A = np.asarray(A, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ A[:2, :2].T + A[:2, 2]


def crop_matrix(box, output_size: int | tuple[int, int], convention: str = "pyhpe",
                warp: bool = False) -> np.ndarray:
    """(3, 3) affine map A of full-image pixels to crop pixels, x_crop = A · (x, y, 1), for the
    crop ``box`` = (x0, y0, x1, y1) resized to ``output_size`` (a square side or (width, height)).

    - ``convention="pyhpe"`` (integer pixel centres; what :func:`pyhpe.data.geometric.crop` then
      ``resize`` do): x -> (x − x0 + ½)·sx − ½ with sx = out_w / (x1 − x0) (likewise y). The
      image warp and K_crop (:func:`crop_intrinsics`) are the same map; ``warp`` is ignored.
    - ``convention="official"`` (the released TRGv2 code, trg.md §1.2): its image warp
      (``warp=True``; ``cv2.getAffineTransform`` of the corners (x0, y0), (x0, y1), (x1, y0) onto
      (0, 0), (0, S − 1), (S − 1, 0)) is x -> (x − x0)·(out_w − 1)/(x1 − x0), y -> (y − y0)·
      (out_h − 1)/(y1 − y0); its K_crop and crop-pixel labels (``warp=False``: ``update_after_crop``
      then ``update_after_resize`` by the box width b = x1 − x0 for both axes) are
      x -> (x − x0)·out_w/b, y -> (y − y0)·out_h/b. The two disagree by up to a pixel at the far
      edge; a converted official model was trained on exactly this pair.

    One box (NumPy, float64).
    """
    _check_convention(convention)
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop box {(x0, y0, x1, y1)}")
    out_w, out_h = _output_wh(output_size)
    if convention == "pyhpe":
        sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
        tx, ty = (0.5 - x0) * sx - 0.5, (0.5 - y0) * sy - 0.5
    elif warp:
        sx, sy = (out_w - 1) / (x1 - x0), (out_h - 1) / (y1 - y0)
        tx, ty = -x0 * sx, -y0 * sy
    else:
        sx, sy = out_w / (x1 - x0), out_h / (x1 - x0)
        tx, ty = -x0 * sx, -y0 * sy
    return np.array([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])


def crop_intrinsics(K, box, output_size: int | tuple[int, int], convention: str = "pyhpe"):
    """K of the crop ``box`` = (x0, y0, x1, y1) resized to ``output_size`` (a square side or
    (width, height)): the crop warp of :func:`pyhpe.data.geometric.crop` then ``resize``.

    The principal point moves by the box origin, then the image scales by s = output / box side
    (sx = out_w / (x1 − x0), sy = out_h / (y1 − y0); one s for a square box and a square output):
    K_crop = [[s, 0, (s − 1)/2], [0, s, (s − 1)/2], [0, 0, 1]] · [[1, 0, −x0], [0, 1, −y0], [0, 0, 1]] · K.
    The (s − 1)/2 terms are the integer-pixel-centre convention. ``convention="official"`` is the
    released TRGv2 code's K_crop: the terms dropped and both rows scaled by the box width,
    K_crop = diag(out_w/b, out_h/b, 1) · T(−x0, −y0) · K with b = x1 − x0 (its image warp differs:
    :func:`crop_matrix`). The box is used as given: the pipelines crop at int()-truncated corners
    and pass those. K (…, 3, 3), box (…, 4).
    """
    _check_convention(convention)
    if _is_torch(K, box):
        K, box = _as_torch(K, box)
        K = K.expand(torch.broadcast_shapes(K.shape[:-2], box.shape[:-1]) + (3, 3))
        x0, y0, x1, y1 = box.unbind(-1)
    else:
        K, box = np.asarray(K, dtype=np.float64), np.asarray(box, dtype=np.float64)
        K = np.broadcast_to(K, np.broadcast_shapes(K.shape[:-2], box.shape[:-1]) + (3, 3))
        x0, y0, x1, y1 = (box[..., i] for i in range(4))
        if box.ndim == 1:
            x0, y0, x1, y1 = (float(v) for v in (x0, y0, x1, y1))
    out_w, out_h = _output_wh(output_size)
    if convention == "official":
        return _scale_rows(shift_intrinsics(K, x0, y0), out_w / (x1 - x0), out_h / (x1 - x0))
    return scale_intrinsics(shift_intrinsics(K, x0, y0), out_w / (x1 - x0), out_h / (y1 - y0))


def centered_intrinsics(height: int, width: int, focal: float) -> np.ndarray:
    """K (3, 3) of a ``width``×``height`` camera with square pixels of focal length ``focal`` and
    the principal point at the image centre, ((W − 1)/2, (H − 1)/2) in the pixel-centre
    convention. NumPy, float64."""
    f = float(focal)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def box_from_points(points):
    """2D points -> their bounding box (x0, y0, x1, y1) = (min x, min y, max x, max y).

    (N, 2) (or any array reshaped to (N, 2)) -> (4,), float64; a torch tensor (…, N, 2) -> (…, 4).
    """
    if isinstance(points, torch.Tensor):
        _check("points", points, (2,), 2)
        return torch.cat([points.amin(-2), points.amax(-2)], dim=-1)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if p.size == 0:
        raise ValueError("box_from_points needs at least one point")
    return np.concatenate([p.min(axis=0), p.max(axis=0)])


def box_iou(a, b) -> np.ndarray:
    """(N, 4) × (M, 4) xyxy boxes -> (N, M) intersection over union, NumPy float64 (0 where a
    union is empty; a box with x1 < x0 or y1 < y0 has no area)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_xyxy_to_cxcywh(box):
    """(…, 4) (x0, y0, x1, y1) -> (…, 4) (cx, cy, w, h) = ((x0 + x1)/2, (y0 + y1)/2, x1 − x0, y1 − y0)."""
    if isinstance(box, torch.Tensor):
        x0, y0, x1, y1 = box.unbind(-1)
        return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)
    b = np.asarray(box, dtype=np.float64)
    x0, y0, x1, y1 = (b[..., i] for i in range(4))
    return np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=-1)


def box_cxcywh_to_xyxy(box):
    """(…, 4) (cx, cy, w, h) -> (…, 4) (cx − w/2, cy − h/2, cx + w/2, cy + h/2)."""
    if isinstance(box, torch.Tensor):
        cx, cy, w, h = box.unbind(-1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
    b = np.asarray(box, dtype=np.float64)
    cx, cy, w, h = (b[..., i] for i in range(4))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def box_xywh_to_xyxy(box):
    """(…, 4) detector boxes (x, y, w, h) -> (…, 4) (x, y, x + w, y + h)."""
    if isinstance(box, torch.Tensor):
        return torch.cat([box[..., :2], box[..., :2] + box[..., 2:]], dim=-1)
    b = np.asarray(box, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], axis=-1)


def square_box(box, scale: float = 1.0, shift: Sequence[float] | None = None,
               side_scale: float | None = None) -> np.ndarray:
    """The square (x0, y0, x1, y1) of side ``scale``·max(w, h) about the centre of ``box``.

    ``shift`` = (dx, dy) moves the centre by (dx·m, dy·m) and ``side_scale`` multiplies the side,
    with m = max(w, h) of ``box`` (the TRG crop's jitter, drawn by the caller). One box, float64.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    s = max(x1 - x0, y1 - y0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, scale * s / 2
    if shift is not None:
        cx += shift[0] * s
        cy += shift[1] * s
    if side_scale is not None:
        half *= side_scale
    return np.array([cx - half, cy - half, cx + half, cy + half])


# --- the viewing ray of a crop --------------------------------------------------------------------

def ray_rotation(K, pixels) -> np.ndarray:
    """Rotation (…, 3, 3) of the virtual camera that looks through ``pixels`` (…, 2) of a camera
    with intrinsics ``K`` (3, 3); NumPy, float64.

    Its z axis is the viewing ray d = normalize(K⁻¹ (u, v, 1)); it is the smallest rotation that
    takes the camera's z axis to d (axis z × d in the camera's x-y plane: no turn about the ray).
    The columns are the virtual camera's axes in camera coordinates, so a pose R_v in the
    virtual camera's frame is R = ray_rotation · R_v in the camera's (R maps head to camera).
    A crop-based model sees a face as a camera looking through the crop's centre would, and
    answers in that frame (:func:`crop_rotation_to_camera`).
    """
    K = np.asarray(K, dtype=np.float64)
    uv = np.asarray(pixels, dtype=np.float64)
    if K.shape != (3, 3) or uv.shape[-1:] != (2,):
        raise ValueError(f"ray_rotation takes K (3, 3) and pixels (..., 2), got {K.shape} and {uv.shape}")
    rays = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], axis=-1) @ np.linalg.inv(K).T
    d = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    dx, dy, c = d[..., 0], d[..., 1], d[..., 2]
    # Rodrigues for the rotation z -> d: R = I + [v]x + [v]x² / (1 + c), v = z × d = (−dy, dx, 0)
    k = 1.0 / (1.0 + c)
    R = np.empty(d.shape[:-1] + (3, 3))
    R[..., 0, 0] = 1.0 - k * dx * dx
    R[..., 0, 1] = -k * dx * dy
    R[..., 0, 2] = dx
    R[..., 1, 0] = -k * dx * dy
    R[..., 1, 1] = 1.0 - k * dy * dy
    R[..., 1, 2] = dy
    R[..., 2, 0] = -dx
    R[..., 2, 1] = -dy
    R[..., 2, 2] = c
    return R


def crop_rotation_to_camera(R_crop, boxes_xyxy, K) -> np.ndarray:
    """Head rotations (N, 3, 3) answered by a crop-based model, in the crop's frame, → the
    camera's frame: ``ray_rotation(K, box centres) @ R_crop``.

    A 6DRepNet-style model looks at a crop as if the camera pointed at it; a head turned by the
    same camera-frame pose reads differently at the image edge than at its centre. Rotating the
    answer by the viewing ray through the box centre removes that (``pyhpe predict
    --pose-frame camera``). NumPy, float64.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    return ray_rotation(K, centres) @ np.asarray(R_crop, dtype=np.float64).reshape(-1, 3, 3)
