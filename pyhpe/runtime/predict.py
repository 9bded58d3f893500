"""``pyhpe predict``: faces in an image, a folder of images or a video -> head pose.

Every frame goes through :class:`pyhpe.runtime.pipeline.FacePipeline`: face detection at any yaw
(``--detector haar`` offline by default, ``yunet`` with your ONNX file, ``boxes`` from a JSON
file), on video tracking between detections (``--detect-every N``) with stable face ids, one
batched forward for all faces, the pose in the camera's frame (``--pose-frame``), and One Euro
smoothing on video (``--no-smooth`` to turn it off)::

    pyhpe predict photo.jpg --checkpoint run/model.safetensors --out out/
    pyhpe predict frames/ --checkpoint build/m4.onnx --threads 2
    pyhpe predict clip.mp4 --checkpoint build/m4.ncnn.param --detect-every 5 --out out/

Writes per image ``OUT/<name>.jpg`` + ``OUT/<name>.json``; for a folder also ``OUT/<folder>.csv``;
for a video ``OUT/<name>.mp4``, ``OUT/<name>.json`` (faces per frame) and ``OUT/<name>.csv`` (one
row per frame per face, pyhpe.runtime.records). An image that cannot be read, or a video frame
that cannot be decoded, is skipped with one line and counted in the summary; the exit status is
then 3 (``--strict``: the first bad input is an error, status 1; nothing readable at all: status 1).
Other errors: one line, status 1.

Intrinsics: ``--intrinsics fx,fy,cx,cy`` (or a JSON file with a 3×3 "K" or fx, fy, cx, cy),
``--focal F`` (fx = fy = F, principal point at the image centre), else TRGv2's assumption
f = W + H with the principal point at the image centre. A 6DoF model (TRGv2) needs them for its
translation t (metres, camera frame); a crop-based rotation model uses them to turn its answer
into the camera frame (``--pose-frame camera``, the default). The JSON says which K was used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from pyhpe.engine.errors import Skips, add_strict_flag
from pyhpe.geometry.camera import centered_intrinsics

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}

DESCRIPTION = __doc__  # `pyhpe predict --help`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import add_renamed
    from pyhpe.detect import DETECTORS
    from pyhpe.runtime.pipeline import POSE_FRAMES

    parser.add_argument("input", help="an image, a folder of images, or a video file")
    # --checkpoint: a model file path (pyhpe's word); the old --model spelling stays as a hidden alias
    add_renamed(parser, "--checkpoint", old="--model", dest="checkpoint", required=True, metavar="PATH",
                help="pyhpe model file (.safetensors, torch), .onnx or .ncnn.param")
    parser.add_argument("--backend", choices=("torch", "onnxruntime", "ncnn"), default=None,
                        help="default: from the model file's extension; a .safetensors file with an "
                        "ncnn export beside it (<stem>.ncnn.param/.bin) runs on ncnn")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the backend")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                        help="fp16: ncnn's fp16 storage/arithmetic; bf16: ncnn's bf16 storage "
                        "(ncnn only; docs/deployment.md 'Precision')")
    add_renamed(parser, "--out", "-o", old="--output", dest="output", default="predictions",
                metavar="DIR", help="output folder (default predictions)")
    det = parser.add_argument_group("detection and tracking")
    det.add_argument("--detector", choices=DETECTORS, default=None,
                     help="haar (default): OpenCV's frontal and both profile cascades, offline; "
                     "yunet: OpenCV's FaceDetectorYN with --detector-weights; boxes: --boxes FILE")
    det.add_argument("--detector-weights", metavar="FILE", help="yunet: the YuNet .onnx file")
    det.add_argument("--boxes", metavar="FILE",
                     help="face boxes from your own detector, JSON (see docs/predict.md); implies --detector boxes")
    det.add_argument("--min-face", type=int, default=40, help="smallest face side in pixels (default 40)")
    det.add_argument("--detect-max-side", type=int, default=640, metavar="PX",
                     help="haar, yunet: detect on a copy shrunk to this longer side (default 640; 480 or "
                     "320 are 1.6x and 3x faster on 720p, and miss faces under 24 px at that scale)")
    det.add_argument("--max-faces", type=int, default=0, help="keep the N largest faces (0: all)")
    det.add_argument("--detect-every", type=int, default=5, metavar="N",
                     help="video: run the detector every N frames and track in between (default 5; 1: every frame)")
    det.add_argument("--no-track", dest="track", action="store_false",
                     help="video: detect on every frame, no ids across frames, no smoothing")
    pose = parser.add_argument_group("pose")
    pose.add_argument("--pose-frame", choices=POSE_FRAMES, default="camera",
                      help="crop models: camera (default) rotates the answer by the viewing ray through "
                      "the crop's centre, so a pose reads the same anywhere in the image; crop: as the "
                      "model answers (relative to the crop's own viewing direction)")
    pose.add_argument("--intrinsics", metavar="FX,FY,CX,CY|FILE",
                      help="the camera's intrinsics in pixels, or a JSON file with \"K\" (3x3) or fx, fy, cx, cy "
                      "(default: unknown, f = W + H, principal point at the image centre)")
    pose.add_argument("--focal", type=float, metavar="F",
                      help="focal length in pixels, principal point at the image centre")
    pose.add_argument("--no-smooth", dest="smooth", action="store_false",
                      help="video: no One Euro filtering of the pose")
    pose.add_argument("--smooth-min-cutoff", type=float, default=None, metavar="HZ",
                      help="One Euro min cutoff in Hz (lower: smoother, more lag)")
    pose.add_argument("--smooth-beta", type=float, default=None,
                      help="One Euro speed coefficient (higher: less lag on fast turns)")
    out = parser.add_argument_group("output")
    out.add_argument("--no-draw", action="store_true", help="write JSON and CSV only")
    add_strict_flag(out, "unreadable image or frame")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")


def guess_backend(model: str) -> str:
    """torch for .safetensors, onnxruntime for .onnx, ncnn for .param."""
    name = str(model).lower()
    if name.endswith(".onnx"):
        return "onnxruntime"
    if name.endswith(".param"):
        return "ncnn"
    return "torch"


def ncnn_export_beside(model: str | Path) -> Path | None:
    """``<stem>.ncnn.param`` beside a model file when it and its .bin exist (None otherwise)."""
    path = Path(model)
    if path.suffix.lower() not in (".safetensors", ".pt", ".pth"):
        return None
    param = path.with_suffix(".ncnn.param")
    return param if param.is_file() and param.with_suffix(".bin").is_file() else None


def _intrinsics_from_numbers(values, source: str) -> np.ndarray:
    fx, fy, cx, cy = (float(v) for v in values)
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise ValueError(f"{source}: fx and fy must be > 0 and cx, cy finite, got {fx}, {fy}, {cx}, {cy}")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _intrinsics_file(path: Path) -> list[float]:
    """fx, fy, cx, cy from a JSON file holding "K" (3x3) or the four numbers by name."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--intrinsics {path}: not a readable JSON file ({err})") from None
    try:
        if "K" in data:
            K = np.asarray(data["K"], dtype=np.float64)
            if K.shape == (3, 3):
                return [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]
        else:
            return [float(data[k]) for k in ("fx", "fy", "cx", "cy")]
    except (KeyError, TypeError, ValueError):
        pass
    raise ValueError(f"--intrinsics {path}: needs \"K\" (3x3) or fx, fy, cx, cy numbers")


def parse_intrinsics(text: str | None) -> np.ndarray | None:
    """"fx,fy,cx,cy" or a JSON file ({"K": 3×3} or {"fx", "fy", "cx", "cy"}) → K (3, 3);
    None → None (unknown)."""
    if text is None:
        return None
    path = Path(text)
    if path.suffix.lower() == ".json" or path.is_file():
        return _intrinsics_from_numbers(_intrinsics_file(path), f"--intrinsics {path}")
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"--intrinsics must be four numbers fx,fy,cx,cy or a JSON file, got {text!r}")
    return _intrinsics_from_numbers(values, "--intrinsics")


def _intrinsics_for(args, height: int, width: int) -> np.ndarray | None:
    """The K of this input: --intrinsics, or --focal with the image centre, or None (unknown)."""
    if args.K is not None:
        return args.K
    return None if args.focal is None else centered_intrinsics(height, width, args.focal)


def _console(faces) -> str:
    """One line per face: id, t for 6DoF models, Euler angles."""
    lines = []
    for f in faces:
        t = "" if f.t is None else f" t = ({', '.join(f'{v:+.3f}' for v in f.t)}) m,"
        pitch, yaw, roll = f.euler_deg
        lines.append(f"\n  face {f.id}:{t} yaw {yaw:+.1f} pitch {pitch:+.1f} roll {roll:+.1f}")
    return "".join(lines)


def _frame_record(result, pipeline) -> dict:
    """The intrinsics used and the frame the poses are in (6DoF models: always the camera's)."""
    return {"intrinsics": result.K.tolist(), "intrinsics_given": bool(result.K_given),
            "pose_frame": "camera" if pipeline.sixdof else pipeline.options.pose_frame}


def _progress(iterable, total, args, unit: str):
    from tqdm import tqdm

    return tqdm(iterable, total=total or None, unit=unit, disable=True if args.no_progress else None, leave=False)


def _run_images(paths, pipeline, args, out_dir: Path, skips: Skips, csv_path: Path | None) -> int:
    """Each readable image → JSON (+ drawing, + a CSV row per face); returns the images done."""
    from pyhpe.data.files import DataFileError, read_image_rgb, write_image_rgb
    from pyhpe.runtime.annotate import draw_results
    from pyhpe.runtime.records import CsvWriter

    frames = 0
    csv = CsvWriter(csv_path, ("file",), pipeline.sixdof) if csv_path is not None else None
    try:
        for path in _progress(paths, len(paths), args, "img") if len(paths) > 1 else paths:
            try:
                image = read_image_rgb(path)
            except DataFileError as err:
                skips(f"{path}: {err.problem}")
                continue
            result = pipeline.frame(image, key=path.name, K=_intrinsics_for(args, *image.shape[:2]))
            frames += 1
            record = {"input": str(path), "backend": pipeline.predictor.backend_name, **_frame_record(result, pipeline),
                      "faces": [f.to_json() for f in result.faces]}
            (out_dir / f"{path.stem}.json").write_text(json.dumps(record, indent=1))
            if csv is not None:
                csv.write([path.name], result.faces)
            if not args.no_draw:
                write_image_rgb(out_dir / f"{path.stem}.jpg", draw_results(image, result.faces, result.K))
            if len(paths) == 1 or args.no_progress:
                print(f"{path}: {len(result.faces)} face(s)" + _console(result.faces))
    finally:
        if csv is not None:
            csv.close()
    return frames


def _run_video(path: Path, pipeline, args, out_dir: Path, skips: Skips) -> int:
    """Every decodable frame → the JSON, CSV and drawn MP4 of the video; returns the frames done."""
    from pyhpe.runtime.annotate import draw_results
    from pyhpe.runtime.frames import VideoFrames, VideoWriter
    from pyhpe.runtime.records import CsvWriter

    video = VideoFrames(path)
    pipeline.detector.check_input(width=video.width, height=video.height, n_frames=video.n_frames or None)
    K = _intrinsics_for(args, video.height, video.width)
    writer = None
    frames, total = [], 0
    record = {"input": str(path), "backend": pipeline.predictor.backend_name, "fps": video.fps,
              "detect_every": pipeline.options.detect_every if pipeline.tracker is not None else 1,
              "smoothing": pipeline.smoother is not None, "frames": frames}
    csv = CsvWriter(out_dir / f"{path.stem}.csv", ("frame", "time_s"), pipeline.sixdof)
    try:
        for index, rgb in _progress(video, video.n_frames, args, "frame"):
            if rgb is None:
                skips(f"{path}: frame {index} could not be decoded")
                continue
            time_s = index / video.fps
            result = pipeline.frame(rgb, index=index, time_s=time_s, K=K)
            if "intrinsics" not in record:
                record.update(_frame_record(result, pipeline))
            frames.append({"frame": index, "time_s": round(time_s, 6), "faces": [f.to_json() for f in result.faces]})
            csv.write([index, f"{time_s:.4f}"], result.faces)
            total += len(result.faces)
            if not args.no_draw:
                t0 = time.perf_counter()
                if writer is None:
                    writer = VideoWriter(out_dir / f"{path.stem}.mp4", video.fps, rgb.shape[1], rgb.shape[0])
                writer.write(draw_results(rgb, result.faces, result.K, show_ids=pipeline.tracker is not None))
                pipeline.times.add("draw", t0)
    finally:
        video.close()
        csv.close()
        if writer is not None:
            writer.close()
        record["unreadable_frames"] = video.unreadable
        (out_dir / f"{path.stem}.json").write_text(json.dumps(record))
    if not frames:
        raise ValueError(f"{path}: no frame could be read")
    ids = {f["id"] for fr in frames for f in fr["faces"]}
    print(f"{path}: {len(frames)} frame(s), {total} face(s), {len(ids)} face id(s)")
    return len(frames)


def _make_detector(args):
    from pyhpe.detect import make_detector

    name = args.detector or ("boxes" if args.boxes else "haar")
    if name == "boxes":
        if not args.boxes:
            raise ValueError("--detector boxes needs --boxes FILE")
        return make_detector("boxes", boxes=args.boxes)
    if args.boxes:
        raise ValueError(f"--boxes goes with --detector boxes, not {name}")
    if name == "yunet":
        if not args.detector_weights:
            raise ValueError("--detector yunet needs --detector-weights FILE (YuNet's .onnx)")
        return make_detector("yunet", weights=args.detector_weights, min_face=args.min_face,
                             max_side=args.detect_max_side)
    return make_detector(name, min_face=args.min_face, max_side=args.detect_max_side)


def _check_args(args) -> None:
    if args.detect_every < 1:
        raise ValueError(f"--detect-every must be >= 1, got {args.detect_every}")
    if args.detect_max_side < 32:
        raise ValueError(f"--detect-max-side must be >= 32 pixels, got {args.detect_max_side}")
    if args.focal is not None and not (np.isfinite(args.focal) and args.focal > 0):
        raise ValueError(f"--focal must be > 0, got {args.focal}")
    if args.focal is not None and args.intrinsics is not None:
        raise ValueError("give either --focal or --intrinsics, not both")
    if args.smooth_min_cutoff is not None and not (np.isfinite(args.smooth_min_cutoff) and args.smooth_min_cutoff > 0):
        raise ValueError(f"--smooth-min-cutoff must be > 0, got {args.smooth_min_cutoff}")
    if args.smooth_beta is not None and not (np.isfinite(args.smooth_beta) and args.smooth_beta >= 0):
        raise ValueError(f"--smooth-beta must be >= 0, got {args.smooth_beta}")


def _make_predictor(args):
    from pyhpe.runtime.predictor import Predictor

    checkpoint, backend = args.checkpoint, args.backend
    if backend is None:
        beside = ncnn_export_beside(checkpoint)
        if beside is not None:
            print(f"using the ncnn export beside the model: {beside} (--backend torch to use the weights)")
            checkpoint, backend = str(beside), "ncnn"
        else:
            backend = guess_backend(checkpoint)
    return Predictor(checkpoint, backend=backend, threads=args.threads, precision=args.precision)


def run(args: argparse.Namespace) -> int:
    from pyhpe.runtime.pipeline import FacePipeline, PipelineOptions

    # ncnn's OpenMP threads spin at each barrier; beside this command's decode and encode threads
    # on a 2-core machine that made ncnn's pose 3x slower at 2 threads (docs/predict.md). Passive
    # waiting, set before ncnn is first imported (its bundled libgomp reads it once); yours wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    src = Path(args.input)
    skips = Skips("predict", args.strict)
    start = time.perf_counter()
    try:
        if not src.exists():
            raise FileNotFoundError(f"input not found: {src}")
        _check_args(args)
        args.K = parse_intrinsics(args.intrinsics)
        is_video = src.is_file() and src.suffix.lower() in VIDEO_EXTS
        if src.is_file() and not is_video and src.suffix.lower() not in IMAGE_EXTS:
            raise ValueError(f"{src}: not an image ({', '.join(sorted(IMAGE_EXTS))}) or video "
                             f"({', '.join(sorted(VIDEO_EXTS))})")
        predictor = _make_predictor(args)
        detector = _make_detector(args)
        options = PipelineOptions(detect_every=args.detect_every, track=args.track, smooth=args.smooth and args.track,
                                  min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta,
                                  pose_frame=args.pose_frame, max_faces=args.max_faces)
        pipeline = FacePipeline(predictor, detector, options, video=is_video)
        out_dir = Path(args.output)
        out_dir.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            paths = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_EXTS)
            if not paths:
                raise ValueError(f"{src}: no images ({', '.join(sorted(IMAGE_EXTS))})")
            detector.check_input(names=[p.name for p in paths])
            n = _run_images(paths, pipeline, args, out_dir, skips, out_dir / f"{src.name}.csv")
        elif is_video:
            n = _run_video(src, pipeline, args, out_dir, skips)
        else:
            detector.check_input(names=[src.name])
            n = _run_images([src], pipeline, args, out_dir, skips, None)
    except (FileNotFoundError, ValueError, ImportError, RuntimeError, TypeError, OSError) as err:
        print(f"pyhpe predict: error: {err}", file=sys.stderr)
        return 1
    try:
        skips.require_some(n, "image or frame")
    except ValueError as err:
        print(f"pyhpe predict: error: {err}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    if n > 1:
        stages = ", ".join(f"{k} {v / n * 1000:.1f}" for k, v in pipeline.times.seconds.items())
        print(f"{n} frame(s) in {wall:.1f} s: {n / wall:.1f} frames/s end to end (ms per frame: {stages})")
    print(f"results in {out_dir}{skips.summary('unreadable input(s)')}")
    return skips.status()
