"""Inputs for the ops tests (tests/ops/): random and adversarial 6D vectors and rotation pairs."""

from __future__ import annotations

import torch

from pyhpe.geometry import euler_to_matrix
from pyhpe.ops.reference import gram_schmidt_ref


def random_rotations(n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return gram_schmidt_ref(torch.randn(n, 6, generator=g, dtype=torch.float64)).to(dtype)


def adversarial_sixd() -> dict[str, torch.Tensor]:
    """Named (k, 6) float64 batches that stress Gram-Schmidt's corner cases."""
    g = torch.Generator().manual_seed(7)
    a1 = torch.randn(16, 3, generator=g, dtype=torch.float64)
    tiny = torch.randn(16, 3, generator=g, dtype=torch.float64) * 1e-6
    rots = euler_to_matrix(torch.tensor([[0.0, 0.0, 180.0], [180.0, 0.0, 0.0], [0.0, 90.0, 0.0],
                                         [0.0, -90.0, 30.0]], dtype=torch.float64), degrees=True)
    return {
        "near_parallel": torch.cat([a1, a1 * 2.5 + tiny], dim=1),
        "zero_first_column": torch.cat([torch.zeros(4, 3, dtype=torch.float64),
                                        torch.randn(4, 3, generator=g, dtype=torch.float64)], 1),
        "zero_everything": torch.zeros(3, 6, dtype=torch.float64),
        "parallel_exactly": torch.cat([a1[:4], a1[:4] * -3.0], dim=1),
        "identity": torch.tensor([[1.0, 0, 0, 0, 1, 0]] * 3, dtype=torch.float64),
        "rot180_and_gimbal": torch.cat([rots[:, :, 0], rots[:, :, 1]], dim=1),
        "magnitude_1e6": torch.randn(8, 6, generator=g, dtype=torch.float64) * 1e6,
        "magnitude_1e-12": torch.randn(8, 6, generator=g, dtype=torch.float64) * 1e-12,
    }


def sixd_condition(x6: torch.Tensor) -> torch.Tensor:
    """Per-row amplification of input rounding in Gram-Schmidt: 1 / sin(angle(a1, a2))."""
    a1, a2 = x6[:, :3], x6[:, 3:]
    s = torch.linalg.cross(a1, a2, dim=1).norm(dim=1) / (a1.norm(dim=1) * a2.norm(dim=1))
    return torch.nan_to_num(1.0 / s.clamp_min(1e-300), nan=1.0)


def rotation_pairs() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Named (R1, R2) float64 batches for the geodesic distance."""
    R = random_rotations(64, 1)
    flip_z = euler_to_matrix(torch.tensor([[0.0, 0.0, 180.0]], dtype=torch.float64), degrees=True)
    return {
        "random": (R, random_rotations(64, 2)),
        "identical": (R, R.clone()),
        "rot180": (R, R @ flip_z),
        "small_angle": (R, R @ euler_to_matrix(torch.full((64, 3), 0.5, dtype=torch.float64),
                                                degrees=True)),
    }


def euler_grid(dtype=torch.float64) -> torch.Tensor:
    """(pitch, yaw, roll) degrees covering |yaw| < 90 and the gimbal-lock poses yaw = ±90."""
    vals = torch.tensor([-170.0, -95.0, -45.0, -1.0, 0.0, 30.0, 89.0, 135.0], dtype=dtype)
    p, y, r = torch.meshgrid(vals, vals.clamp(-89.9, 89.9), vals, indexing="ij")
    grid = torch.stack([p.flatten(), y.flatten(), r.flatten()], 1)
    gimbal = torch.tensor([[20.0, 90.0, 10.0], [-30.0, -90.0, 50.0]], dtype=dtype)
    return torch.cat([grid, gimbal])




def mixer_params(C: int, downsample: bool, dtype=torch.float64, seed: int = 0, large=(11, 11)) -> list:
    """Random RepNeXt mixer kernels in ``repnext_mixer``'s argument order (None where the
    downsample mixer has no large-kernel branch)."""
    g = torch.Generator().manual_seed(seed)
    q = C if downsample else C // 4
    shapes = [(q, 1, 3, 3), (q,), (q, 1, 7, 7), (q,)]
    if not downsample:
        shapes += [(q, 1, 1, large[0]), (q,), (q, 1, large[1], 1), (q,)]
    ps = [torch.randn(s, generator=g, dtype=dtype) for s in shapes]
    return ps + ([None] * 4 if downsample else [])


def mixer_against_reference(shape, downsample: bool, dtype=torch.float32, device="cpu"):
    """``pyhpe.ops.repnext_mixer`` in ``dtype`` on ``device`` and the float64 reference on the
    same values, forward and backward with one upstream gradient:
    (ours, want, our gradients, reference gradients), gradients for x then each kernel/bias."""
    from pyhpe import ops

    N, C, H, W = shape
    p64 = [p.requires_grad_() if p is not None else None for p in mixer_params(C, downsample)]
    x64 = torch.randn(N, C, H, W, dtype=torch.float64, requires_grad=True)
    want = ops.repnext_mixer_ref(x64, *p64)
    g64 = torch.randn_like(want)
    leaves64 = [x64] + [p for p in p64 if p is not None]
    want_grads = torch.autograd.grad(want, leaves64, g64)
    leaves = [t.detach().to(device, dtype).requires_grad_() for t in leaves64]
    it = iter(leaves[1:])
    params = [next(it) if p is not None else None for p in p64]
    ours = ops.repnext_mixer(leaves[0], *params)
    grads = torch.autograd.grad(ours, leaves, g64.to(device, dtype))
    return ours, want, grads, want_grads
