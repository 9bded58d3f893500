"""The common sample record every loader and the synthetic renderer produce."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Sample:
    """One annotated face image, in pyhpe's conventions (docs/conventions.md).

    Required: ``image`` (H, W, 3) uint8 RGB; ``R`` (3, 3) float64 rotation head -> camera;
    ``euler`` (3,) float64 (pitch, yaw, roll) in degrees, R = Rz(roll) Ry(yaw) Rx(pitch).
    Optional fields are None where the source has no such annotation. ``extra`` holds what a source
    adds; keys the transforms read: ``vertex_flip_index`` (V,) the mesh's mirror permutation (a
    flip re-indexes the vertices with it), ``landmark_vertex_index`` (68,) the vertices the
    landmarks are projections of (a TRGv2 flip re-derives them), ``crop_box`` (4,) the crop box a
    test protocol prescribes (BIWI's FAN box; the TRGv2 crop uses it instead of the landmarks').
    """

    image: np.ndarray
    R: np.ndarray
    euler: np.ndarray
    t: np.ndarray | None = None  # (3,) translation in metres, camera frame
    K: np.ndarray | None = None  # (3, 3) intrinsics in pixels
    bbox: np.ndarray | None = None  # (4,) x_min, y_min, x_max, y_max in pixels
    landmarks: np.ndarray | None = None  # (68, 2) pixel coordinates
    landmarks_visible: np.ndarray | None = None  # (68,) bool
    vertices: np.ndarray | None = None  # (V, 3) dense vertices, head frame, metres
    faces: np.ndarray | None = None  # (F, 3) int triangle indices (fixed topology)
    subject: str | None = None
    source: str | None = None  # path (or generator id) the sample came from
    extra: dict = field(default_factory=dict)
