"""Pose metrics.

- :mod:`pyhpe.metrics.rotation`: rotation metrics in pyhpe's own Euler convention (MAE per angle
  with 6DRepNet's and the wrap-around formula, geodesic error, AFLW2000's ±99° filter, the mean
  rotation). Every name of the former ``pyhpe.metrics`` module is re-exported here unchanged.
- :mod:`pyhpe.metrics.sixdof`: the 6DoF metrics of the TRG / TRGv2 tables (scipy-'yxz' Euler MAE,
  translation errors, ADD, dense-vertex errors, DD-Pose's BMAE and recall, ``sixdof_report``).
- :mod:`pyhpe.metrics.ddpose`: the DD-Pose devkit's angle from frontal, its easy / moderate /
  hard subsets and the per-subset report (BMAE, MAE_r, MAE_t, recall).
"""

from pyhpe.metrics.ddpose import angle_from_frontal_deg, ddpose_report, subset_masks
from pyhpe.metrics.rotation import (
    ANGLE_NAMES,
    FORMULAS,
    angle_errors,
    euler_mae,
    geodesic_error,
    geodesic_errors_deg,
    matrix_to_euler_deg,
    mean_rotation,
    pose_report,
    within_99,
)
from pyhpe.metrics.sixdof import (
    add_mm,
    bmae,
    dense_landmark_report,
    euler_yxz_deg,
    mae_r_yxz,
    recall,
    rotation_angle_deg,
    sixdof_report,
    translation_errors_mm,
    vertex_errors_mm,
)

__all__ = [
    "ANGLE_NAMES",
    "FORMULAS",
    "add_mm",
    "angle_errors",
    "angle_from_frontal_deg",
    "bmae",
    "ddpose_report",
    "dense_landmark_report",
    "euler_mae",
    "euler_yxz_deg",
    "geodesic_error",
    "geodesic_errors_deg",
    "mae_r_yxz",
    "matrix_to_euler_deg",
    "mean_rotation",
    "pose_report",
    "recall",
    "rotation_angle_deg",
    "sixdof_report",
    "subset_masks",
    "translation_errors_mm",
    "vertex_errors_mm",
    "within_99",
]
