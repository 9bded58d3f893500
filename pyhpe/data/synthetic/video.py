"""Synthetic video clips: one or more heads moving and turning in a wide camera frame.

The still renderer (:mod:`pyhpe.data.synthetic.render`) draws one head centred in a square image.
Tracking, smoothing and the camera-frame pose of ``pyhpe predict`` need more: heads at any place
of a wide frame, several at once, frames without a head, poses that change smoothly. A clip is
described by :class:`HeadPath` s (a start and an end state, interpolated linearly over the frames
where the head is shown) and rendered far to near onto one background with exact labels.

```python
clip = render_clip([HeadPath(identity=1, start=(0.3, 0.5, 1.0, 0, 0, 0), end=(0.7, 0.5, 1.0, 0, 80, 0))],
                   n_frames=30, width=640, height=360)
clip.frames[i]                      # (H, W, 3) uint8 RGB
clip.labels[i]                      # [{"head": 0, "R", "t", "euler", "box", "head_box", "landmarks"}, ...]
pyhpe.runtime.frames.write_video("clip.mp4", clip.frames, fps=clip.fps)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pyhpe.data.synthetic.assets import cached_assets
from pyhpe.data.synthetic.background import random_background
from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.data.synthetic.render import Scene, render_scene
from pyhpe.geometry.camera import centered_intrinsics
from pyhpe.geometry.rotation import euler_to_matrix_scalar

VIDEO_STREAM = 7  # first word of a clip's seed sequence: its identities differ from the still streams'


def wide_intrinsics(width: int, height: int, hfov_deg: float = 70.0) -> np.ndarray:
    """K (3, 3) of a ``width``×``height`` camera with horizontal field of view ``hfov_deg``, square
    pixels and the principal point at the image centre ((W − 1)/2, (H − 1)/2)."""
    if not 1.0 < hfov_deg < 179.0:
        raise ValueError(f"hfov_deg must lie in (1, 179), got {hfov_deg}")
    return centered_intrinsics(height, width, (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0))


def translation_at_pixel(K: np.ndarray, u: float, v: float, depth: float) -> np.ndarray:
    """The head origin t (metres, camera frame) that projects to pixel (u, v) at depth ``depth``."""
    return depth * (np.linalg.inv(K) @ np.array([u, v, 1.0]))


@dataclass
class HeadPath:
    """One head of a clip. States are (u, v, depth, pitch, yaw, roll): the head origin's pixel as
    fractions of the frame width and height, its depth in metres and its camera-frame Euler
    angles in degrees (pyhpe's convention); interpolated linearly from ``start`` to ``end`` over
    the frames ``shown`` = [first, stop) (None: the whole clip)."""

    identity: int
    start: Sequence[float]
    end: Sequence[float] | None = None
    shown: tuple[int, int] | None = None

    def state(self, frame: int, n_frames: int) -> np.ndarray | None:
        first, stop = self.shown if self.shown is not None else (0, n_frames)
        if not first <= frame < stop:
            return None
        a = np.asarray(self.start, dtype=np.float64)
        b = a if self.end is None else np.asarray(self.end, dtype=np.float64)
        w = 0.0 if stop - first <= 1 else (frame - first) / (stop - 1 - first)
        return (1.0 - w) * a + w * b


@dataclass
class Clip:
    """Rendered frames with, per frame, one label dict per shown head (see the module docstring)."""

    frames: list[np.ndarray]
    labels: list[list[dict]]
    K: np.ndarray
    fps: float
    config: SynthConfig = field(repr=False, default_factory=SynthConfig)


def _head_scene(assets, state: np.ndarray, K: np.ndarray, background: np.ndarray, shading: dict) -> Scene:
    u, v, depth, pitch, yaw, roll = state.tolist()
    h, w = background.shape[:2]
    euler = np.array([pitch, yaw, roll])
    return Scene(assets=assets, euler=euler, R=euler_to_matrix_scalar(pitch, yaw, roll),
                 t=translation_at_pixel(K, u * w, v * h, depth), K=K, background=background,
                 occluders=0, blur_sigma=0.0, noise_sigma=0.0, detail_seed=0, **shading)


def _label(index: int, sample) -> dict:
    mask = sample.extra["head_mask"]
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    head_box = (np.array([cols[0], rows[0], cols[-1], rows[-1]], float) if len(rows)
                else np.full(4, np.nan))
    return {"head": index, "R": sample.R, "t": sample.t, "euler": sample.euler, "box": sample.bbox,
            "head_box": head_box, "landmarks": sample.landmarks}


def render_clip(paths: Sequence[HeadPath], n_frames: int, width: int = 640, height: int = 360,
                hfov_deg: float = 70.0, fps: float = 25.0, seed: int = 0,
                config: SynthConfig | None = None) -> Clip:
    """Render ``n_frames`` frames of the heads in ``paths`` on one random background (seeded by
    ``seed``), lit by one fixed light; heads are drawn far to near, so a nearer head hides a
    farther one. Deterministic in (paths, sizes, seed)."""
    if n_frames < 1 or width < 32 or height < 32:
        raise ValueError(f"a clip needs n_frames >= 1 and a frame of at least 32x32, got {n_frames}, {width}x{height}")
    cfg = config or SynthConfig()
    rng = np.random.default_rng([VIDEO_STREAM, int(seed)])
    side = max(width, height)
    background = np.ascontiguousarray(random_background(rng, side)[:height, :width])
    light = np.array([0.3, -0.4, -1.0])
    shading = {"light": light / np.linalg.norm(light), "ambient": 0.45, "diffuse": 0.6}
    K = wide_intrinsics(width, height, hfov_deg)
    assets = [cached_assets(VIDEO_STREAM * 1000 + int(seed), p.identity, cfg.n_lat, cfg.n_lon, cfg.glasses_prob)
              for p in paths]
    frames, labels = [], []
    for f in range(n_frames):
        shown = [(i, s) for i, p in enumerate(paths) if (s := p.state(f, n_frames)) is not None]
        shown.sort(key=lambda item: -item[1][2])  # far to near
        image, frame_labels = background, []
        for i, state in shown:
            sample = render_scene(_head_scene(assets[i], state, K, image, shading), cfg)
            image = sample.image
            frame_labels.append(_label(i, sample))
        frames.append(image.copy() if image is background else image)
        labels.append(sorted(frame_labels, key=lambda d: d["head"]))
    return Clip(frames=frames, labels=labels, K=K, fps=float(fps), config=cfg)

