"""Run a pose model over a dataset and score it (shared by train, eval and demo)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pyhpe.metrics import matrix_to_euler_deg, pose_report


@dataclass
class Predictions:
    R_pred: torch.Tensor  # (N, 3, 3)
    R_gt: torch.Tensor  # (N, 3, 3)
    euler_gt: torch.Tensor  # (N, 3) label (pitch, yaw, roll) degrees

    def report(self) -> dict:
        return pose_report(self.R_pred, self.R_gt, self.euler_gt)

    @property
    def euler_pred(self) -> torch.Tensor:
        return matrix_to_euler_deg(self.R_pred)


@torch.inference_mode()
def predict_dataset(model: torch.nn.Module, dataset: Dataset, device: torch.device | str = "cpu",
                    batch_size: int = 64, workers: int = 0, progress: bool = False,
                    desc: str = "eval", autocast_dtype: torch.dtype | None = None) -> Predictions:
    """Rotations predicted by ``model`` (``forward`` → (B, 3, 3)) for every item of a dataset
    yielding dicts with ``image``, ``R`` and ``euler``."""
    from tqdm import tqdm

    device = torch.device(device)
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    preds, gts, eulers = [], [], []
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        x = batch["image"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
            R = model(x)
        preds.append(R.float().cpu())
        gts.append(batch["R"].float())
        eulers.append(batch["euler"].double())
    model.train(was_training)
    if not preds:
        raise ValueError("the evaluation set is empty")
    return Predictions(torch.cat(preds), torch.cat(gts), torch.cat(eulers))


def flat_report(report: dict, prefix: str) -> dict[str, float]:
    """Scalars of a pose report as ``prefix/mae`` (6DRepNet formula), ``prefix/mae360``,
    ``prefix/geodesic`` and per-angle ``prefix/yaw`` etc. (for CSV logs)."""
    m6, m3 = report["mae_6drepnet"], report["mae_wrap360"]
    out = {f"{prefix}/mae": m6["mean"], f"{prefix}/mae360": m3["mean"], f"{prefix}/geodesic": report["geodesic_deg"]}
    for a in ("yaw", "pitch", "roll"):
        out[f"{prefix}/{a}"] = m6[a]
    return out


def per_sample_errors(p: Predictions) -> dict[str, np.ndarray]:
    """Per-sample mean Euler error (both formulas) and geodesic error, degrees."""
    from pyhpe.metrics import angle_errors, geodesic_errors_deg

    pred = p.euler_pred
    return {
        "MAE (6DRepNet)": angle_errors(pred, p.euler_gt, "6drepnet").mean(dim=1).numpy(),
        "MAE (±360)": angle_errors(pred, p.euler_gt, "wrap360").mean(dim=1).numpy(),
        "geodesic": geodesic_errors_deg(p.R_pred, p.R_gt).numpy(),
    }
