"""TRGv2's building blocks: feature extractor, landmark heatmaps, feature sampler, face regressor.

Facts from the paper and the released code (../shared/reference/trg.md §1.3–1.5). Coordinates
of sampling points are normalised image coordinates in [−1, 1] with ``align_corners=False``
semantics (−1 and +1 are the outer edges of the image): a crop pixel u (integer pixel centres,
width W) is x = (2u + 1)/W − 1, so the same point lands on the same place of a feature map of
any stride (:func:`pixels_to_normalized`, :func:`normalized_to_pixels`). The released code's
conventions (points p/W·2 − 1 sampled with ``align_corners=True``; landmarks j·W/w from the
expected heatmap cell j) are the ``form="official"`` variants, kept for its checkpoints:
:func:`sampling_coords`, :func:`heatmap_landmarks`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyhpe.geometry.camera import project

__all__ = [
    "FaceRegressor",
    "FeatureSampler",
    "HeatmapHead",
    "UpsamplingNeck",
    "MIN_DEPTH_M",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "project_in_front",
    "sampling_grid",
    "soft_argmax",
]


def pixels_to_normalized(points: Tensor, width: int, height: int) -> Tensor:
    """(…, 2) pixel coordinates (integer pixel centres) -> [−1, 1] image-edge coordinates."""
    scale = points.new_tensor([2.0 / width, 2.0 / height])
    return (points + 0.5) * scale - 1.0


def normalized_to_pixels(points: Tensor, width: int, height: int) -> Tensor:
    """Inverse of :func:`pixels_to_normalized`."""
    scale = points.new_tensor([width / 2.0, height / 2.0])
    return (points + 1.0) * scale - 0.5


MIN_DEPTH_M = 0.05  # projections clamp depths below this (a bad early pose must not divide by ~0)


def project_in_front(points_cam: Tensor, K: Tensor, min_depth: float = MIN_DEPTH_M) -> Tensor:
    """Camera-frame points (…, N, 3) → pixels through K, depths clamped to ``min_depth`` first
    (pyhpe.geometry.camera.project otherwise): what the sampler, the image vertices and the
    image loss use, so a pose that puts points behind the camera early in training stays finite."""
    z = points_cam[..., 2:].clamp_min(min_depth)
    return project(torch.cat([points_cam[..., :2], z], -1), K)


def sampling_coords(points: Tensor, width: int, height: int, form: str = "paper") -> Tensor:
    """Crop pixels (…, 2) → the coordinates a :class:`FeatureSampler` of ``form`` expects."""
    if form == "official":
        return points * points.new_tensor([2.0 / width, 2.0 / height]) - 1.0
    return pixels_to_normalized(points, width, height)


def heatmap_landmarks(logits: Tensor, width: int, height: int, form: str = "paper") -> Tensor:
    """(B, L, h, w) heatmap logits → (B, L, 2) landmarks in crop pixels of a (width × height)
    crop. "paper": the expected point in our edge-normalised coordinates; "official": the
    expected cell index j scaled by width / w (the released code's j/w·2 − 1, read as pixels)."""
    xy = soft_argmax(logits)
    if form == "official":
        h, w = logits.shape[-2:]
        cells = (xy + 1.0) * xy.new_tensor([w / 2.0, h / 2.0]) - 0.5
        return cells * xy.new_tensor([width / w, height / h])
    return normalized_to_pixels(xy, width, height)


def sampling_grid(n: int) -> Tensor:
    """(n², 2) the first iteration's fixed points: an n×n grid of (x, y) = linspace(−1, 1, n),
    row by row (TRGv2: n = 18, 324 points)."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, n), torch.linspace(-1, 1, n), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def soft_argmax(logits: Tensor) -> Tensor:
    """(B, L, h, w) heatmap logits -> (B, L, 2) expected (x, y) under a spatial softmax, in the
    normalised [−1, 1] coordinates of the map (cell centres at (2j + 1)/w − 1)."""
    B, L, h, w = logits.shape
    prob = torch.softmax(logits.reshape(B, L, h * w).float(), dim=-1).reshape(B, L, h, w)
    xs = (2 * torch.arange(w, device=logits.device, dtype=prob.dtype) + 1) / w - 1
    ys = (2 * torch.arange(h, device=logits.device, dtype=prob.dtype) + 1) / h - 1
    x = (prob.sum(dim=2) * xs).sum(dim=-1)
    y = (prob.sum(dim=3) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1).to(logits.dtype)


def _deconv(cin: int, cout: int) -> nn.Sequential:
    """ConvTranspose2d k4 s2 p1 (no bias) → BN → ReLU: doubles the resolution."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UpsamplingNeck(nn.Module):
    """Backbone stride-32 features → two deconvolutions → φ (256 channels at stride 8)."""

    def __init__(self, in_channels: int, channels: int = 256, layers: int = 2) -> None:
        super().__init__()
        blocks = [_deconv(in_channels if i == 0 else channels, channels) for i in range(layers)]
        self.layers = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class HeatmapHead(nn.Module):
    """Sparse-landmark heatmaps from φ.

    form "paper": 3×3 conv → BN → LeakyReLU → 1×1 conv on φ (stride 8).
    form "official": the released code's head, a third deconvolution to stride 4 then a 1×1 conv.
    """

    def __init__(self, channels: int = 256, landmarks: int = 68, form: str = "paper") -> None:
        super().__init__()
        if form == "paper":
            self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(channels), nn.LeakyReLU(0.1, inplace=True))
        elif form == "official":
            self.body = _deconv(channels, channels)
        else:
            raise ValueError(f"heatmap form must be 'paper' or 'official', got {form!r}")
        self.out = nn.Conv2d(channels, landmarks, 1)

    def forward(self, phi: Tensor) -> Tensor:
        return self.out(self.body(phi))


class FeatureSampler(nn.Module):
    """φ sampled bilinearly at P points, each 256-d feature reduced to 5 numbers by a per-point MLP.

    The MLP (1×1 Conv1d) is 256 → 128 → 64 → 5 with LeakyReLU, the raw feature concatenated
    again into the second and third layers and a final ReLU (the released code's form; the paper
    says "3 FC layers and 2 LeakyReLU"). Output (B, 5·P), point-major.
    """

    def __init__(self, channels: int = 256, dims: tuple[int, int, int] = (128, 64, 5),
                 align_corners: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners  # True for the released code's point convention
        d1, d2, d3 = dims
        self.fc1 = nn.Conv1d(channels, d1, 1)
        self.fc2 = nn.Conv1d(d1 + channels, d2, 1)
        self.fc3 = nn.Conv1d(d2 + channels, d3, 1)
        self.out_dim = d3

    def forward(self, phi: Tensor, points: Tensor) -> Tensor:
        """phi (B, C, h, w), points (B, P, 2) normalised (x, y) -> (B, out_dim·P)."""
        raw = F.grid_sample(phi, points.unsqueeze(2).to(phi.dtype), mode="bilinear",
                            padding_mode="zeros", align_corners=self.align_corners).squeeze(3)
        y = F.leaky_relu(self.fc1(raw))
        y = F.leaky_relu(self.fc2(torch.cat([y, raw], 1)))
        y = F.relu(self.fc3(torch.cat([y, raw], 1)))
        return y.transpose(1, 2).reshape(phi.shape[0], -1)


class FaceRegressor(nn.Module):
    """One iteration's regressor: fc → dropout → fc → dropout (no nonlinearity between, as in
    the released code) → ΔV (3V) and Δpose (6D rotation + 3 correction parameters).

    The output heads start near zero (Xavier-uniform, gain 0.01), so the first updates are small
    residuals of the initial face and pose.
    """

    def __init__(self, in_dim: int, vertices: int, hidden: int = 1024, dropout: float = 0.5,
                 pose_dim: int = 9) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.shape_head = nn.Linear(hidden, 3 * vertices)
        self.pose_head = nn.Linear(hidden, pose_dim)
        for head in (self.shape_head, self.pose_head):
            nn.init.xavier_uniform_(head.weight, gain=0.01)
            nn.init.zeros_(head.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.drop(self.fc2(self.drop(self.fc1(x))))
        return self.shape_head(h), self.pose_head(h)
