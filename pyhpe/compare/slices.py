"""Robustness slices of a test set: which images are hard, and the error on them vs the rest.

On synthetic heads the renderer labels each image with what it drew
(``Sample.extra["factors"]``, pyhpe.data.synthetic.render.scene_factors): occluders, blur, sensor
noise, glasses. On real data there are no such labels, so the slices are yaw bins. The renderer
draws no facial expression, so there is no expression slice; glasses (an identity attribute) is
the identity shift it can show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXTREME_YAW_DEG = 60.0
NOISY_SIGMA = 4.0  # grey levels: the upper half of the renderer's 0-8 range


@dataclass(frozen=True)
class Slice:
    """A named split of the test set into ``hard`` and ``rest`` (boolean masks of equal length)."""

    name: str
    hard_label: str
    rest_label: str
    hard: np.ndarray
    rest: np.ndarray


def factor_slices(factors: list[dict], yaw_deg: np.ndarray) -> list[Slice]:
    """The synthetic slices: occluded, extreme yaw (|yaw| > 60°), degraded (blurred or noisy),
    glasses (identity shift), each against the images without it."""
    occluders = np.array([f["occluders"] for f in factors])
    blur = np.array([f["blur_sigma"] for f in factors])
    noise = np.array([f["noise_sigma"] for f in factors])
    glasses = np.array([bool(f["glasses"]) for f in factors])
    extreme = np.abs(yaw_deg) > EXTREME_YAW_DEG
    degraded = (blur > 0) | (noise > NOISY_SIGMA)
    return [
        Slice("occlusion", "occluded", "not occluded", occluders > 0, occluders == 0),
        Slice("extreme yaw", f"|yaw| > {EXTREME_YAW_DEG:g}°", f"|yaw| ≤ {EXTREME_YAW_DEG:g}°", extreme, ~extreme),
        Slice("degradation", f"blurred or noise σ > {NOISY_SIGMA:g}", "clean", degraded, ~degraded),
        Slice("glasses (identity)", "glasses", "no glasses", glasses, ~glasses),
    ]


def yaw_slices(yaw_deg: np.ndarray) -> list[Slice]:
    """Real data: |yaw| beyond 30° and beyond 60°, each against the frontal bin |yaw| ≤ 30°."""
    a = np.abs(yaw_deg)
    frontal = a <= 30.0
    return [Slice("yaw 30-60°", "30° < |yaw| ≤ 60°", "|yaw| ≤ 30°", (a > 30.0) & (a <= 60.0), frontal),
            Slice("yaw > 60°", "|yaw| > 60°", "|yaw| ≤ 30°", a > 60.0, frontal)]


def slices_for(factors: list[dict | None], yaw_deg: np.ndarray) -> list[Slice]:
    """Factor slices when every image carries factors, else yaw slices."""
    if factors and all(f is not None for f in factors):
        return factor_slices(factors, yaw_deg)  # type: ignore[arg-type]
    return yaw_slices(yaw_deg)


def slice_errors(sl: Slice, mae: np.ndarray, geodesic: np.ndarray) -> dict:
    """Mean MAE and geodesic error on each side of a slice, their counts and the ratio hard / rest
    (the robustness measure: how much harder the slice is for this model, independent of the
    model's overall level); NaN where a side is empty."""
    def side(mask: np.ndarray) -> dict:
        n = int(mask.sum())
        return {"n": n, "mae": float(mae[mask].mean()) if n else float("nan"),
                "geodesic": float(geodesic[mask].mean()) if n else float("nan")}

    hard, rest = side(sl.hard), side(sl.rest)
    ratio = hard["mae"] / rest["mae"] if hard["n"] and rest["n"] and rest["mae"] > 0 else float("nan")
    return {"slice": sl.name, "hard_label": sl.hard_label, "rest_label": sl.rest_label,
            "hard": hard, "rest": rest, "mae_ratio": ratio}


def yaw_curve(yaw_deg: np.ndarray, geodesic: np.ndarray, width: float = 15.0) -> dict:
    """Mean geodesic error per yaw bin of ``width`` degrees (bin centres, means, counts)."""
    lo = -90.0 if yaw_deg.size == 0 else min(-90.0, float(np.floor(yaw_deg.min() / width) * width))
    hi = 90.0 if yaw_deg.size == 0 else max(90.0, float(np.ceil(yaw_deg.max() / width) * width))
    edges = np.arange(lo, hi + width, width)
    idx = np.clip(np.digitize(yaw_deg, edges) - 1, 0, len(edges) - 2)
    centres, means, counts = [], [], []
    for b in range(len(edges) - 1):
        mask = idx == b
        if mask.any():
            centres.append(float((edges[b] + edges[b + 1]) / 2))
            means.append(float(geodesic[mask].mean()))
            counts.append(int(mask.sum()))
    return {"yaw": centres, "geodesic": means, "n": counts}
