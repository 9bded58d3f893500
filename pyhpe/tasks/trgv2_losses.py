"""TRGv2's training loss (paper Eq. 10–12; trg.md §1.10), one home.

L = Σ_t w_t [δ_3D (λ_head L_head + λ_cam L_cam) + (1 − δ_3D) λ_img L_img + λ_rot L_rot] + λ_L L_L

- w_t = 2^(t − T) for iterations t = 1..T (0.5, 1.0 for TRGv2's two);
- L_head: vertex error in the head frame, L_cam: in the camera frame (R_t V_t + T_t against
  R* V* + T*), L_img: projected vertices in normalised crop coordinates ([−1, 1] over the crop)
  against a batch's 2D vertex labels ``vertices_img`` (crop pixels), for samples without 3D
  ground truth (absent labels: no L_img). "paper" form: the mean over vertices of the
  per-vertex L1 norm (|dx| + |dy| + |dz|); "code" form: the mean over all elements (1/3 of it);
- L_rot: "paper" the Frobenius norm ‖R_t − R*‖_F, "code" the mean squared entry difference;
- L_L: mean L1 of the 68 soft-argmax landmarks in normalised crop coordinates, visible ones only.

δ_3D is per sample, so mixed batches train: samples without vertices contribute L_img, L_rot
and L_L only. The rotation decode inside the model is the native Gram-Schmidt kernel
(pyhpe.ops.gram_schmidt); everything here is plain PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pyhpe.geometry.camera import to_camera
from pyhpe.models.outputs import PoseOutput
from pyhpe.models.trg.blocks import pixels_to_normalized, project_in_front

__all__ = ["LossWeights", "trgv2_loss"]


@dataclass(frozen=True)
class LossWeights:
    """λ of paper §4.1 (λ_img is not stated there; 1.0 on normalised crop coordinates here)."""

    head: float = 20.0
    cam: float = 2.0
    img: float = 1.0
    rot: float = 10.0
    landmarks: float = 1.25
    form: str = "paper"  # "paper" | "code"

    def __post_init__(self) -> None:
        if self.form not in ("paper", "code"):
            raise ValueError(f"loss form must be 'paper' or 'code', got {self.form!r}")


def _vertex_l1(pred: Tensor, gt: Tensor, form: str) -> Tensor:
    """(B, N, D) → (B,) mean over points of the per-point L1 norm (paper) or per element (code)."""
    per_point = (pred - gt).abs().sum(-1)
    return per_point.mean(-1) / (pred.shape[-1] if form == "code" else 1.0)


def _rotation_error(R: Tensor, R_gt: Tensor, form: str) -> Tensor:
    d = (R - R_gt).reshape(R.shape[0], 9)
    if form == "code":
        return d.square().mean(-1)
    sq = d.square().sum(-1)
    positive = sq > 0  # the norm's gradient is undefined at 0: there it is 0 (exact value kept)
    return torch.where(positive, sq, torch.ones_like(sq)).sqrt() * positive


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of per-sample values over the samples where mask = 1 (0 when there are none)."""
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def trgv2_loss(out: PoseOutput, batch: dict[str, Tensor], weights: LossWeights = LossWeights()
               ) -> tuple[Tensor, dict[str, Tensor]]:
    """(total loss, its named terms, each already weighted) for a batch (see the module doc)."""
    R_gt, t_gt, v_gt = batch["R"].float(), batch["t"].float(), batch["vertices"].float()
    K, has_3d = batch["K_crop"].float(), batch["has_3d"].float()
    H, W = batch["image"].shape[-2:]
    cam_gt = to_camera(v_gt, R_gt, t_gt)
    # 2D vertex labels (crop pixels) of samples without 3D ground truth, where a source has them
    img_gt = (pixels_to_normalized(batch["vertices_img"].float(), W, H)
              if "vertices_img" in batch else None)
    iter_R, iter_t, iter_v = (out.extra[k].float() for k in ("iter_R", "iter_t", "iter_vertices"))
    T = iter_R.shape[0]
    terms = {k: torch.zeros((), device=R_gt.device) for k in ("head", "cam", "img", "rot")}
    for i in range(T):
        w = 2.0 ** (i + 1 - T)
        cam = to_camera(iter_v[i], iter_R[i], iter_t[i])
        head = _vertex_l1(iter_v[i], v_gt, weights.form)
        camera = _vertex_l1(cam, cam_gt, weights.form)
        terms["head"] = terms["head"] + w * weights.head * _masked_mean(head, has_3d)
        terms["cam"] = terms["cam"] + w * weights.cam * _masked_mean(camera, has_3d)
        if img_gt is not None:
            img = _vertex_l1(pixels_to_normalized(project_in_front(cam, K), W, H), img_gt, weights.form)
            terms["img"] = terms["img"] + w * weights.img * _masked_mean(img, 1.0 - has_3d)
        terms["rot"] = terms["rot"] + w * weights.rot * _rotation_error(iter_R[i], R_gt, weights.form).mean()
    visible = batch["landmarks_visible"].float()
    lm_err = (pixels_to_normalized(out.landmarks.float(), W, H)
              - pixels_to_normalized(batch["landmarks"].float(), W, H)).abs().sum(-1)
    terms["landmarks"] = weights.landmarks * (lm_err * visible).sum() / visible.sum().clamp_min(1.0)
    total = sum(terms.values())
    return total, terms
