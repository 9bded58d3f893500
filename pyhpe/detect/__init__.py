"""Face detection for prediction in the wild: one interface, three detectors.

- ``haar`` (`pyhpe.detect.haar.HaarDetector`): OpenCV's shipped frontal + profile cascades, both
  profile directions, merged by NMS on a downscaled frame. Offline, no files. Score: neighbours.
- ``yunet`` (`pyhpe.detect.yunet.YuNetDetector`): OpenCV's `FaceDetectorYN` with a YuNet ONNX
  file the user supplies. Score: YuNet's confidence in [0, 1].
- ``boxes`` (`pyhpe.detect.boxes_file.BoxesFileDetector`): boxes read from a JSON file (a user's
  own detector). Score: the file's, 1.0 where it gives none.

``make_detector(name, **kwargs)`` builds one; a detector is called as ``det(image_rgb, key=None)``
and returns `Detections` (boxes x0, y0, x1, y1 in image pixels, scores, optional kinds).
"""

from __future__ import annotations

from pyhpe.detect.base import Detections, Detector, box_iou, nms

DETECTORS = ("haar", "yunet", "boxes")


def make_detector(name: str, **kwargs) -> Detector:
    """The detector ``name`` (one of `DETECTORS`) built with ``kwargs``:

    haar: min_face=40, max_side=640, scale_factor, min_neighbors, equalize, nms_iou, profile;
    yunet: weights (required), score_threshold=0.6, nms_threshold=0.3, top_k, min_face, max_side;
    boxes: boxes (the JSON file, required).
    """
    if name == "haar":
        from pyhpe.detect.haar import HaarDetector

        return HaarDetector(**kwargs)
    if name == "yunet":
        from pyhpe.detect.yunet import YuNetDetector

        return YuNetDetector(**kwargs)
    if name == "boxes":
        from pyhpe.detect.boxes_file import BoxesFileDetector

        return BoxesFileDetector(**kwargs)
    raise ValueError(f"unknown detector {name!r}; choose one of: {', '.join(DETECTORS)}")


__all__ = ["DETECTORS", "Detections", "Detector", "box_iou", "make_detector", "nms"]
