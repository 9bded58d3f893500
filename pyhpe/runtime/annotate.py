"""Drawing predictions on a frame: face box, head axes (pyhpe.data.draw's convention and colours)
and the Euler angles."""

from __future__ import annotations

import cv2
import numpy as np

from pyhpe.data.draw import AXIS_COLOURS, axis_endpoints


def draw_faces(image_rgb: np.ndarray, boxes_xyxy: np.ndarray, R: np.ndarray,
               euler_deg: np.ndarray) -> np.ndarray:
    """A copy of ``image_rgb`` with, per face, its box (yellow), axes from the box centre (head x
    red, y green, z blue; orthographic, camera x right, y down) and "p.. y.. r.." above the box."""
    img = np.ascontiguousarray(image_rgb.copy())
    h, w = img.shape[:2]
    th = max(1, round(min(h, w) / 240))
    for box, rot, (p, y, r) in zip(np.asarray(boxes_xyxy), np.asarray(R), np.asarray(euler_deg)):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(img, (x0, y0), (x1, y1), (255, 220, 0), th)
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        origin, ends = axis_endpoints(rot, centre, 0.5 * max(x1 - x0, y1 - y0))
        o = tuple(int(round(v)) for v in origin)
        for end, colour in zip(ends, AXIS_COLOURS):
            cv2.arrowedLine(img, o, tuple(int(round(v)) for v in end), colour, th + 1, tipLength=0.15)
        text = f"p{p:+.0f} y{y:+.0f} r{r:+.0f}"
        scale = max(0.4, (x1 - x0) / 250)
        org = (x0, max(12, y0 - 4))
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), th + 2, cv2.LINE_AA)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), th, cv2.LINE_AA)
    return img
