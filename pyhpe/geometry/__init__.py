"""Rotation conventions and camera geometry. One module owns every conversion."""

from pyhpe.geometry.rotation import (
    euler_to_matrix,
    flip_rotation_horizontal,
    matrix_to_euler,
    matrix_to_sixd,
    sixd_to_matrix,
)

__all__ = [
    "euler_to_matrix",
    "flip_rotation_horizontal",
    "matrix_to_euler",
    "matrix_to_sixd",
    "sixd_to_matrix",
]
