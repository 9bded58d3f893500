"""AFLW2000(-3D): the 300W-LP file format (``.jpg`` + ``.mat``), plus optional ``pt3d_68``.

Test set of protocol 1, used with the ±99° filtered file list and the fixed test crop
(:func:`pyhpe.data.transforms.sixdrepnet_test_box`). ``pt3d_68`` lands in ``Sample.extra``.
"""

from __future__ import annotations

from pyhpe.data.w300lp import PoseMatDataset


class AFLW2000(PoseMatDataset):
    """2,000 images with 300W-LP-style labels (negative ``pt2d`` coordinates are kept, as 6DRepNet)."""
