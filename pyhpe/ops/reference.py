"""Pure-PyTorch references for the native ops.

These are the specification: the native CPU/CUDA/NEON kernels are tested against them, and
they are the fallback when no native kernel exists for a device. They follow 6DRepNet's
math (``compute_rotation_matrix_from_ortho6d``, ``GeodesicLoss``,
``compute_euler_angles_from_rotation_matrices``) written with clean tensor ops.
"""

from __future__ import annotations

import torch

NORM_FLOOR = 1e-8  # 6DRepNet's floor on vector norms in Gram-Schmidt
GIMBAL_THRESHOLD = 1e-6  # 6DRepNet's singularity test on sqrt(R00^2 + R10^2)


def _normalize(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(NORM_FLOOR)


def gram_schmidt_ref(x6: torch.Tensor) -> torch.Tensor:
    """(B, 6) -> (B, 3, 3): x = a1/|a1|, z = (x × a2)/|x × a2|, y = z × x, R = [x y z]."""
    x = _normalize(x6[:, 0:3])
    z = _normalize(torch.linalg.cross(x, x6[:, 3:6], dim=-1))
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-1)


def geodesic_cos_bounds(eps: float, dtype: torch.dtype) -> tuple[float, float]:
    """The clamp bounds as the tensor dtype rounds them (float32 turns 1-1e-7 into 0.99999988)."""
    t = torch.tensor([-1.0 + eps, 1.0 - eps], dtype=dtype)
    return float(t[0]), float(t[1])


def geodesic_distance_ref(R1: torch.Tensor, R2: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """(B,3,3),(B,3,3) -> (B,): arccos(clamp((tr(R1 R2ᵀ) - 1)/2, -1+eps, 1-eps))."""
    cos = ((R1 * R2).sum(dim=(1, 2)) - 1.0) / 2.0
    lo, hi = geodesic_cos_bounds(eps, R1.dtype)
    return torch.acos(torch.clamp(cos, lo, hi))


def reduce_loss(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def sixd_geodesic_loss_ref(
    x6: torch.Tensor, R_gt: torch.Tensor, eps: float = 1e-7, reduction: str = "mean"
) -> torch.Tensor:
    """The training loss chain: 6D -> Gram-Schmidt -> geodesic distance to R_gt -> reduction."""
    return reduce_loss(geodesic_distance_ref(gram_schmidt_ref(x6), R_gt, eps), reduction)


def matrix_to_euler_ref(R: torch.Tensor, degrees: bool = False) -> torch.Tensor:
    """(B,3,3) -> (B,3) pitch, yaw, roll for R = Rz(roll) Ry(yaw) Rx(pitch).

    Yaw lies in [-90°, 90°]. Where sqrt(R00² + R10²) < 1e-6 (gimbal lock) roll is 0 and
    pitch absorbs the combined angle, as in 6DRepNet.
    """
    s = torch.sqrt(R[:, 0, 0] ** 2 + R[:, 1, 0] ** 2)
    singular = s < GIMBAL_THRESHOLD
    pitch = torch.where(
        singular, torch.atan2(-R[:, 1, 2], R[:, 1, 1]), torch.atan2(R[:, 2, 1], R[:, 2, 2])
    )
    yaw = torch.atan2(-R[:, 2, 0], s)
    roll = torch.where(singular, torch.zeros_like(s), torch.atan2(R[:, 1, 0], R[:, 0, 0]))
    out = torch.stack([pitch, yaw, roll], dim=-1)
    return torch.rad2deg(out) if degrees else out
