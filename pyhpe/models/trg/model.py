"""TRGv2: one face crop → head rotation, head translation (metres) and a dense 3D face.

``out = model(images, K_crop, box)``:

- ``images`` (B, 3, H, W): normalised crops (the 1.5× landmark box, square);
- ``K_crop`` (B, 3, 3): the crop's intrinsics in crop pixels (pyhpe.geometry.crop_intrinsics);
- ``box`` (B, 7): [left, top, right, bottom, f, image height, image width] in full-image pixels
  (the layout the official code calls bbox_info; pyhpe.geometry.correction).

``out`` is a :class:`~pyhpe.models.outputs.PoseOutput`: ``R`` (B, 3, 3) head → camera, ``sixd``
(B, 6), ``t`` (B, 3) metres, ``vertices`` (B, V, 3) head frame, ``landmarks`` (B, 68, 2) crop
pixels; ``extra``: ``vertices_cam`` (B, V, 3), ``vertices_img`` (B, V, 2) crop pixels,
``correction`` (B, 3) = (s, τ̃x, τ̃y), and per iteration ``iter_R`` (T, B, 3, 3), ``iter_t``
(T, B, 3), ``iter_vertices`` (T, B, V, 3) for the losses.

The loop (trg.md §1.8): backbone → φ (stride 8) and landmark heatmaps; Θ_0 = (R_0, c_0 = (1, 0,
0), V_0) from the topology; iteration 1 samples φ on a fixed grid, iteration t ≥ 2 at the
subsampled vertices projected with the previous pose; each iteration's regressor adds a residual
to (6D rotation, correction parameters, vertices); T follows from the correction parameters
through the pinhole model (Eq. 3), never regressed (unless ``translation="direct"``, the
paper's ablation). Iterations are separated by stop-gradients (TRGv2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.profiler import record_function

from pyhpe.geometry.camera import to_camera
from pyhpe.geometry.correction import box_info, principal_point_from_crop, translation_from_correction
from pyhpe.geometry.rotation import matrix_to_sixd
from pyhpe.models.outputs import PoseOutput
from pyhpe.models.trg.blocks import (
    FaceRegressor,
    FeatureSampler,
    HeatmapHead,
    UpsamplingNeck,
    heatmap_landmarks,
    project_in_front,
    sampling_coords,
    sampling_grid,
)
from pyhpe.models.trg.topology import FaceTopology
from pyhpe.tasks.sixd_rotation import sixd_to_rotation

__all__ = ["TRGv2", "TRANSLATION_MODES"]

TRANSLATION_MODES = ("correction", "direct")


class TRGv2(nn.Module):
    """TRGv2 on any backbone with a stride-32 ``forward_features`` (see the module docstring).

    ``iterations``: regressor iterations (2 in the paper). ``form``: "paper" (our geometry: τ
    from the principal point, τ̃ normalised by b, I_bbox unscaled; the paper's heatmap head) or
    "official" (the released code's: τ from the image centre, τ̃ by b/2, I_bbox offsets ×4, the
    third-deconvolution heatmap head) for its checkpoints. ``translation``: "correction" (Eq. 3)
    or "direct" (regress t itself from t_0 = (0, 0, ``direct_depth``), the paper's ablation).
    """

    pose_task = "trgv2_6dof"

    def __init__(self, backbone: nn.Module, topology: FaceTopology, iterations: int = 2,
                 form: str = "paper", translation: str = "correction", grid_size: int = 18,
                 dropout: float = 0.5, hidden: int = 1024, direct_depth: float = 0.6) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        if form not in ("paper", "official"):
            raise ValueError(f"form must be 'paper' or 'official', got {form!r}")
        if translation not in TRANSLATION_MODES:
            raise ValueError(f"translation must be one of {TRANSLATION_MODES}, got {translation!r}")
        channels = getattr(backbone, "num_features", None)
        if not isinstance(channels, int):
            raise TypeError(f"{type(backbone).__name__} has no integer `num_features`")
        self.backbone = backbone
        self.topology = topology
        self.iterations, self.form, self.translation = iterations, form, translation
        self.direct_depth = float(direct_depth)
        self.neck = UpsamplingNeck(channels)
        self.heatmaps = HeatmapHead(form=form)
        V, S, P = topology.num_vertices, topology.num_subsampled, grid_size * grid_size
        self.samplers = nn.ModuleList(FeatureSampler(align_corners=form == "official")
                                      for _ in range(iterations))
        per_point = self.samplers[0].out_dim
        self.regressors = nn.ModuleList(
            FaceRegressor(per_point * (P if i == 0 else S) + 3 * S + 12, V, hidden, dropout)
            for i in range(iterations))
        self.register_buffer("grid", sampling_grid(grid_size), persistent=False)
        self.register_buffer("template", torch.as_tensor(topology.template, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("subsample", torch.as_tensor(topology.subsample), persistent=False)
        sixd0 = matrix_to_sixd(torch.as_tensor(topology.R0, dtype=torch.float32)[None])[0]
        self.register_buffer("sixd0", sixd0, persistent=False)

    @property
    def input_size(self) -> int:
        return getattr(self, "_input_size", 192)

    def _check_inputs(self, images: Tensor, K_crop: Tensor, box: Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        B = images.shape[0]
        if K_crop.shape != (B, 3, 3):
            raise ValueError(f"K_crop must be ({B}, 3, 3), got {tuple(K_crop.shape)}")
        if box.shape != (B, 7):
            raise ValueError(f"box must be ({B}, 7) = [left, top, right, bottom, f, H, W], got "
                             f"{tuple(box.shape)}")

    def initial_translation(self, box: Tensor, principal_point: Tensor, c0: Tensor) -> Tensor:
        if self.translation == "direct":
            t0 = box.new_zeros(box.shape[0], 3)
            t0[:, 2] = self.direct_depth
            return t0
        return translation_from_correction(c0, box, principal_point, form=self.form)

    def forward(self, images: Tensor, K_crop: Tensor, box: Tensor) -> PoseOutput:
        self._check_inputs(images, K_crop, box)
        B, _, H, W = images.shape
        K_crop, box = K_crop.to(images.dtype), box.to(images.dtype)
        with record_function("trgv2.backbone"):
            trunk = self.backbone.forward_features(images)
        with record_function("trgv2.neck"):
            phi = self.neck(trunk)
        with record_function("trgv2.heatmaps"):
            landmarks = heatmap_landmarks(self.heatmaps(phi), W, H, self.form)
        principal = principal_point_from_crop(K_crop, box)
        info = box_info(box, principal, form=self.form)

        verts = self.template.to(images.dtype).expand(B, -1, -1)
        sixd = self.sixd0.to(images.dtype).expand(B, -1)
        c = images.new_tensor([1.0, 0.0, 0.0]).expand(B, -1)
        t = self.initial_translation(box, principal, c)
        R = sixd_to_rotation(sixd)
        iter_R, iter_t, iter_v = [], [], []
        for i, (sampler, regressor) in enumerate(zip(self.samplers, self.regressors)):
            with record_function("trgv2.sample"):
                if i == 0:
                    points = self.grid.to(images.dtype).expand(B, -1, -1)
                else:
                    cam = to_camera(verts[:, self.subsample], R, t)
                    points = sampling_coords(project_in_front(cam, K_crop), W, H, self.form)
                features = sampler(phi, points)
            with record_function("trgv2.regress"):
                x = torch.cat([features, verts[:, self.subsample].reshape(B, -1), sixd, c, info], 1)
                d_verts, d_pose = regressor(x)
            verts = verts + d_verts.view(B, -1, 3)
            sixd = sixd + d_pose[:, :6]
            if self.translation == "direct":
                t = t + d_pose[:, 6:]
            else:
                c = c + d_pose[:, 6:]
                t = translation_from_correction(c, box, principal, form=self.form)
            R = sixd_to_rotation(sixd)
            iter_R.append(R)
            iter_t.append(t)
            iter_v.append(verts)
            if i + 1 < self.iterations:  # stop-gradient between iterations (TRGv2)
                verts, sixd, c, t, R = (v.detach() for v in (verts, sixd, c, t, R))
        vertices_cam = to_camera(verts, R, t)
        extra = {
            "vertices_cam": vertices_cam,
            "vertices_img": project_in_front(vertices_cam, K_crop),
            "correction": c,
            "iter_R": torch.stack(iter_R),
            "iter_t": torch.stack(iter_t),
            "iter_vertices": torch.stack(iter_v),
        }
        return PoseOutput(R=R, sixd=sixd, t=t, vertices=verts, landmarks=landmarks, extra=extra)
