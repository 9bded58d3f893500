"""Paints the texture atlas of an identity: skin, hair, eyes, brows, nostrils, lips, ears, glasses.

Atlas layout (pixels): rows [0, ATLAS_H_HEAD) hold the head in parameter space (x from phi, y from
theta, see :func:`pyhpe.data.synthetic.mesh.atlas_xy`); the strip below holds one disc per ear.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from pyhpe.data.synthetic import mesh
from pyhpe.data.synthetic.identity import Identity
from pyhpe.data.synthetic.noise import coloured_material, tint

_SHIFT = 3  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT
_HAIR_PHI = np.linspace(-np.pi, np.pi, 61)  # longitudes of the hairline polygon


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def _colour(c: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in c)


@lru_cache(maxsize=1)
def _ear_strip() -> np.ndarray:
    """The atlas strip below the head, grey (H, W): one ear disc per ear (helix ring, concha), 128 = skin."""
    strip = np.full((mesh.ATLAS_STRIP, mesh.ATLAS_W), 124, np.uint8)
    er = mesh.EAR_RADIUS_UV
    for cx, cy in mesh.EAR_CENTRE_UV.values():
        ec = np.array([cx, cy - mesh.ATLAS_H_HEAD])
        cv2.circle(strip, _fixed(ec), int(er * 0.72 * _ONE), 90, 2, cv2.LINE_AA, _SHIFT)
        cv2.circle(strip, _fixed(ec), int(er * 0.3 * _ONE), 64, -1, cv2.LINE_AA, _SHIFT)
    strip.setflags(write=False)
    return strip


def paint_atlas(idt: Identity, landmarks_tp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(ATLAS_H_HEAD + ATLAS_STRIP, ATLAS_W, 3) uint8 RGB texture of ``idt``.

    ``landmarks_tp``: (68, 2) (theta, phi) of the identity's landmarks; features are drawn through
    them so that rendered features and landmark labels coincide.
    """
    H, W, HH = mesh.ATLAS_H_HEAD + mesh.ATLAS_STRIP, mesh.ATLAS_W, mesh.ATLAS_H_HEAD
    skin, hair, has_hair = idt.skin, idt.hair, idt.hair_thick > 0
    img = np.empty((H, W, 3), np.uint8)
    img[:HH] = coloured_material(rng, "skin", skin, H, W, rows=HH)  # the strip below is the ears'
    # Every atlas position in one call: landmarks, blush centres, below the chin, the hairline.
    theta = [landmarks_tp[:, 0], [idt.eye_theta + 0.25] * 2 + [idt.chin_theta + 0.1]]
    phi = [landmarks_tp[:, 1], [-(idt.eye_phi + 0.05), idt.eye_phi + 0.05, 0.0]]
    if has_hair:
        theta.append(mesh.hairline(idt, _HAIR_PHI) + rng.uniform(-0.02, 0.02, _HAIR_PHI.shape))
        phi.append(_HAIR_PHI)
    xy = mesh.atlas_xy(np.concatenate(theta), np.concatenate(phi))
    lm, spots, edge = xy[:68], xy[68:71], xy[71:]
    # Skin: blotches and grain (the material window above), cheek blush, darker under the chin.
    for c in spots[:2]:
        cv2.ellipse(img, _fixed(c), (int(13 * _ONE), int(8 * _ONE)), 0, 0, 360,
                    _colour(skin * np.array([1.0, 0.92, 0.9])), -1, cv2.LINE_AA, _SHIFT)
    y_chin = int(spots[2, 1])
    img[y_chin: HH] = cv2.convertScaleAbs(img[y_chin: HH], alpha=0.85)

    # Hair: everything above the hairline (a window of the hair material); a beard for some.
    if has_hair:
        rows = min(H, int(edge[:, 1].max()) + 2)  # the hair polygon's rows
        mask = np.zeros((rows, W), np.uint8)
        cv2.fillPoly(mask, [_fixed(np.concatenate([[[0, 0]], edge, [[W - 1, 0]]]))], 1, cv2.LINE_8, _SHIFT)
        cv2.copyTo(coloured_material(rng, "hair", hair, H, W, rows=rows), mask, img[:rows])  # in place
    if idt.beard > 0:
        beard = np.concatenate([lm[2:15], lm[[54, 55, 57, 59, 48]]])  # jaw left to right, lip back
        x0, y0 = np.maximum(np.floor(beard.min(0)).astype(int) - 2, 0)  # the polygon's box (+ anti-aliasing)
        x1, y1 = np.minimum(np.ceil(beard.max(0)).astype(int) + 3, [W, H])
        box = img[y0:y1, x0:x1]
        layer = box.copy()
        cv2.fillPoly(layer, [_fixed(beard - [x0, y0])], _colour(hair), cv2.LINE_AA, _SHIFT)
        box[:] = cv2.addWeighted(box, 1 - idt.beard, layer, idt.beard, 0)

    fx = _fixed(lm)  # every landmark in cv2's fixed point, once
    # Brows.
    brow_col = _colour(hair * 0.8 if idt.hair_thick > 0 else skin * 0.45)
    thick = max(2, int(idt.brow_thick * mesh.ATLAS_H_HEAD / np.pi * 1.6))
    cv2.polylines(img, [fx[17:22], fx[22:27]], False, brow_col, thick, cv2.LINE_AA, _SHIFT)
    # Eyes: sclera, iris, pupil, upper lid line.
    for first in (36, 42):
        eye, eye_fx = lm[first: first + 6], fx[first: first + 6]
        centre = eye.mean(0)
        cv2.fillPoly(img, [eye_fx], (235, 230, 225), cv2.LINE_AA, _SHIFT)
        half = 0.5 * (eye[:, 0].max() - eye[:, 0].min())
        radius = 0.42 * half
        iris_c = _fixed(centre + idt.gaze * np.array([0.45 * half, 0.3 * radius]))
        cv2.circle(img, iris_c, int(radius * _ONE), _colour(idt.iris), -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, iris_c, int(0.45 * radius * _ONE), (15, 12, 12), -1, cv2.LINE_AA, _SHIFT)
        cv2.polylines(img, [eye_fx[:4]], False, (35, 25, 22), 2, cv2.LINE_AA, _SHIFT)  # upper lid
        cv2.polylines(img, [eye_fx], True, _colour(skin * 0.6), 1, cv2.LINE_AA, _SHIFT)
    # Nostrils.
    for c in _fixed(lm[[32, 34]] + np.array([0.0, -2.0])):
        cv2.ellipse(img, c, (int(3.5 * _ONE), int(2 * _ONE)), 0, 0, 360, _colour(skin * 0.35), -1, cv2.LINE_AA, _SHIFT)
    # Lips and the dark line between them.
    cv2.fillPoly(img, [fx[48:60]], _colour(idt.lips), cv2.LINE_AA, _SHIFT)
    cv2.fillPoly(img, [fx[60:68]], (60, 25, 25), cv2.LINE_AA, _SHIFT)
    cv2.polylines(img, [fx[60:68]], True, _colour(idt.lips * 0.55), 1, cv2.LINE_AA, _SHIFT)

    # Ear discs (strip): the fixed grey ear pattern tinted to the skin.
    img[HH:] = tint(_ear_strip(), skin)
    return img
