"""Random identities: head shape, face proportions and colours of one synthetic person.

Facial positions are given on the head's (theta, phi) parameter sphere (see :mod:`.mesh`):
theta is the polar angle from the top of the head (pi/2 = eye level), phi the longitude with
phi = 0 at the front and phi > 0 toward the head's +x side (the image right of a frontal face).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Skin tones from light to dark (RGB); an identity interpolates between neighbours.
_SKIN_TONES = np.array(
    [[250, 221, 196], [234, 192, 160], [214, 166, 130], [184, 135, 98], [141, 95, 65], [96, 62, 42], [66, 44, 32]],
    dtype=np.float64,
)
_HAIR_COLOURS = np.array(
    [[20, 16, 14], [52, 34, 22], [96, 64, 38], [150, 110, 62], [205, 170, 110], [140, 60, 30], [150, 150, 150], [225, 222, 215]],
    dtype=np.float64,
)
_IRIS_COLOURS = np.array([[70, 45, 25], [40, 28, 18], [60, 100, 140], [70, 110, 70], [110, 90, 60]], dtype=np.float64)


@dataclass
class Identity:
    """Shape and appearance parameters of one synthetic head (metres, radians, RGB 0-255)."""

    ax: float  # half width (ear to ear)
    ay: float  # half height (chin to crown)
    az_front: float  # centre to face plane
    az_back: float  # centre to back of the skull
    jaw_taper: float
    chin_forward: float
    eye_theta: float
    eye_phi: float
    eye_w: float  # half width of an eye, radians of phi
    eye_h: float  # half height of an eye, radians of theta
    brow_gap: float  # brow above the eye centre (theta)
    brow_thick: float
    nose_bridge_theta: float
    nose_tip_theta: float
    nose_len: float  # protrusion of the tip (m)
    nose_w: float  # half width at the nostrils (phi)
    mouth_theta: float
    mouth_w: float
    lip_h: float
    chin_theta: float
    ear_theta: float
    ear_size: float
    ear_out: float
    hair_front: float  # hairline theta at the front
    hair_back: float  # hairline theta at the back
    hair_thick: float
    skin: np.ndarray
    hair: np.ndarray
    lips: np.ndarray
    iris: np.ndarray
    gaze: np.ndarray  # iris offset in eye half-sizes (x, y)
    beard: float  # 0 = none, else opacity of a beard/stubble region
    glasses: bool
    frame: np.ndarray


_FRAME_COLOURS = np.array([[15, 15, 15], [60, 40, 30], [150, 150, 160], [120, 20, 20]], float)


class _Draws:
    """Uniform draws served from blocks of ``rng.random``: the same numbers, in the same order, as
    one ``rng.uniform`` / ``rng.random`` call per value (both are low + (high - low) * a double), at
    a fraction of the per-call cost. ``take(n)`` must fetch exactly what is used next."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.left = rng, []

    def take(self, n: int) -> None:
        if self.left:
            raise RuntimeError(f"{len(self.left)} draws fetched but not used")
        self.left = self.rng.random(n).tolist()[::-1]

    def random(self) -> float:
        return self.left.pop()

    def u(self, low: float, high: float) -> float:
        return low + (high - low) * self.left.pop()

    def colour(self, palette: np.ndarray, jitter: float) -> np.ndarray:
        """A palette colour interpolated between neighbours, times a per-channel jitter (4 draws)."""
        x = self.u(0, len(palette) - 1)
        i = int(x)
        j = min(i + 1, len(palette) - 1)
        c = palette[i] + (x - i) * (palette[j] - palette[i])
        return np.minimum(np.maximum(c * np.array([self.u(1 - jitter, 1 + jitter) for _ in range(3)]), 0), 255)


def sample_identity(rng: np.random.Generator, glasses_prob: float = 0.25) -> Identity:
    """A random identity; every draw comes from ``rng`` (deterministic per generator state)."""
    d = _Draws(rng)
    u = d.u
    d.take(35)  # everything up to the back hairline
    scale = u(0.9, 1.1)
    skin = d.colour(_SKIN_TONES, 0.06)
    hair = d.colour(_HAIR_COLOURS, 0.1)
    bald = d.random() < 0.1
    eye_theta = np.pi / 2 + u(-0.04, 0.05)
    nose_tip = eye_theta + u(0.3, 0.4)
    mouth = nose_tip + u(0.16, 0.22)
    shape = {
        "ax": 0.074 * scale * u(0.92, 1.08),
        "ay": 0.115 * scale * u(0.94, 1.06),
        "az_front": 0.088 * scale * u(0.93, 1.07),
        "az_back": 0.102 * scale * u(0.92, 1.08),
        "jaw_taper": u(0.15, 0.4),
        "chin_forward": u(0.018, 0.03) * scale,
        "eye_theta": eye_theta,
        "eye_phi": u(0.36, 0.44),
        "eye_w": u(0.13, 0.17),
        "eye_h": u(0.045, 0.065),
        "brow_gap": u(0.13, 0.19),
        "brow_thick": u(0.025, 0.05),
        "nose_bridge_theta": eye_theta - u(0.02, 0.08),
        "nose_tip_theta": nose_tip,
        "nose_len": u(0.022, 0.034) * scale,
        "nose_w": u(0.14, 0.2),
        "mouth_theta": mouth,
        "mouth_w": u(0.25, 0.34),
        "lip_h": u(0.035, 0.06),
        "chin_theta": min(mouth + u(0.2, 0.26), 0.93 * np.pi),
        "ear_theta": eye_theta + u(0.1, 0.16),
        "ear_size": u(0.027, 0.034) * scale,
        "ear_out": u(0.008, 0.018),
        "hair_front": u(0.12, 0.22) * np.pi if bald else u(0.24, 0.34) * np.pi,
        "hair_back": u(0.6, 0.85) * np.pi,
    }
    d.take(8 if bald else 9)  # hair thickness (not for the bald), lips, iris, gaze, beard or not
    hair_thick = 0.0 if bald else u(0.004, 0.018)
    lips = np.minimum(np.maximum(skin * np.array([0.85, 0.58, 0.58]) * u(0.85, 1.05), 0), 255)
    iris = d.colour(_IRIS_COLOURS, 0.15)
    gaze = np.array([u(-0.35, 0.35), u(-0.2, 0.2)])
    has_beard = d.random() < 0.15
    d.take(6 if has_beard else 5)  # beard opacity, glasses or not, frame colour
    beard = u(0.25, 0.55) if has_beard else 0.0
    glasses = bool(d.random() < glasses_prob)
    frame = d.colour(_FRAME_COLOURS, 0.2)
    return Identity(**shape, hair_thick=hair_thick, skin=skin, hair=hair, lips=lips, iris=iris, gaze=gaze,
                    beard=beard, glasses=glasses, frame=frame)
