"""Geometry in pyhpe's conventions (docs/conventions.md), one place for each formula.

- :mod:`~pyhpe.geometry.rotation`: Euler <-> matrix, 6D, SO(3) exp/log (the batched hot paths
  are pyhpe.ops).
- :mod:`~pyhpe.geometry.camera`: head -> camera transform, pinhole projection, crop/resize
  intrinsics, boxes.
- :mod:`~pyhpe.geometry.correction`: TRGv2's head translation from correction parameters (Eq. 3).
- :mod:`~pyhpe.geometry.rigid`: the horizontal flip of a pose and of its labels.
- :mod:`~pyhpe.geometry.alignment`: TRGv2's reference-system offset between two mesh topologies.
"""

from pyhpe.geometry.alignment import (
    apply_reference_offset,
    geometric_median,
    landmarks_from_template,
    read_reference_offsets,
    reference_offset,
    write_reference_offsets,
)
from pyhpe.geometry.camera import (
    box_cxcywh_to_xyxy,
    box_from_points,
    box_iou,
    box_xywh_to_xyxy,
    box_xyxy_to_cxcywh,
    centered_intrinsics,
    crop_intrinsics,
    crop_rotation_to_camera,
    project,
    project_points,
    ray_rotation,
    scale_intrinsics,
    shift_intrinsics,
    square_box,
    to_camera,
)
from pyhpe.geometry.correction import (
    FACE_SIZE_M,
    box_info,
    box_offsets,
    correction_from_translation,
    principal_point_from_crop,
    translation_from_correction,
)
from pyhpe.geometry.rigid import (
    MIRROR,
    flip_boxes_horizontal,
    flip_euler_horizontal,
    flip_intrinsics_horizontal,
    flip_points_horizontal,
    flip_rotation_horizontal,
    flip_translation_horizontal,
    flip_xywh_boxes_horizontal,
    mirror_points,
)
from pyhpe.geometry.rotation import (
    SIXD_COLUMNS_TO_INTERLEAVED,
    SIXD_INTERLEAVED_TO_COLUMNS,
    euler_to_matrix,
    euler_to_matrix_scalar,
    matrix_to_euler,
    matrix_to_sixd,
    sixd_to_matrix,
    so3_exp,
    so3_log,
)

__all__ = [
    "FACE_SIZE_M",
    "MIRROR",
    "SIXD_COLUMNS_TO_INTERLEAVED",
    "SIXD_INTERLEAVED_TO_COLUMNS",
    "apply_reference_offset",
    "box_cxcywh_to_xyxy",
    "box_from_points",
    "box_info",
    "box_iou",
    "box_offsets",
    "box_xywh_to_xyxy",
    "box_xyxy_to_cxcywh",
    "centered_intrinsics",
    "correction_from_translation",
    "crop_intrinsics",
    "crop_rotation_to_camera",
    "euler_to_matrix",
    "euler_to_matrix_scalar",
    "flip_boxes_horizontal",
    "flip_euler_horizontal",
    "flip_intrinsics_horizontal",
    "flip_points_horizontal",
    "flip_rotation_horizontal",
    "flip_translation_horizontal",
    "flip_xywh_boxes_horizontal",
    "geometric_median",
    "landmarks_from_template",
    "matrix_to_euler",
    "matrix_to_sixd",
    "mirror_points",
    "principal_point_from_crop",
    "project",
    "project_points",
    "ray_rotation",
    "read_reference_offsets",
    "reference_offset",
    "scale_intrinsics",
    "shift_intrinsics",
    "sixd_to_matrix",
    "so3_exp",
    "so3_log",
    "square_box",
    "to_camera",
    "translation_from_correction",
    "write_reference_offsets",
]
