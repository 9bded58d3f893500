"""PNG figures for run directories: training curves, error versus yaw, a grid of predictions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(steps: list[dict], epochs: list[dict], path: str | os.PathLike) -> Path:
    """Loss (per step, with a moving average) and learning rate; validation MAE per epoch."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    if steps:
        s = np.array([r["step"] for r in steps], dtype=float)
        loss = np.array([r["loss"] for r in steps], dtype=float)
        axes[0].plot(s, np.degrees(loss), alpha=0.3, label="step")
        k = max(1, len(loss) // 50)
        if len(loss) >= k:
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            axes[0].plot(s[k - 1:], np.degrees(smooth), label=f"mean of {k}")
        axes[0].set(xlabel="step", ylabel="geodesic loss (deg)", title="training loss")
        axes[0].legend()
        axes[1].plot(s, [r["lr"] for r in steps])
        axes[1].set(xlabel="step", ylabel="learning rate", title="schedule")
    keys = sorted({k for r in epochs for k in r if k.endswith(("/mae", "/geodesic"))})
    for key in keys:
        pts = [(r["epoch"], r[key]) for r in epochs if r.get(key) not in (None, "")]
        if pts:
            x, y = zip(*pts)
            axes[2].plot(x, [float(v) for v in y], marker="o", label=key)
    axes[2].set(xlabel="epoch", ylabel="degrees", title="validation")
    if keys:
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def error_vs_yaw(yaw_gt: np.ndarray, errors: dict[str, np.ndarray], path: str | os.PathLike,
                 title: str = "", bin_width: float = 10.0) -> Path:
    """Scatter of per-sample errors against the label yaw, with the binned mean per error type."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    yaw_gt = np.asarray(yaw_gt, dtype=float)
    lo, hi = np.floor(yaw_gt.min() / bin_width) * bin_width, np.ceil(yaw_gt.max() / bin_width) * bin_width
    edges = np.arange(lo, hi + bin_width, bin_width) if hi > lo else np.array([lo, lo + bin_width])
    centres = (edges[:-1] + edges[1:]) / 2
    for name, err in errors.items():
        err = np.asarray(err, dtype=float)
        ax.scatter(yaw_gt, err, s=4, alpha=0.25)
        idx = np.clip(np.digitize(yaw_gt, edges) - 1, 0, len(centres) - 1)
        means = [err[idx == i].mean() if np.any(idx == i) else np.nan for i in range(len(centres))]
        ax.plot(centres, means, marker="o", label=f"{name} (bin mean)")
    ax.set(xlabel="ground-truth yaw (deg)", ylabel="error (deg)", title=title or "error vs yaw")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _tiles(n: int, cols: int, tile_w: float, tile_h: float):
    """(plt, fig, axes) of a grid of n image tiles, every axis frame off."""
    plt = _plt()
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * tile_w, rows * tile_h))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    return plt, fig, axes


def _head_axes(ax, centre_pred, tips_pred, centre_gt, tips_gt) -> None:
    """True (thin) then predicted (thick) head axes: x red, y green, z blue, from a centre (2,)
    to three tips (3, 2) in pixels."""
    for c, tips, lw, alpha in ((centre_gt, tips_gt, 1.0, 0.6), (centre_pred, tips_pred, 2.2, 1.0)):
        for j, colour in enumerate(("red", "lime", "blue")):
            ax.plot([c[0], tips[j][0]], [c[1], tips[j][1]], color=colour, lw=lw, alpha=alpha)


def _save(plt, fig, title: str, path: str | os.PathLike) -> Path:
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def prediction_grid(images: np.ndarray, R_pred: np.ndarray, R_gt: np.ndarray, errors: np.ndarray,
                    path: str | os.PathLike, cols: int = 8) -> Path:
    """Tiles of RGB uint8 images with predicted (solid) and true (thin) head axes, columns of R
    drawn orthographically from the centre (x red, y green, z blue; image x right, y down)."""
    n = len(images)
    plt, fig, axes = _tiles(n, cols, 1.6, 1.75)
    for i in range(n):
        img = images[i]
        h, w = img.shape[:2]
        ax = axes[i]
        ax.imshow(img)
        c, L = np.array([w / 2, h / 2]), 0.35 * min(h, w)
        _head_axes(ax, c, c + L * R_pred[i][:2].T, c, c + L * R_gt[i][:2].T)
        ax.set_title(f"{errors[i]:.1f}°", fontsize=8)
    return _save(plt, fig, "predicted (thick) vs true (thin) axes; title: geodesic error", path)


def sixdof_grid(images: list[np.ndarray], mesh_px: np.ndarray, axes_pred: np.ndarray,
                axes_gt: np.ndarray, centre_pred: np.ndarray, centre_gt: np.ndarray,
                z_pred: np.ndarray, z_gt: np.ndarray, path: str | os.PathLike, cols: int = 6) -> Path:
    """Tiles of crops with the predicted dense mesh projected (dots), predicted (thick) and true
    (thin) head axes drawn in perspective from the projected head centres (``axes_*`` (N, 3, 2)
    axis tip pixels, ``centre_*`` (N, 2)), and predicted vs true distance in the title."""
    n = len(images)
    plt, fig, axes = _tiles(n, cols, 2.0, 2.2)
    for i in range(n):
        ax = axes[i]
        h, w = images[i].shape[:2]
        ax.imshow(images[i])
        ax.scatter(mesh_px[i][:, 0], mesh_px[i][:, 1], s=2.0, c="cyan", alpha=0.7, linewidths=0)
        _head_axes(ax, centre_pred[i], axes_pred[i], centre_gt[i], axes_gt[i])
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_title(f"z {100 * z_pred[i]:.0f} / {100 * z_gt[i]:.0f} cm", fontsize=8)
    return _save(plt, fig, "predicted mesh (dots), predicted (thick) vs true (thin) axes; "
                           "title: predicted / true distance", path)
