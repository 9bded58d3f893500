"""The task ``trgv2_6dof``: head rotation, translation (metres) and a dense face from one crop.

Batches (pyhpe.data.sixdof_crop): ``image``, ``R``, ``euler``, ``t``, ``K_crop``, ``box`` (7,),
``landmarks`` (68, 2) crop pixels, ``landmarks_visible``, ``vertices`` (V, 3) head frame,
``has_3d``. The model is called as ``model(image, K_crop, box)`` (pyhpe.models.trg); the loss is
pyhpe.tasks.trgv2_losses; evaluation reports the 6DoF metrics of the TRGv2 tables
(pyhpe.metrics.sixdof) next to our rotation metrics. The test crop is the 1.5× landmark box
(card crop kind ``landmark_box``). Export of TRGv2 graphs (three inputs) is not built yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pyhpe.models.card import CropRule
from pyhpe.models.outputs import PoseOutput
from pyhpe.tasks.base import PoseTask, register_task

__all__ = ["SixDoFPredictions", "TRGv2Task"]

LANDMARK_BOX = CropRule(kind="landmark_box", margin=0.5, resize=224)
# sources without translation and intrinsics (pyhpe.data.sources formats)
ROTATION_ONLY_FORMATS = ("300wlp", "aflw2000", "biwi-npz")


def _topology_of(cfg: dict):
    from pyhpe.models.trg import resolve_topology

    return resolve_topology(cfg["model"]["kwargs"].get("topology", "synthetic"))


@dataclass
class SixDoFPredictions:
    """Predicted and true 6DoF poses (and dense faces) of a dataset."""

    R_pred: Tensor
    t_pred: Tensor
    R_gt: Tensor
    t_gt: Tensor
    euler_gt: Tensor
    vertices_pred: Tensor | None = None
    vertices_gt: Tensor | None = None  # only where every sample has 3D ground truth
    offset: np.ndarray | None = None  # reference-system ΔT (3,), metres, head frame
    # DD-Pose: each frame's devkit key (pyhpe.data.ddpose.DDPoseFrames, in prediction order),
    # attached by `pyhpe eval` for DD-Pose sources; the report then adds the devkit's subsets
    frames: Any = None

    def report(self) -> dict:
        """6DoF metrics (pyhpe.metrics.sixdof) + our rotation MAE; with a reference offset also
        the aligned translation metrics under ``aligned``; with DD-Pose ``frames`` the devkit's
        per-subset table under ``ddpose`` (pyhpe.metrics.ddpose.ddpose_report)."""
        from pyhpe.metrics import pose_report
        from pyhpe.metrics.sixdof import sixdof_report

        out = sixdof_report(self.R_pred, self.t_pred, self.R_gt, self.t_gt,
                            self.vertices_gt, self.vertices_pred if self.vertices_gt is not None else None)
        out["rotation"] = pose_report(self.R_pred, self.R_gt, self.euler_gt)
        if self.offset is not None:
            from pyhpe.geometry.alignment import apply_reference_offset

            t_al = apply_reference_offset(self.R_pred.double(), self.t_pred.double(),
                                          torch.as_tensor(self.offset, dtype=torch.float64))
            out["aligned"] = sixdof_report(self.R_pred, t_al, self.R_gt, self.t_gt, self.vertices_gt)
        if self.frames is not None:
            from pyhpe.metrics.ddpose import ddpose_report

            out["ddpose"] = ddpose_report(self.R_pred, self.t_pred, self.R_gt, self.t_gt,
                                          self.frames.occlusion)
        return out


@register_task
class TRGv2Task(PoseTask):
    """TRGv2's 6DoF task (see the module docstring)."""

    name = "trgv2_6dof"
    batch_keys = ("image", "R", "euler", "t", "K_crop", "box", "landmarks", "landmarks_visible",
                  "vertices", "has_3d")
    loss_label = "train_loss"
    deploy_kinds: dict = {}
    default_crop = LANDMARK_BOX
    needs_mesh = True

    # --- training ---
    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> PoseOutput:
        return model(batch["image"], batch["K_crop"], batch["box"])

    def loss(self, out: PoseOutput, batch: dict[str, Tensor]) -> Tensor:
        from pyhpe.tasks.trgv2_losses import trgv2_loss

        total, _ = trgv2_loss(out, batch)
        return total

    def train_transform(self, cfg: dict, src: dict) -> Callable[[int | None], Callable]:
        """TRGv2's training crop: 1.5× landmark box with jitter, flip (through the topology's
        vertex mirror), in-plane rotation about the principal point, colour jitter."""
        from pyhpe.data.sixdof_crop import SixDoFCrop

        topo, aug = _topology_of(cfg), cfg["augment"]

        def make(seed: int | None):
            return SixDoFCrop(size=int(cfg["data"]["input_size"]), num_vertices=topo.num_vertices,
                              train=True, flip_index=topo.flip, flip_p=float(aug["flip"]),
                              rotate_p=float(aug["rotate"]), rotate_deg=float(aug["rotate_deg"]),
                              color=float(aug["jitter"]), seed=seed)

        return make

    def test_transform(self, crop: CropRule, input_size: int, src: dict, output: str = "tensors") -> Callable:
        """The 1.5× landmark box (``crop.margin`` = 0.5), no augmentation, cut and resized by the
        card's ``crop.convention`` ("official": as the released code, for converted models)."""
        from pyhpe.data.sixdof_crop import SixDoFCrop

        if crop.kind != "landmark_box":
            raise ValueError(f"a {self.name} model is evaluated on the landmark box crop, not {crop.kind!r}")
        return SixDoFCrop(size=input_size, num_vertices=None, scale=1.0 + crop.margin, output=output,
                          convention=crop.convention)

    def config_crop(self, data: dict) -> CropRule:
        return LANDMARK_BOX

    def check_source(self, src: dict, where: str) -> None:
        if src["format"] in ROTATION_ONLY_FORMATS:
            raise ValueError(f"{where}: format {src['format']} is rotation-only (no translation or "
                             f"intrinsics); a {self.name} model trains and evaluates on synthetic, "
                             "arkitface, biwi-raw, ddpose or sixdof sources")

    # --- evaluation ---
    def gather(self, out: PoseOutput, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        g = {"R_pred": out.R.float().cpu(), "t_pred": out.t.float().cpu(),
             "R_gt": batch["R"].float().cpu(), "t_gt": batch["t"].float().cpu(),
             "euler_gt": batch["euler"].double().cpu(), "has_3d": batch["has_3d"].float().cpu(),
             "vertices_pred": out.vertices.float().cpu()}
        if batch["vertices"].shape[1] == out.vertices.shape[1]:
            g["vertices_gt"] = batch["vertices"].float().cpu()
        return g

    def predictions(self, gathered: dict[str, Tensor]) -> SixDoFPredictions:
        all_3d = "vertices_gt" in gathered and bool((gathered["has_3d"] > 0).all())
        return SixDoFPredictions(
            gathered["R_pred"], gathered["t_pred"], gathered["R_gt"], gathered["t_gt"],
            gathered["euler_gt"], gathered["vertices_pred"],
            gathered["vertices_gt"] if all_3d else None)

    def flat_report(self, report: dict, prefix: str) -> dict[str, float]:
        keys = ("mae_r", "ge", "mae_t_mm", "add_mm", "vertex_median_mm", "tz_mm")
        out = {f"{prefix}/{k}": float(report[k]) for k in keys if k in report}
        out[f"{prefix}/mae"] = float(report["rotation"]["mae_6drepnet"]["mean"])
        for subset, row in report.get("ddpose", {}).items():  # DD-Pose: the devkit's table
            out.update({f"{prefix}/ddpose_{subset}_{k}": float(row[k])
                        for k in ("bmae", "mae_r", "mae_t_mm", "t_euclid_mm", "recall") if row[k] is not None})
        return out

    def format_report(self, report: dict, title: str) -> str:
        lines = [f"{title}  (n = {report['n']})",
                 f"rotation  yaw {report['yaw']:.2f}°  pitch {report['pitch']:.2f}°  roll "
                 f"{report['roll']:.2f}°  MAE_r {report['mae_r']:.2f}°  GE {report['ge']:.2f}°",
                 f"translation  tx {report['tx_mm']:.1f}  ty {report['ty_mm']:.1f}  tz "
                 f"{report['tz_mm']:.1f}  MAE_t {report['mae_t_mm']:.1f} mm"]
        if "add_mm" in report:
            lines.append(f"ADD {report['add_mm']:.1f} mm" + (
                f"   dense face: median {report['vertex_median_mm']:.1f} / mean "
                f"{report['vertex_mean_mm']:.1f} mm" if "vertex_median_mm" in report else ""))
        if "aligned" in report:
            a = report["aligned"]
            lines.append(f"aligned (t + R·ΔT): MAE_t {a['mae_t_mm']:.1f} mm"
                         + (f"  ADD {a['add_mm']:.1f} mm" if "add_mm" in a else ""))
        if "ddpose" in report:
            lines += _ddpose_lines(report["ddpose"])
        return "\n".join(lines)

    def plots(self, predictions: SixDoFPredictions, out_dir: Path, title: str) -> list[Path]:
        from pyhpe.engine.plots import error_vs_yaw
        from pyhpe.metrics import geodesic_errors_deg

        path = Path(out_dir) / "error_vs_yaw.png"
        t_err = (predictions.t_pred - predictions.t_gt).double().norm(dim=1) * 1000.0
        errors = {"geodesic (°)": geodesic_errors_deg(predictions.R_pred, predictions.R_gt).numpy(),
                  "|t error| (cm)": (t_err / 10.0).numpy()}
        error_vs_yaw(predictions.euler_gt[:, 1].numpy(), errors, path, title=title)
        return [path]

    # --- card and deployment ---
    def model_outputs(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("R", (3, 3)), ("sixd", (6,)), ("t", (3,)), ("landmarks", (68, 2)))

    def deploy_module(self, model: nn.Module, kind: str) -> nn.Module:
        raise ValueError(f"export of {self.name} models is not available yet")

    def decode(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise ValueError(f"no deployed {self.name} graphs exist yet")

    def result_shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("R", (3, 3)), ("t", (3,)), ("euler_deg", (3,)))


def _ddpose_lines(table: dict) -> list[str]:
    """The DD-Pose devkit's table (Table 6 of the TRGv2 paper): one line per subset."""
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    lines = ["DD-Pose (devkit)  BMAE °  MAE_r ° (geodesic)  MAE_t mm (per-axis / Euclidean)  recall %"]
    for subset, r in table.items():
        recall = None if r["recall"] is None else 100.0 * r["recall"]
        lines.append(f"  {subset:<9} n {r['n']:>6}  {fmt(r['bmae'], '6.2f')}  {fmt(r['mae_r'], '6.2f')}  "
                     f"{fmt(r['mae_t_mm'], '7.1f')} / {fmt(r['t_euclid_mm'], '7.1f')}  {fmt(recall, '5.1f')}")
    return lines
