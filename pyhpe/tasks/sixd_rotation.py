"""6DRepNet's rotation task: the model regresses 6 numbers, Gram-Schmidt makes them a rotation.

The one place that knows the 6D convention outside pyhpe.ops/pyhpe.geometry: the model head's
decode (:func:`sixd_to_rotation`), the fused 6D → geodesic training loss, the deploy outputs
("6d": the raw vector, Gram-Schmidt after the graph; "matrix": Gram-Schmidt in the graph) and
their decoding, and 6DRepNet's crops (random-margin training crop, fixed-margin test crop).
Metrics: MAE per Euler angle (6DRepNet's formula and the ±360° form) and the geodesic error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from pyhpe.models.card import CropRule
from pyhpe.models.outputs import PoseOutput
from pyhpe.tasks.base import PoseTask, register_task

__all__ = ["SixDRotationTask", "RotationPredictions", "sixd_to_rotation", "per_sample_errors"]


def sixd_to_rotation(sixd: Tensor) -> Tensor:
    """(B, 6) raw first and second matrix columns → (B, 3, 3) head → camera rotation.

    The native op in eager mode; the pure-torch reference while an exporter traces (so the graph
    holds plain ONNX ops; a graph that only needs the 6D vector drops it as dead code).
    """
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        from pyhpe.ops.reference import gram_schmidt_ref

        return gram_schmidt_ref(sixd)
    from pyhpe.ops import gram_schmidt

    return gram_schmidt(sixd)


@dataclass
class RotationPredictions:
    """Predicted and true rotations of a dataset, with the labels' Euler angles."""

    R_pred: Tensor  # (N, 3, 3)
    R_gt: Tensor  # (N, 3, 3)
    euler_gt: Tensor  # (N, 3) label (pitch, yaw, roll) degrees

    def report(self) -> dict:
        from pyhpe.metrics import pose_report

        return pose_report(self.R_pred, self.R_gt, self.euler_gt)

    @property
    def euler_pred(self) -> Tensor:
        from pyhpe.metrics import matrix_to_euler_deg

        return matrix_to_euler_deg(self.R_pred)


def per_sample_errors(p: RotationPredictions) -> dict[str, np.ndarray]:
    """Per-sample mean Euler error (both formulas) and geodesic error, degrees."""
    from pyhpe.metrics import angle_errors, geodesic_errors_deg

    pred = p.euler_pred
    return {
        "MAE (6DRepNet)": angle_errors(pred, p.euler_gt, "6drepnet").mean(dim=1).numpy(),
        "MAE (±360)": angle_errors(pred, p.euler_gt, "wrap360").mean(dim=1).numpy(),
        "geodesic": geodesic_errors_deg(p.R_pred, p.R_gt).numpy(),
    }


class _DeployOutput(nn.Module):
    """``forward(x)`` = one named field of the model's outputs (what an export traces)."""

    def __init__(self, model: nn.Module, field: str):
        super().__init__()
        self.model, self.field = model, field

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self.model(x), self.field)


@register_task
class SixDRotationTask(PoseTask):
    """Rotation from one face crop, 6DRepNet style (see the module docstring)."""

    name = "sixd_rotation"
    batch_keys = ("image", "R", "euler")
    loss_label = "train_loss_deg"
    deploy_kinds = {"6d": (("sixd", (6,)),), "matrix": (("R", (3, 3)),)}
    default_deploy = "6d"
    default_crop = CropRule(kind="margin_box", margin=0.2, resize=256)  # 6DRepNet's test.py

    # --- training ---
    def loss(self, out: PoseOutput, batch: dict[str, Tensor]) -> Tensor:
        from pyhpe.ops import sixd_geodesic_loss

        return sixd_geodesic_loss(out.sixd.float(), batch["R"])

    def loss_value(self, loss: float) -> float:
        return math.degrees(loss)

    def loss_text(self, loss: float) -> str:
        return f"{math.degrees(loss):.2f}°"

    def train_transform(self, cfg: dict, src: dict) -> Callable[[int | None], Callable]:
        """6DRepNet's training pipeline (+ jitter/noise from the proposal) for a source."""
        from pyhpe.data.transforms import Augment, SixDRepNetTrain

        aug = cfg["augment"]
        augment = Augment(jitter=float(aug["jitter"]), noise_sigma=float(aug["noise"]))

        def make(seed: int | None):
            return SixDRepNetTrain(size=cfg["data"]["input_size"], margin_crop=bool(src["margin_crop"]),
                                   flip_p=float(aug["flip"]), blur_p=float(aug["blur"]),
                                   scale=tuple(aug["scale"]), augment=augment, seed=seed)

        return make

    def test_transform(self, crop: CropRule, input_size: int, src: dict, output: str = "tensors") -> Callable:
        """6DRepNet's test pipeline with the card's crop: fixed-margin box, resize, centre crop."""
        from pyhpe.data.transforms import SixDRepNetTest

        margin_crop = crop.kind == "margin_box" and bool(src.get("margin_crop", True))
        return SixDRepNetTest(resize_to=crop.resize_side(input_size), size=input_size, margin_crop=margin_crop,
                              margin=crop.margin, output=output)

    # --- evaluation ---
    def gather(self, out: PoseOutput, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"R_pred": out.R.float().cpu(), "R_gt": batch["R"].float().cpu(),
                "euler_gt": batch["euler"].double().cpu()}

    def predictions(self, gathered: dict[str, Tensor]) -> RotationPredictions:
        return RotationPredictions(gathered["R_pred"], gathered["R_gt"], gathered["euler_gt"])

    def flat_report(self, report: dict, prefix: str) -> dict[str, float]:
        """``prefix/mae`` (6DRepNet formula), ``prefix/mae360``, ``prefix/geodesic`` and per-angle
        ``prefix/yaw`` etc."""
        m6, m3 = report["mae_6drepnet"], report["mae_wrap360"]
        out = {f"{prefix}/mae": m6["mean"], f"{prefix}/mae360": m3["mean"], f"{prefix}/geodesic": report["geodesic_deg"]}
        for a in ("yaw", "pitch", "roll"):
            out[f"{prefix}/{a}"] = m6[a]
        return out

    def format_report(self, report: dict, title: str) -> str:
        """Both MAE forms and the geodesic error as a small text table."""
        lines = [f"{title}  (n = {report['n']})",
                 f"{'':16}{'yaw':>8}{'pitch':>8}{'roll':>8}{'MAE':>8}"]
        for key, label in (("mae_6drepnet", "6DRepNet formula"), ("mae_wrap360", "±360 form")):
            m = report[key]
            lines.append(f"{label:16}{m['yaw']:8.3f}{m['pitch']:8.3f}{m['roll']:8.3f}{m['mean']:8.3f}")
        lines.append(f"{'geodesic error':16}{report['geodesic_deg']:8.3f}°")
        return "\n".join(lines)

    def plots(self, predictions: RotationPredictions, out_dir: Path, title: str) -> list[Path]:
        from pyhpe.engine.plots import error_vs_yaw

        path = Path(out_dir) / "error_vs_yaw.png"
        error_vs_yaw(predictions.euler_gt[:, 1].numpy(), per_sample_errors(predictions), path, title=title)
        return [path]

    # --- card and deployment ---
    def model_outputs(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("R", (3, 3)), ("sixd", (6,)))

    def deploy_module(self, model: nn.Module, kind: str) -> nn.Module:
        (name, _), = self.deploy_outputs(kind)
        return _DeployOutput(model, name).eval()

    def decode(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """{"sixd": (N, 6)} or {"R": (N, 3, 3)} → {"sixd", "R", "euler_deg"} float32 (native kernels)."""
        from pyhpe.geometry.rotation import matrix_to_sixd
        from pyhpe.ops import gram_schmidt, matrix_to_euler

        if "sixd" in raw:
            sixd = torch.from_numpy(np.ascontiguousarray(raw["sixd"], dtype=np.float32)).reshape(-1, 6)
            R = gram_schmidt(sixd)
        elif "R" in raw:
            R = torch.from_numpy(np.ascontiguousarray(raw["R"], dtype=np.float32)).reshape(-1, 3, 3)
            sixd = matrix_to_sixd(R)
        else:
            raise ValueError(f"unknown output kind: a {self.name} graph outputs 'sixd' or 'R', got {sorted(raw)}")
        euler = matrix_to_euler(R, degrees=True)
        return {"sixd": sixd.numpy(), "R": R.numpy(), "euler_deg": euler.numpy()}

    def result_shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("sixd", (6,)), ("R", (3, 3)), ("euler_deg", (3,)))
