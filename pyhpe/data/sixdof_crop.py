"""The TRGv2 input pipeline: a full camera image with its pose → the 1.5× landmark-box crop, its
intrinsics K_crop and the box information, with TRGv2's augmentations (trg.md §1.11).

Augmentations, each keeping every label exact:

- **horizontal flip** of the full image (before the crop): R → F·R·F, t → F·t (F = diag(−1, 1, 1)),
  K's principal point mirrored, landmarks mirrored and relabelled (iBUG-68), vertices mirrored
  and re-indexed through the topology's flip permutation (:func:`pyhpe.data.geometric.hflip`);
- **in-plane rotation** about the principal point (:func:`rotate_about_principal_point`): for a
  pinhole camera with fx = fy and no skew this is exactly a roll of the camera about its optical
  axis, so R → R_z(α)·R and t → R_z(α)·t with K unchanged (the released code keeps t and rotates
  about the head centre instead, which is approximate off-axis);
- **box jitter**: centre moved by U(±0.15·s), side scaled by U(0.95, 1.05) (s = landmark extent);
- **colour jitter** of the crop (brightness/contrast/saturation).

Output (``output="tensors"``): ``image`` (3, S, S) normalised, ``R``, ``t``, ``euler``, ``K_crop``
(3, 3) crop pixels, ``box`` (7,) = [left, top, right, bottom, f, H, W] full-image pixels (int
corners), ``landmarks`` (68, 2) crop pixels, ``landmarks_visible`` (68,), ``vertices`` (V, 3)
head frame (zeros when the source has none) and ``has_3d`` (1 when the sample has vertices, t
and K — δ_3D of the paper; 0 trains through the 2D terms only).
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import torch

from pyhpe.data.geometric import crop, hflip, resize, square_box
from pyhpe.data.photometric import color_jitter, to_tensor
from pyhpe.data.sample import Sample
from pyhpe.data.transforms import _Pipeline  # output modes and the seeded / per-worker RNG
from pyhpe.geometry.camera import box_from_points
from pyhpe.geometry.rotation import matrix_to_euler

__all__ = ["SixDoFCrop", "rotate_about_principal_point", "box_information"]

LANDMARK_BOX_SCALE = 1.5


def _rz(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_about_principal_point(sample: Sample, angle_deg: float) -> Sample:
    """Rotate the image by ``angle_deg`` (clockwise on screen for positive angles: image axes
    point right and down) about K's principal point, with the labels that make it exact:
    R → R_z·R, t → R_z·t, landmarks rotated the same way, K and vertices unchanged.
    Needs fx = fy and zero skew (raises ValueError otherwise)."""
    K = np.asarray(sample.K, dtype=np.float64)
    if sample.t is None or sample.K is None:
        raise ValueError(f"{sample.source}: an in-plane rotation needs t and K")
    if not math.isclose(K[0, 0], K[1, 1], rel_tol=1e-9) or K[0, 1] != 0.0:
        raise ValueError(f"{sample.source}: in-plane rotation needs fx = fy and no skew, got K={K.tolist()}")
    Rz = _rz(angle_deg)
    cx, cy = K[0, 2], K[1, 2]
    A = np.concatenate([Rz[:2, :2], (np.array([cx, cy]) - Rz[:2, :2] @ np.array([cx, cy]))[:, None]], 1)
    h, w = sample.image.shape[:2]
    image = cv2.warpAffine(sample.image, A, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    landmarks = None
    if sample.landmarks is not None:
        landmarks = np.asarray(sample.landmarks, dtype=np.float64) @ A[:, :2].T + A[:, 2]
    R = Rz @ np.asarray(sample.R, dtype=np.float64)
    euler = matrix_to_euler(torch.from_numpy(R)[None], degrees=True)[0].numpy()
    bbox = box_from_points(landmarks) if landmarks is not None else None
    return dataclasses.replace(sample, image=image, R=R, t=Rz @ np.asarray(sample.t, np.float64),
                               euler=euler, landmarks=landmarks, bbox=bbox)


def box_information(box_xyxy: np.ndarray, K: np.ndarray, height: int, width: int) -> np.ndarray:
    """(7,) [left, top, right, bottom, f, H, W] of a crop box in a full image with intrinsics K."""
    return np.array([*box_xyxy, float(K[0, 0]), float(height), float(width)], dtype=np.float64)


class SixDoFCrop(_Pipeline):
    """Sample (full camera image) → TRGv2 input dict (see the module docstring).

    ``flip_index`` (V,): the topology's vertex mirror permutation (needed for flips of samples
    with vertices). ``num_vertices``: the model's V, checked against samples with vertices and
    the size of the zeros given for samples without (has_3d = 0); None: as the sample has.
    Training randomness comes from ``seed`` (reproducible) or torch's RNG (DataLoader workers).
    """

    def __init__(self, size: int, num_vertices: int | None, train: bool = False,
                 flip_index: np.ndarray | None = None, flip_p: float = 0.0,
                 rotate_p: float = 0.0, rotate_deg: float = 30.0, box_shift: float = 0.15,
                 box_scale_jitter: float = 0.05, color: float = 0.0,
                 scale: float = LANDMARK_BOX_SCALE, output: str = "tensors", seed: int | None = None):
        super().__init__(output, seed)
        if flip_p > 0 and flip_index is None:
            raise ValueError("flips need the topology's flip_index")
        self.size, self.num_vertices, self.train = int(size), num_vertices, train
        self.flip_index, self.flip_p = flip_index, flip_p
        self.rotate_p, self.rotate_deg = rotate_p, rotate_deg
        self.box_shift, self.box_scale_jitter, self.color, self.scale = box_shift, box_scale_jitter, color, scale

    def __call__(self, sample: Sample):
        if sample.landmarks is None or len(sample.landmarks) != 68:
            raise ValueError(f"{sample.source}: the TRGv2 crop needs 68 image landmarks")
        if sample.K is None:
            raise ValueError(f"{sample.source}: a 6DoF sample needs intrinsics K (this source is "
                             "rotation-only)")
        rng = self.rng()
        if self.train and self.flip_p and rng.random() < self.flip_p:
            extra = dict(sample.extra, vertex_flip_index=self.flip_index)
            sample = hflip(dataclasses.replace(sample, extra=extra))
        if self.train and self.rotate_p and rng.random() < self.rotate_p and sample.t is not None:
            sample = rotate_about_principal_point(sample, rng.uniform(-self.rotate_deg, self.rotate_deg))
        lm_box = box_from_points(sample.landmarks)
        if self.train:
            box = square_box(lm_box, self.scale, rng, self.box_shift, self.box_scale_jitter)
        else:
            box = square_box(lm_box, self.scale)
        # integer corners (the crop truncates them) and a square of integer side: truncating
        # both corners independently would leave sides 1 px apart (a stretched crop, fx ≠ fy)
        side = int(round(box[2] - box[0]))
        x0, y0 = int(box[0]), int(box[1])
        box = np.array([x0, y0, x0 + side, y0 + side], dtype=np.float64)
        h, w = sample.image.shape[:2]
        info = box_information(box, np.asarray(sample.K), h, w)
        cropped = resize(crop(sample, box), self.size)
        if self.train and self.color:
            cropped = dataclasses.replace(
                cropped, image=color_jitter(cropped.image, rng, self.color, self.color, self.color))
        cropped = dataclasses.replace(cropped, extra=dict(cropped.extra, box_info=info))
        if self.output == "sample":
            return cropped
        return self.tensors(cropped, info)

    def tensors(self, s: Sample, info: np.ndarray) -> dict[str, torch.Tensor]:
        f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
        has_3d = s.vertices is not None and s.t is not None
        out = {
            "image": to_tensor(s.image),
            "R": f32(s.R), "euler": f32(s.euler),
            "t": f32(s.t if s.t is not None else np.zeros(3)),
            "K_crop": f32(s.K), "box": f32(info),
            "landmarks": f32(s.landmarks),
            "landmarks_visible": torch.as_tensor(
                np.ones(68, bool) if s.landmarks_visible is None else np.asarray(s.landmarks_visible, bool)),
            "vertices": f32(s.vertices if s.vertices is not None
                            else np.zeros((self.num_vertices or 0, 3))),
            "has_3d": torch.tensor(1.0 if has_3d else 0.0),
        }
        if self.num_vertices is not None and out["vertices"].shape[0] != self.num_vertices:
            raise ValueError(f"{s.source}: {out['vertices'].shape[0]} vertices, but the model's "
                             f"topology has {self.num_vertices}")
        return out
