"""``pyhpe predict`` on video: end-to-end frame rate, and pose jitter with and without smoothing.

Speed: a synthetic clip (default 1280x720, 100 frames, two heads moving and turning,
pyhpe.data.synthetic.video) written as MP4 and run through ``pyhpe predict`` itself (decode
thread, detection every N frames, tracking, one batched forward for both faces, the camera-frame
pose, smoothing, drawing, MP4 + JSON + CSV out). The offline Haar detector finds only part of
the stylised synthetic heads, so the run takes the true boxes from a boxes file (every face is
posed on every frame) and the Haar detector's cost is measured separately on the same frames
(one call per detection round) and added: frames/s = frames / (predict's wall time + Haar time).

Jitter: a still head (fresh sensor grain on every frame, so each frame is a new guess), posed by
the model on its true box; the std of the geodesic change between consecutive frames, with and
without smoothing, and the mean error to the true pose (meaningful with a trained model,
``--checkpoint``). Every run also records this machine's fp32 GEMM peak per core
(pyhpe.bench.timing.gemm_peak_flops), the yardstick for the frame rates. Writes results.json and
table.md to the run directory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

DESCRIPTION = __doc__


def _boxes_file(clip, path: Path) -> Path:
    h, w = clip.frames[0].shape[:2]
    frames = {str(i): [[*map(float, lab["box"]), 1.0] for lab in labels] for i, labels in enumerate(clip.labels) if labels}
    path.write_text(json.dumps({"width": w, "height": h, "frames": frames}))
    return path


def default_model(out: Path) -> Path:
    """A RepNeXt-M4 6DRepNet (random weights: speed only) with its ncnn export beside it."""
    import torch

    from pyhpe.cli import main
    from pyhpe.models import create_model
    from pyhpe.models.io import save_model

    model = out / "repnext_m4.safetensors"
    if not model.with_suffix(".ncnn.param").is_file():
        torch.manual_seed(0)
        save_model(create_model("sixdrepnet_repnext_m4").eval(), model, name="sixdrepnet_repnext_m4", input_size=224)
        if main(["export", "--checkpoint", str(model), "--format", "ncnn", "--no-fused",
                 "--out", str(model.with_suffix(".ncnn.param"))]) != 0:
            raise RuntimeError("the ncnn export of the speed model failed")
    return model


def speed_clip(width: int, height: int, frames: int):
    from pyhpe.data.synthetic.video import HeadPath, render_clip

    paths = [HeadPath(identity=1, start=(0.3, 0.5, 0.9, 0, -20, 0), end=(0.45, 0.55, 0.9, 10, 60, 0)),
             HeadPath(identity=2, start=(0.72, 0.45, 1.1, 0, 30, 5), end=(0.65, 0.45, 1.0, -5, -45, 0))]
    return render_clip(paths, n_frames=frames, width=width, height=height, hfov_deg=70.0, fps=25.0)


def measure_speed(args, out: Path) -> dict:
    from pyhpe.cli import main
    from pyhpe.detect import box_iou, make_detector
    from pyhpe.runtime.frames import write_video

    clip = speed_clip(args.width, args.height, args.frames)
    video = write_video(out / "speed.mp4", clip.frames, fps=clip.fps)
    boxes = _boxes_file(clip, out / "speed_boxes.json")
    model = Path(args.checkpoint) if args.checkpoint else default_model(out)
    argv = ["predict", str(video), "--checkpoint", str(model), "--boxes", str(boxes), "--threads", str(args.threads),
            "--detect-max-side", str(args.detect_max_side),
            "--detect-every", str(args.detect_every), "--out", str(out / "predict"), "--no-progress"]
    if args.backend:
        argv += ["--backend", args.backend]
    cpu0, t0 = time.process_time(), time.perf_counter()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = main(argv)
    if status != 0:  # predict's own one-line error, as this command's
        lines = [ln for ln in stderr.getvalue().splitlines() if ln.strip()]
        raise SystemExit(lines[-1].split(": error: ", 1)[-1] if lines else "pyhpe predict failed on the speed clip")
    sys.stderr.write(stderr.getvalue())
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    record = json.loads((out / "predict" / "speed.json").read_text())
    haar = make_detector("haar", min_face=args.min_face, max_side=args.detect_max_side)
    rounds = list(range(0, args.frames, args.detect_every))
    found = 0
    t_haar = time.perf_counter()
    results = [haar(clip.frames[i]) for i in rounds]
    t_haar = time.perf_counter() - t_haar
    for i, dets in zip(rounds, results):
        truth = np.array([lab["head_box"] for lab in clip.labels[i]])
        if len(dets):
            found += int((box_iou(truth, dets.boxes).max(axis=1) >= 0.3).sum())
    n = len(record["frames"])
    return {"frames": n, "width": args.width, "height": args.height, "faces_per_frame": 2,
            "backend": record["backend"], "model": str(model), "threads": args.threads,
            "detect_every": args.detect_every, "detect_max_side": args.detect_max_side, "predict_wall_s": wall, "predict_cpu_s": cpu,
            "fps_with_true_boxes": n / wall, "haar_ms_per_call": 1000 * t_haar / len(rounds),
            "haar_found": f"{found}/{2 * len(rounds)}", "fps": n / (wall + t_haar),
            "command": " ".join(["pyhpe", *argv])}


def measure_jitter(args, out: Path) -> dict:
    from pyhpe.data.synthetic.noise import add_grain
    from pyhpe.data.synthetic.video import HeadPath, render_clip
    from pyhpe.detect import make_detector
    from pyhpe.metrics.rotation import geodesic_errors_deg
    from pyhpe.runtime import Predictor
    from pyhpe.runtime.pipeline import FacePipeline, PipelineOptions
    from pyhpe.runtime.predict import guess_backend

    still = HeadPath(identity=4, start=(0.5, 0.5, 0.8, 5, 25, 0))
    clip = render_clip([still], n_frames=args.jitter_frames, width=640, height=480, fps=25.0)
    rng = np.random.default_rng(0)
    frames = [add_grain(rng, f, args.grain) for f in clip.frames]
    boxes = make_detector("boxes", boxes=_boxes_file(clip, out / "still_boxes.json"))
    model = args.checkpoint or str(default_model(out))
    backend = args.backend or guess_backend(model)
    result = {"model": model, "backend": backend, "frames": len(frames), "grain_sigma": args.grain}
    truth = clip.labels[0][0]["R"]
    for smooth in (False, True):
        pipeline = FacePipeline(Predictor(model, backend=backend, threads=args.threads), boxes,
                                PipelineOptions(detect_every=1, smooth=smooth), video=True)
        Rs = np.array([pipeline.frame(f, index=i, time_s=i / clip.fps).faces[0].R for i, f in enumerate(frames)])
        steps = geodesic_errors_deg(Rs[1:], Rs[:-1]).numpy()[10:]  # after the filter has settled
        key = "smoothed" if smooth else "raw"
        result[f"{key}_jitter_deg"] = float(np.std(steps))
        result[f"{key}_mean_step_deg"] = float(np.mean(steps))
        result[f"{key}_error_deg"] = float(geodesic_errors_deg(Rs[10:], np.broadcast_to(truth, Rs[10:].shape)).mean())
    result["jitter_ratio"] = result["raw_jitter_deg"] / max(result["smoothed_jitter_deg"], 1e-12)
    return result


def markdown(r: dict) -> str:
    lines = []
    if "speed" in r:
        s = r["speed"]
        lines += [(f"Speed: {s['width']}x{s['height']}, {s['frames']} frames, 2 faces, {s['backend']}, "
                  f"{s['threads']} thread(s), detection every {s['detect_every']} frames (Haar at "
                  f"{s['detect_max_side']} px)"),
                  "", "| frames/s end to end | with true boxes only | Haar ms per call (found) | predict CPU s |",
                  "|---|---|---|---|",
                  (f"| **{s['fps']:.1f}** | {s['fps_with_true_boxes']:.1f} | {s['haar_ms_per_call']:.1f} "
                  f"({s['haar_found']}) | {s['predict_cpu_s']:.1f} |"), ""]
    if "jitter" in r:
        j = r["jitter"]
        lines += [(f"Jitter: a still head, {j['frames']} frames, grain σ {j['grain_sigma']} grey levels, "
                  f"{Path(j['model']).name} on {j['backend']}"), "",
                  "| | frame-to-frame change std (°) | mean change (°) | mean error to truth (°) |",
                  "|---|---|---|---|",
                  f"| raw | {j['raw_jitter_deg']:.3f} | {j['raw_mean_step_deg']:.3f} | {j['raw_error_deg']:.2f} |",
                  (f"| smoothed | {j['smoothed_jitter_deg']:.3f} | {j['smoothed_mean_step_deg']:.3f} | "
                  f"{j['smoothed_error_deg']:.2f} |"), "", f"jitter ratio raw / smoothed: {j['jitter_ratio']:.1f}×"]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyhpe.cli import positive_int

    parser.add_argument("--checkpoint", help="model file (default: a random-weight RepNeXt-M4 with its ncnn "
                        "export beside it, made in the run directory; jitter needs a trained model)")
    parser.add_argument("--backend", choices=("torch", "onnxruntime", "ncnn"), default=None,
                        help="default: as pyhpe predict chooses")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--frames", type=positive_int, default=100, help="speed clip length")
    parser.add_argument("--width", type=positive_int, default=1280)
    parser.add_argument("--height", type=positive_int, default=720)
    parser.add_argument("--detect-every", type=positive_int, default=5)
    parser.add_argument("--min-face", type=positive_int, default=40)
    parser.add_argument("--detect-max-side", type=positive_int, default=640, help="Haar on a copy this long (px)")
    parser.add_argument("--jitter-frames", type=positive_int, default=60)
    parser.add_argument("--grain", type=float, default=6.0, help="sensor grain std on the still head (grey levels)")
    parser.add_argument("--only", choices=("speed", "jitter"), help="run one part")
    parser.add_argument("--out", type=Path, help="run directory (default runs/bench-predict-TIME)")


def run(args: argparse.Namespace) -> int:
    from pyhpe.models.stats import cpu_model

    out = args.out or Path("runs") / time.strftime("bench-predict-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    from pyhpe.bench.timing import gemm_peak_flops

    r = {"cpu": cpu_model() or platform.machine(), "load_before": os.getloadavg()[0],
         "gemm_fp32_gflops_per_core": gemm_peak_flops() / 1e9}
    if args.only in (None, "speed"):
        r["speed"] = measure_speed(args, out)
    if args.only in (None, "jitter"):
        r["jitter"] = measure_jitter(args, out)
    r["load_after"] = os.getloadavg()[0]
    (out / "results.json").write_text(json.dumps(r, indent=1))
    table = (f"CPU: {r['cpu']} (fp32 GEMM {r['gemm_fp32_gflops_per_core']:.1f} GFLOP/s per core); load average "
             f"{r['load_before']:.2f} → {r['load_after']:.2f}\n\n" + markdown(r))
    (out / "table.md").write_text(table)
    print(table + f"run directory: {out}")
    return 0
