"""Drawing predictions on a frame: face box and id, head axes (pyhpe.data.draw's convention and
colours), the Euler angles and, for 6DoF models, the projected dense face and the distance."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pyhpe.data.draw import AXIS_COLOURS, axis_endpoints
from pyhpe.runtime.records import FaceResult

BOX_DETECTED = (255, 220, 0)  # yellow: a detection confirmed the box this frame
BOX_TRACKED = (0, 200, 255)  # cyan: the box was carried by the tracker
MESH_COLOUR = (120, 255, 160)
MESH_POINTS = 1500  # at most this many points of a dense face are drawn


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, th: int) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), th + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), th, cv2.LINE_AA)


def _draw_mesh(img: np.ndarray, points: np.ndarray) -> None:
    """Up to MESH_POINTS of the projected vertices as single pixels (fast at video rate)."""
    pts = np.asarray(points)
    if len(pts) > MESH_POINTS:
        pts = pts[:: int(np.ceil(len(pts) / MESH_POINTS))]
    px = np.round(pts).astype(np.int64)
    h, w = img.shape[:2]
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    img[px[inside, 1], px[inside, 0]] = MESH_COLOUR


def draw_results(image_rgb: np.ndarray, faces: Sequence[FaceResult], K: np.ndarray | None = None,
                 show_ids: bool = False) -> np.ndarray:
    """A copy of ``image_rgb`` with, per face: its box (yellow if detected this frame, cyan if
    tracked), axes (head x red, y green, z blue; perspective from t with ``K`` for 6DoF models,
    else orthographic from the box centre, camera x right, y down), "p.. y.. r.." above the box
    (with "#id" when ``show_ids``) and, for 6DoF models, the projected dense face and "… cm"."""
    img = np.ascontiguousarray(image_rgb.copy())
    h, w = img.shape[:2]
    th = max(1, round(min(h, w) / 240))
    for face in faces:
        x0, y0, x1, y1 = (round(float(v)) for v in face.box)
        cv2.rectangle(img, (x0, y0), (x1, y1), BOX_DETECTED if face.detected else BOX_TRACKED, th)
        if "mesh_image" in face.overlay:
            _draw_mesh(img, face.overlay["mesh_image"])
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        origin, ends = axis_endpoints(face.R, centre, 0.5 * max(x1 - x0, y1 - y0),
                                      K=K if face.t is not None else None, t=face.t)
        o = tuple(round(float(v)) for v in origin)
        for end, colour in zip(ends, AXIS_COLOURS):
            cv2.arrowedLine(img, o, tuple(round(float(v)) for v in end), colour, th + 1, tipLength=0.15)
        p, y, r = face.euler_deg
        text = (f"#{face.id} " if show_ids else "") + f"p{p:+.0f} y{y:+.0f} r{r:+.0f}"
        if face.t is not None:
            text += f" {100 * np.linalg.norm(face.t):.0f} cm"
        _text(img, text, (x0, max(12, y0 - 4)), max(0.4, (x1 - x0) / 250), th)
    return img

