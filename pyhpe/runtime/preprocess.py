"""Preprocessing shared by every backend: a model card's crop rule applied to a face box, and the
resize/centre-crop/normalise chain (pyhpe.data.geometric / photometric), exactly as evaluation
applies it (pyhpe.tasks: the task's test transform with the same card)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pyhpe.data.geometric import center_crop, crop, resize_shorter_side, sixdrepnet_test_box
from pyhpe.data.photometric import IMAGENET_MEAN, IMAGENET_STD
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import centered_intrinsics
from pyhpe.models.card import CropRule
from pyhpe.tasks.sixd_rotation import SixDRotationTask

SIXDREPNET_CROP = SixDRotationTask.default_crop  # 6DRepNet's test crop, the default for bare crops

_IDENTITY = np.eye(3)
_ZERO = np.zeros(3)


def _as_sample(image: np.ndarray) -> Sample:
    return Sample(image=image, R=_IDENTITY, euler=_ZERO)


def _check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must be an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}")
    return image


def crop_box(box_xyxy: Sequence[float], rule: CropRule = SIXDREPNET_CROP) -> np.ndarray:
    """The box (x0, y0, x1, y1) the crop rule cuts for a face box; kind "margin_box": 6DRepNet's
    fixed-margin test box with k = ``rule.margin`` (the centre crop after resizing keeps its
    centre, the point a crop model looks at)."""
    box = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"face box must be finite (x0, y0, x1, y1) with x1 > x0, y1 > y0, got {box_xyxy}")
    return sixdrepnet_test_box(box, rule.margin) if rule.kind == "margin_box" else box


def face_crop(image_rgb: np.ndarray, box_xyxy: Sequence[float], rule: CropRule = SIXDREPNET_CROP) -> np.ndarray:
    """The crop rule's box of a face box (x0, y0, x1, y1) cut from the image (outside is black)."""
    image_rgb = _check_image(image_rgb)
    return crop(_as_sample(image_rgb), crop_box(box_xyxy, rule)).image


def resize_center(crop_rgb: np.ndarray, size: int, rule: CropRule = SIXDREPNET_CROP) -> np.ndarray:
    """Resize the shorter side to ``rule.resize_side(size)`` (torchvision Resize), then
    CenterCrop(size): the test chain at any size (resize 256: 6DRepNet's)."""
    crop_rgb = _check_image(crop_rgb, "crop")
    sample = center_crop(resize_shorter_side(_as_sample(crop_rgb), rule.resize_side(size)), size)
    return sample.image


def normalize(images_rgb: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float32, scaled to [0, 1] and normalised."""
    x = images_rgb.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def prepare(crops, size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD, rule: CropRule = SIXDREPNET_CROP) -> np.ndarray:
    """Crops -> the network input (N, 3, size, size) float32.

    ``crops``: a list of (H, W, 3) uint8 RGB face crops (any size; resized and centre-cropped as
    ``rule`` says), an (N, H, W, 3) uint8 array, or an already normalised (N, 3, size, size)
    float array (passed through).
    """
    if isinstance(crops, np.ndarray) and crops.dtype != np.uint8:
        x = np.ascontiguousarray(crops, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (3, size, size):
            raise ValueError(f"float input must be (N, 3, {size}, {size}), got {x.shape}")
        return x
    if hasattr(crops, "detach"):  # a torch tensor
        return prepare(crops.detach().cpu().numpy().astype(np.float32), size, mean, std, rule)
    crops = list(crops)
    if not crops:
        raise ValueError("predict needs at least one crop")
    resized = np.stack([resize_center(c, size, rule) for c in crops])
    return normalize(resized, mean, std)


# --- 6DoF (TRGv2): the evaluation crop of a full camera image, with its camera vector ---------

def default_intrinsics(height: int, width: int) -> np.ndarray:
    """K (3, 3) of an image whose camera is unknown, as TRGv2 assumes: f = W + H and the
    principal point at the image centre (pyhpe.geometry.centered_intrinsics)."""
    return centered_intrinsics(height, width, width + height)


def _face_points(face) -> np.ndarray:
    """(68, 2) landmarks as given, or a face box (x0, y0, x1, y1) as 68 points whose extent is
    the box (its two corners), so the crop rule treats the box as the landmarks' extent."""
    p = np.asarray(face, dtype=np.float64)
    if p.shape == (68, 2):
        return p
    box = p.reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"a face is (68, 2) landmarks or a box (x0, y0, x1, y1) with x1 > x0, y1 > y0, "
                         f"got shape {p.shape}")
    return np.repeat(box.reshape(2, 2), 34, axis=0)


def sixdof_inputs(image_rgb: np.ndarray, K: np.ndarray, faces, task, card) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3, S, S) normalised, camera vectors (N, 11)) of the faces of one full image.

    Each face (68 landmarks, or a face box standing for their extent) is cut by the task's own
    evaluation crop (``task.test_transform`` with the card's crop rule: TRGv2's 1.5× landmark box,
    pyhpe.data.sixdof_crop), which also gives K_crop and the box information; the crops are
    normalised with the card's mean and std. ``K``: the full image's intrinsics (fx = fy).
    """
    from pyhpe.tasks.trgv2_6dof import camera_vector

    image_rgb = _check_image(image_rgb)
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"intrinsics K must be a finite (3, 3) matrix with fx, fy > 0, got {K.tolist()}")
    transform = task.test_transform(card.crop, card.input_size, {}, output="sample")
    crops, boxes, Ks = [], [], []
    for face in faces:
        sample = Sample(image=image_rgb, R=_IDENTITY, euler=_ZERO, K=K, landmarks=_face_points(face),
                        source="predict")
        cropped = transform(sample)
        crops.append(cropped.image)
        boxes.append(cropped.extra["box_info"])
        Ks.append(cropped.K)
    if not crops:
        raise ValueError("no faces given")
    return normalize(np.stack(crops), card.mean, card.std), camera_vector(np.stack(boxes), np.stack(Ks))
