"""Configuration of the synthetic head renderer: every random range in one dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class SynthConfig:
    """Ranges the renderer samples from (uniformly unless stated). Angles in degrees, lengths in metres.

    ``yaw``, ``pitch``, ``roll``: Euler ranges (pyhpe convention, R = Rz(roll) Ry(yaw) Rx(pitch)).
    ``depth``: t_z of the head origin. ``head_fraction``: head height in pixels / image size, which
    sets the focal length f = fraction * size * depth / head height (a crop of a larger camera image).
    ``center_jitter``: head-origin and principal-point offsets from the image centre, as a fraction
    of the image size. ``n_lat`` x ``n_lon``: the head grid (the dense vertex count follows).
    ``identity_repeat``: consecutive samples i with the same i // identity_repeat show the same
    person (new pose, light, background...); > 1 is faster when samples are made in order.
    """

    size: int = 224
    yaw: tuple[float, float] = (-90.0, 90.0)
    pitch: tuple[float, float] = (-60.0, 60.0)
    roll: tuple[float, float] = (-45.0, 45.0)
    depth: tuple[float, float] = (0.3, 1.5)
    head_fraction: tuple[float, float] = (0.45, 0.75)
    center_jitter: float = 0.08
    principal_jitter: float = 0.05
    n_lat: int = 20
    n_lon: int = 32
    ambient: tuple[float, float] = (0.25, 0.6)
    diffuse: tuple[float, float] = (0.35, 0.85)
    glasses_prob: float = 0.25
    occluder_prob: float = 0.3
    blur_prob: float = 0.3
    blur_sigma: tuple[float, float] = (0.4, 1.4)
    noise_sigma: tuple[float, float] = (0.0, 8.0)
    identity_repeat: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):  # accept lists (e.g. read back from synth_config.json)
            if isinstance(getattr(self, f.name), list):
                setattr(self, f.name, tuple(getattr(self, f.name)))
        if not isinstance(self.size, int) or self.size < 32:
            raise ValueError(f"size must be an int >= 32, got {self.size!r}")
        if not isinstance(self.identity_repeat, int) or self.identity_repeat < 1:
            raise ValueError(f"identity_repeat must be an int >= 1, got {self.identity_repeat!r}")
        if self.n_lat < 8 or self.n_lon < 12:
            raise ValueError(f"the head grid needs n_lat >= 8 and n_lon >= 12, got {self.n_lat}x{self.n_lon}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and (len(value) != 2 or value[0] > value[1]):
                raise ValueError(f"{f.name} must be a (low, high) pair with low <= high, got {value}")
        if self.depth[0] <= 0.15:
            raise ValueError(f"depth must stay beyond 0.15 m (the head would cross the camera), got {self.depth}")
        for name in ("glasses_prob", "occluder_prob", "blur_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {p}")
        if not 0 < self.head_fraction[0]:
            raise ValueError(f"head_fraction must be positive, got {self.head_fraction}")

    def to_dict(self) -> dict:
        """Plain dict (JSON-friendly) of the configuration."""
        return asdict(self)
