"""The TRGv2 input pipeline: a full camera image with its pose → the 1.5× landmark-box crop, its
intrinsics K_crop and the box information, with TRGv2's augmentations (trg.md §1.11).

Augmentations, each keeping every label exact:

- **horizontal flip** of the full image (before the crop): R → F·R·F, t → F·t (F = diag(−1, 1, 1)),
  K's principal point mirrored, landmarks mirrored and relabelled (iBUG-68), vertices mirrored
  and re-indexed through a vertex mirror permutation (:func:`pyhpe.data.geometric.hflip`): the
  sample's own (``extra["vertex_flip_index"]``, set by sources that know their mesh, e.g.
  ARKitFace's ``flip_index.npy``) or else the model topology's (``flip_index``). Where the
  landmarks are projections of mesh vertices (``extra["landmark_vertex_index"]``, ARKitFace), they
  are re-derived from the flipped mesh, as the released code does: the ARKit landmark vertices
  are not exactly mirror-symmetric, so the iBUG relabelling alone would leave them up to a
  contour vertex (≈1 cm) off the flipped mesh;
- **in-plane rotation** about the principal point (:func:`rotate_about_principal_point`): for a
  pinhole camera with fx = fy and no skew this is exactly a roll of the camera about its optical
  axis, so R → R_z(α)·R and t → R_z(α)·t with K unchanged (the released code keeps t and rotates
  about the head centre instead, which is approximate off-axis);
- **box jitter**: centre moved by U(±0.15·s), side scaled by U(0.95, 1.05) (s = landmark extent);
- **colour jitter** of the crop (brightness/contrast/saturation).

The crop box is the 1.5× landmark box, or the box a source gives (``extra["crop_box"]``: BIWI's
official FAN box, :mod:`pyhpe.data.biwi_fan`; test crops only). ``convention`` picks how a box
becomes the S×S crop (:func:`pyhpe.geometry.camera.crop_matrix`): "pyhpe" (default) squares the
box (integer corner, side rounded), crops, resizes and moves K with integer pixel centres — the
image and K_crop agree exactly; "official" is the released TRGv2 code's: corners truncated one by
one, the image warped (bilinear) so the corners land on 0…S−1, K_crop and the landmark labels
shifted and scaled by S/b (b = right − left), for converted official models.

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
from pyhpe.geometry.camera import (
    CROP_CONVENTIONS,
    affine_points,
    box_from_points,
    crop_intrinsics,
    crop_matrix,
    project_points,
)
from pyhpe.geometry.rotation import matrix_to_euler

__all__ = ["SixDoFCrop", "box_information", "official_crop", "rotate_about_principal_point"]

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
        landmarks = affine_points(sample.landmarks, A)
    R = Rz @ np.asarray(sample.R, dtype=np.float64)
    euler = matrix_to_euler(torch.from_numpy(R)[None], degrees=True)[0].numpy()
    bbox = box_from_points(landmarks) if landmarks is not None else None
    return dataclasses.replace(sample, image=image, R=R, t=Rz @ np.asarray(sample.t, np.float64),
                               euler=euler, landmarks=landmarks, bbox=bbox)


def official_crop(sample: Sample, box, size: int) -> Sample:
    """The released TRGv2 code's crop of ``box`` (integer corners) to size×size: the image warped
    bilinearly (black outside) so the corners land on 0…S−1, K and the 2D labels moved by its
    K_crop map (pyhpe.geometry.camera.crop_matrix, convention "official")."""
    warp = crop_matrix(box, size, "official", warp=True)
    labels = crop_matrix(box, size, "official")
    image = cv2.warpAffine(sample.image, warp[:2], (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    landmarks = None if sample.landmarks is None else affine_points(sample.landmarks, labels)
    bbox = None if sample.bbox is None else affine_points(np.reshape(sample.bbox, (2, 2)), labels).reshape(4)
    return dataclasses.replace(sample, image=image, K=crop_intrinsics(sample.K, box, size, "official"),
                               landmarks=landmarks, bbox=bbox)


def box_information(box_xyxy: np.ndarray, K: np.ndarray, height: int, width: int) -> np.ndarray:
    """(7,) [left, top, right, bottom, f, H, W] of a crop box in a full image with intrinsics K."""
    return np.array([*box_xyxy, float(K[0, 0]), float(height), float(width)], dtype=np.float64)


class SixDoFCrop(_Pipeline):
    """Sample (full camera image) → TRGv2 input dict (see the module docstring).

    ``flip_index`` (V,): the topology's vertex mirror permutation, used for flips of samples with
    vertices that carry no permutation of their own. ``num_vertices``: the model's V, checked
    against samples with vertices and the size of the zeros given for samples without (has_3d =
    0); None: as the sample has. ``convention``: "pyhpe" or "official" (module docstring).
    Training randomness comes from ``seed`` (reproducible) or torch's RNG (DataLoader workers).
    """

    def __init__(self, size: int, num_vertices: int | None, train: bool = False,
                 flip_index: np.ndarray | None = None, flip_p: float = 0.0,
                 rotate_p: float = 0.0, rotate_deg: float = 30.0, box_shift: float = 0.15,
                 box_scale_jitter: float = 0.05, color: float = 0.0,
                 scale: float = LANDMARK_BOX_SCALE, output: str = "tensors", seed: int | None = None,
                 convention: str = "pyhpe"):
        super().__init__(output, seed)
        if convention not in CROP_CONVENTIONS:
            raise ValueError(f"crop convention must be one of {CROP_CONVENTIONS}, got {convention!r}")
        self.size, self.num_vertices, self.train = int(size), num_vertices, train
        self.flip_index, self.flip_p = flip_index, flip_p
        self.rotate_p, self.rotate_deg = rotate_p, rotate_deg
        self.box_shift, self.box_scale_jitter, self.color, self.scale = box_shift, box_scale_jitter, color, scale
        self.convention = convention

    def __call__(self, sample: Sample):
        given_box = sample.extra.get("crop_box")
        if given_box is None and (sample.landmarks is None or len(sample.landmarks) != 68):
            raise ValueError(f"{sample.source}: the TRGv2 crop needs 68 image landmarks (or a crop "
                             "box from the source)")
        if given_box is not None and self.train:
            raise ValueError(f"{sample.source}: the source gives its crop box (a test protocol's); "
                             "training crops come from the landmarks")
        if sample.K is None:
            raise ValueError(f"{sample.source}: a 6DoF sample needs intrinsics K (this source is "
                             "rotation-only)")
        rng = self.rng()
        if self.train and self.flip_p and rng.random() < self.flip_p:
            sample = self.flip(sample)
        if self.train and self.rotate_p and rng.random() < self.rotate_p and sample.t is not None:
            sample = rotate_about_principal_point(sample, rng.uniform(-self.rotate_deg, self.rotate_deg))
        box = self.crop_box(sample, rng if self.train else None)
        h, w = sample.image.shape[:2]
        info = box_information(box, np.asarray(sample.K), h, w)
        if self.convention == "official":
            cropped = official_crop(sample, box, self.size)
        else:
            cropped = resize(crop(sample, box), self.size)
        if self.train and self.color:
            cropped = dataclasses.replace(
                cropped, image=color_jitter(cropped.image, rng, self.color, self.color, self.color))
        cropped = dataclasses.replace(cropped, extra=dict(cropped.extra, box_info=info))
        if self.output == "sample":
            return cropped
        return self.tensors(cropped, info)

    def flip(self, sample: Sample) -> Sample:
        """:func:`hflip` with the sample's vertex mirror permutation (else the topology's); landmarks
        that are projections of mesh vertices are re-derived from the flipped mesh."""
        flip_index = sample.extra.get("vertex_flip_index")
        if flip_index is None:
            flip_index = self.flip_index
        if sample.vertices is not None:
            if flip_index is None:
                raise ValueError(f"{sample.source}: flipping a sample with vertices needs a vertex "
                                 "mirror permutation (the source's flip_index or the topology's)")
            if len(flip_index) != len(sample.vertices):
                raise ValueError(f"{sample.source}: the vertex flip permutation has {len(flip_index)} "
                                 f"entries for {len(sample.vertices)} vertices")
        out = hflip(dataclasses.replace(sample, extra=dict(sample.extra, vertex_flip_index=flip_index)))
        ids = sample.extra.get("landmark_vertex_index")
        if ids is not None and out.vertices is not None and out.t is not None:
            landmarks = project_points(out.vertices[np.asarray(ids)], out.R, out.t, out.K)
            out = dataclasses.replace(out, landmarks=landmarks, bbox=box_from_points(landmarks))
        return out

    def crop_box(self, sample: Sample, rng: np.random.Generator | None) -> np.ndarray:
        """The crop's integer corners (x0, y0, x1, y1): the 1.5× landmark box (jittered with
        ``rng``) or the source's box; squared (pyhpe) or corner by corner (official)."""
        given = sample.extra.get("crop_box")
        if given is not None:
            x0, y0, x1, y1 = (int(v) for v in np.asarray(given, dtype=np.float64).reshape(4))
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"{sample.source}: empty crop box {(x0, y0, x1, y1)}")
            if self.convention == "official":
                return np.array([x0, y0, x1, y1], dtype=np.float64)
            return np.array([x0, y0, x1, y0 + (x1 - x0)], dtype=np.float64)  # the square of its width
        lm_box = box_from_points(sample.landmarks)
        if rng is not None:
            box = square_box(lm_box, self.scale, rng, self.box_shift, self.box_scale_jitter)
        else:
            box = square_box(lm_box, self.scale)
        if self.convention == "official":  # the released code: int() of each corner
            return np.array([int(v) for v in box], dtype=np.float64)
        # integer corners (the crop truncates them) and a square of integer side: truncating
        # both corners independently would leave sides 1 px apart (a stretched crop, fx ≠ fy)
        side = int(round(box[2] - box[0]))
        x0, y0 = int(box[0]), int(box[1])
        return np.array([x0, y0, x0 + side, y0 + side], dtype=np.float64)

    def tensors(self, s: Sample, info: np.ndarray) -> dict[str, torch.Tensor]:
        f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))
        has_3d = s.vertices is not None and s.t is not None
        out = {
            "image": to_tensor(s.image),
            "R": f32(s.R), "euler": f32(s.euler),
            "t": f32(s.t if s.t is not None else np.zeros(3)),
            "K_crop": f32(s.K), "box": f32(info),
            "landmarks": f32(s.landmarks if s.landmarks is not None else np.zeros((68, 2))),
            "landmarks_visible": torch.as_tensor(
                np.zeros(68, bool) if s.landmarks is None
                else np.ones(68, bool) if s.landmarks_visible is None
                else np.asarray(s.landmarks_visible, bool)),
            "vertices": f32(s.vertices if s.vertices is not None
                            else np.zeros((self.num_vertices or 0, 3))),
            "has_3d": torch.tensor(1.0 if has_3d else 0.0),
        }
        if self.num_vertices is not None and out["vertices"].shape[0] != self.num_vertices:
            raise ValueError(f"{s.source}: {out['vertices'].shape[0]} vertices, but the model's "
                             f"topology has {self.num_vertices}")
        return out
