"""``pyhpe predict``: faces in an image, a folder of images or a video -> head pose.

For every frame: offline face detection (OpenCV Haar cascades, pyhpe.data.face_detect), the
model card's crop of each face box (the crop the model was evaluated with), the pose from a
:class:`~pyhpe.runtime.Predictor`, then an annotated image (or video) and a JSON file with one
record per face::

    pyhpe predict photo.jpg --checkpoint run/model.safetensors --out out/
    pyhpe predict frames/ --checkpoint build/m4.onnx --backend onnxruntime --threads 2
    pyhpe predict clip.mp4 --checkpoint build/m4.ncnn.param --backend ncnn --out out/

Writes ``OUT/<name>.jpg`` + ``OUT/<name>.json`` per image; for a video ``OUT/<name>.mp4`` and
``OUT/<name>.json`` (faces per frame).

A 6DoF model (TRGv2) also gives each face's translation ``t`` (metres, camera frame), its dense
face and landmarks; it needs the camera: ``--intrinsics fx,fy,cx,cy`` (fx = fy), or, without it,
TRGv2's assumption f = W + H with the principal point at the image centre (the JSON says which
was used, ``"intrinsics"`` and ``"intrinsics_given"``). The detector's face box stands for the
landmarks' extent, which the crop enlarges 1.5× (pyhpe.runtime.Predictor.predict_sixdof).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="an image, a folder of images, or a video file")
    from pyhpe.cli import add_renamed

    # --checkpoint: a model file path (pyhpe's word); the old --model spelling stays as a hidden alias
    add_renamed(parser, "--checkpoint", old="--model", dest="checkpoint", required=True, metavar="PATH",
                help="pyhpe model file (.safetensors, torch), .onnx or .ncnn.param")
    parser.add_argument("--backend", choices=("torch", "onnxruntime", "ncnn"), default=None,
                        help="default: from the model file's extension")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the backend")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                        help="fp16: ncnn's fp16 storage/arithmetic (ncnn only)")
    add_renamed(parser, "--out", "-o", old="--output", dest="output", default="predictions",
                metavar="DIR", help="output folder (default predictions)")
    parser.add_argument("--min-face", type=int, default=40, help="smallest face side in pixels")
    parser.add_argument("--max-faces", type=int, default=0, help="keep the N largest faces (0: all)")
    parser.add_argument("--no-draw", action="store_true", help="write JSON only")
    parser.add_argument("--intrinsics", metavar="FX,FY,CX,CY",
                        help="6DoF models: the camera's intrinsics in pixels (default: unknown, "
                        "f = W + H, principal point at the image centre)")


def guess_backend(model: str) -> str:
    """torch for .safetensors, onnxruntime for .onnx, ncnn for .param."""
    name = model.lower()
    if name.endswith(".onnx"):
        return "onnxruntime"
    if name.endswith(".param"):
        return "ncnn"
    return "torch"


def _boxes_xyxy(detector, image_rgb: np.ndarray, max_faces: int) -> np.ndarray:
    boxes = detector(image_rgb)
    if max_faces and len(boxes) > max_faces:
        boxes = boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])[:max_faces]]
    xyxy = boxes.copy()
    xyxy[:, 2:] += xyxy[:, :2]
    return xyxy


FRAME_KEYS = ("intrinsics", "intrinsics_given")  # per-image outputs of a 6DoF prediction


def parse_intrinsics(text: str | None) -> np.ndarray | None:
    """"fx,fy,cx,cy" → K (3, 3); None → None (unknown)."""
    if text is None:
        return None
    try:
        fx, fy, cx, cy = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--intrinsics must be four numbers fx,fy,cx,cy, got {text!r}") from None
    if not (fx > 0 and fy > 0) or not np.all(np.isfinite([cx, cy])):
        raise ValueError(f"--intrinsics: fx and fy must be > 0 and cx, cy finite, got {text!r}")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _records(boxes: np.ndarray, out: dict[str, np.ndarray]) -> list[dict]:
    """One JSON record per face: its box and every decoded output (Euler angles as pitch, yaw,
    roll in degrees)."""
    faces = []
    for i, box in enumerate(boxes):
        face: dict = {"box_xyxy": [float(v) for v in box]}
        for name, values in out.items():
            if name in FRAME_KEYS:
                continue
            if name == "euler_deg":
                face.update(zip(("pitch", "yaw", "roll"), (float(v) for v in values[i])))
            else:
                face[name] = values[i].astype(float).tolist()
        faces.append(face)
    return faces


def process_frame(predictor, detector, image_rgb: np.ndarray, max_faces: int = 0, K=None):
    """(faces as JSON records, boxes, predictions) for one RGB frame (``K``: 6DoF models'
    intrinsics, None: unknown)."""
    boxes = _boxes_xyxy(detector, image_rgb, max_faces)
    out = predictor.predict_faces(image_rgb, boxes, K=K)
    return _records(boxes, out), boxes, out


def _frame_fields(out: dict) -> dict:
    """The per-image fields of a 6DoF prediction for the JSON record (nothing otherwise)."""
    return {k: np.asarray(out[k]).tolist() for k in FRAME_KEYS if k in out}


def _summary(faces: list[dict]) -> str:
    """Per-face t (and rotation) of a 6DoF prediction, for the console."""
    parts = []
    for f in faces:
        if "t" in f:
            t = ", ".join(f"{v:+.3f}" for v in f["t"])
            parts.append(f"t = ({t}) m, yaw {f['yaw']:+.1f} pitch {f['pitch']:+.1f} roll {f['roll']:+.1f}")
    return "".join(f"\n  face {i}: {p}" for i, p in enumerate(parts))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)


def _run_images(paths, predictor, detector, args, out_dir: Path) -> int:
    from pyhpe.data.files import read_image_rgb, write_image_rgb
    from pyhpe.runtime.annotate import draw_faces

    total = 0
    for path in paths:
        image = read_image_rgb(path)
        faces, boxes, out = process_frame(predictor, detector, image, args.max_faces, args.K)
        total += len(faces)
        record = {"input": str(path), "backend": predictor.backend_name, **_frame_fields(out), "faces": faces}
        (out_dir / f"{path.stem}.json").write_text(json.dumps(record, indent=1))
        if not args.no_draw:
            write_image_rgb(out_dir / f"{path.stem}.jpg", draw_faces(image, boxes, out["R"], out["euler_deg"]))
        print(f"{path}: {len(faces)} face(s)" + _summary(faces))
    return total


def _run_video(path: Path, predictor, detector, args, out_dir: Path) -> int:
    import cv2

    from pyhpe.runtime.annotate import draw_faces

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    frames, total = [], 0
    try:
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces, boxes, out = process_frame(predictor, detector, rgb, args.max_faces, args.K)
            frames.append({"frame": index, **_frame_fields(out), "faces": faces})
            total += len(faces)
            if not args.no_draw:
                if writer is None:
                    h, w = rgb.shape[:2]
                    writer = cv2.VideoWriter(str(out_dir / f"{path.stem}.mp4"),
                                             cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                drawn = draw_faces(rgb, boxes, out["R"], out["euler_deg"])
                writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            index += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if not frames:
        raise ValueError(f"{path}: no frame could be read")
    record = {"input": str(path), "backend": predictor.backend_name, "fps": fps, "frames": frames}
    (out_dir / f"{path.stem}.json").write_text(json.dumps(record))
    print(f"{path}: {len(frames)} frame(s), {total} face(s)")
    return total


def run(args: argparse.Namespace) -> int:
    from pyhpe.data.face_detect import HaarFaceDetector
    from pyhpe.runtime.predictor import Predictor

    src = Path(args.input)
    try:
        if not src.exists():
            raise FileNotFoundError(f"input not found: {src}")
        args.K = parse_intrinsics(getattr(args, "intrinsics", None))
        predictor = Predictor(args.checkpoint, backend=args.backend or guess_backend(args.checkpoint),
                              threads=args.threads, precision=args.precision)
        detector = HaarFaceDetector(min_size=args.min_face)
        out_dir = Path(args.output)
        out_dir.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            paths = _images_in(src)
            if not paths:
                raise ValueError(f"{src}: no images ({', '.join(sorted(IMAGE_EXTS))})")
            _run_images(paths, predictor, detector, args, out_dir)
        elif src.suffix.lower() in VIDEO_EXTS:
            _run_video(src, predictor, detector, args, out_dir)
        elif src.suffix.lower() in IMAGE_EXTS:
            _run_images([src], predictor, detector, args, out_dir)
        else:
            raise ValueError(f"{src}: not an image ({', '.join(sorted(IMAGE_EXTS))}) or video "
                             f"({', '.join(sorted(VIDEO_EXTS))})")
    except (FileNotFoundError, ValueError, ImportError, RuntimeError, TypeError) as err:
        print(f"pyhpe predict: error: {err}", file=sys.stderr)
        return 1
    print(f"results in {out_dir}")
    return 0
