"""The task ``trgv2_6dof``: head rotation, translation (metres) and a dense face from one crop.

Batches (pyhpe.data.sixdof_crop): ``image``, ``R``, ``euler``, ``t``, ``K_crop``, ``box`` (7,),
``landmarks`` (68, 2) crop pixels, ``landmarks_visible``, ``vertices`` (V, 3) head frame,
``has_3d``. The model is called as ``model(image, K_crop, box)`` (pyhpe.models.trg); the loss is
pyhpe.tasks.trgv2_losses; evaluation reports the 6DoF metrics of the TRGv2 tables
(pyhpe.metrics.sixdof) next to our rotation metrics. The test crop is the 1.5× landmark box
(card crop kind ``landmark_box``).

Deployment (deploy kind "6dof"): the graph takes the normalised crop and ONE camera vector per
crop, :data:`CAMERA_LAYOUT` (11 numbers: the box information and the crop intrinsics), and
returns the raw 6D rotation, the correction parameters, the vertices (head frame) and the
landmarks (crop pixels); :meth:`TRGv2Task.decode` makes R (Gram-Schmidt), t (Eq. 3,
pyhpe.geometry.correction) of them. The graph itself is :class:`TRGv2DeployGraph`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from pyhpe.models.card import CropRule
from pyhpe.models.outputs import PoseOutput
from pyhpe.tasks.base import DeployInput, PoseTask, register_task

__all__ = ["CAMERA_INPUT", "CAMERA_LAYOUT", "SixDoFPredictions", "TRGv2Task", "camera_vector",
           "split_camera"]

LANDMARK_BOX = CropRule(kind="landmark_box", margin=0.5, resize=224)
#: name of the deploy graph's second input: one camera vector (len(CAMERA_LAYOUT),) per crop
CAMERA_INPUT = "camera"
#: its layout: the box information in full-image pixels (the model's ``box``, pyhpe.geometry.
#: correction) then the crop intrinsics K_crop in crop pixels (fx, fy, cx, cy; no skew)
CAMERA_LAYOUT = ("left", "top", "right", "bottom", "f", "height", "width",
                 "fx_crop", "fy_crop", "cx_crop", "cy_crop")
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
    offset: np.ndarray | None = None  # reference-system ΔT (3,) or per sample (N, 3), metres, head frame
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
    # V (-1 here) is the model topology's vertex count: deploy_outputs(kind, model) fills it in
    deploy_kinds: ClassVar[dict] = {"6dof": (("sixd", (6,)), ("correction", (3,)), ("vertices", (-1, 3)),
                             ("landmarks", (68, 2)))}
    default_deploy = "6dof"
    deploy_inputs = (DeployInput(CAMERA_INPUT, (len(CAMERA_LAYOUT),), CAMERA_LAYOUT),)
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

    def card_kwargs(self, kwargs: dict) -> dict:
        """A topology named by files ("official:DIR") is stored as its dict form."""
        from pyhpe.models.trg import OFFICIAL_PREFIX, resolve_topology

        out = dict(kwargs)
        topology = out.get("topology")
        if isinstance(topology, str) and topology.startswith(OFFICIAL_PREFIX):
            out["topology"] = resolve_topology(topology).to_dict()
        return out

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

    def deploy_outputs(self, kind: str, model: nn.Module | None = None
                       ) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The graph's outputs; with ``model``, the vertex count of its topology in place of -1."""
        outputs = super().deploy_outputs(kind)
        if model is None:
            return outputs
        V = int(_trgv2(model).topology.num_vertices)
        return tuple((n, tuple(V if d == -1 else d for d in shape)) for n, shape in outputs)

    def deploy_module(self, model: nn.Module, kind: str) -> nn.Module:
        """``forward(image (B, 3, S, S), camera (B, 11))`` → (sixd, correction, vertices,
        landmarks): :class:`TRGv2DeployGraph` (BN folded into copies of the neck and heatmap
        convolutions, the iterations unrolled, sampling without out-of-map taps)."""
        self.deploy_outputs(kind)
        return TRGv2DeployGraph(_trgv2(model)).eval()

    def deploy_output_unit(self, name: str, input_size: int) -> float:
        """Landmarks (crop pixels) are verified in normalised crop units, 2·px/S — the unit the
        released code predicts them in ([−1, 1]) —, so 1e-4 means the same at any input size
        (a float32 soft-argmax over peaked heatmaps carries ~1e-5 relative error); the other
        outputs as they are."""
        return input_size / 2.0 if name == "landmarks" else 1.0

    def deploy_samples(self, input_size: int, n: int, seed: int) -> dict[str, np.ndarray]:
        """Synthetic heads through the evaluation crop (SixDoFCrop): images and their camera
        vectors, what a deployed graph sees in use."""
        return synthetic_deploy_inputs(input_size, n, seed)

    def decode(self, raw: dict[str, np.ndarray], form: str = "paper") -> dict[str, np.ndarray]:
        """Graph outputs + the camera vectors they were computed with (``raw["camera"]``) →
        {"R", "sixd", "t", "euler_deg", "correction", "vertices", "landmarks"} float32.

        R: Gram-Schmidt of the 6D vector (the convention of pyhpe.tasks.sixd_rotation); t: Eq. 3
        (:func:`pyhpe.geometry.correction.translation_from_correction`) with the full image's
        principal point recovered from the crop intrinsics, in the model's ``form``.
        """
        from pyhpe.geometry.correction import principal_point_from_crop, translation_from_correction
        from pyhpe.ops import matrix_to_euler
        from pyhpe.tasks.sixd_rotation import sixd_to_rotation

        missing = [k for k in ("sixd", "correction", "vertices", "landmarks", CAMERA_INPUT) if k not in raw]
        if missing:
            raise ValueError(f"a {self.name} decode needs the graph outputs and the camera vectors; "
                             f"missing {missing}")
        f32 = lambda k: torch.from_numpy(np.ascontiguousarray(raw[k], dtype=np.float32))
        sixd, c = f32("sixd").reshape(-1, 6), f32("correction").reshape(-1, 3)
        box, K_crop = split_camera(f32(CAMERA_INPUT).reshape(-1, len(CAMERA_LAYOUT)))
        if len(box) != len(sixd):
            raise ValueError(f"{len(sixd)} graph outputs but {len(box)} camera vectors")
        R = sixd_to_rotation(sixd)
        t = translation_from_correction(c, box, principal_point_from_crop(K_crop, box), form=form)
        return {"R": R.numpy(), "sixd": sixd.numpy(), "t": t.numpy(),
                "euler_deg": matrix_to_euler(R, degrees=True).numpy(), "correction": c.numpy(),
                "vertices": f32("vertices").reshape(len(sixd), -1, 3).numpy(),
                "landmarks": f32("landmarks").reshape(len(sixd), 68, 2).numpy()}

    def decode_for(self, raw: dict[str, np.ndarray], card) -> dict[str, np.ndarray]:
        """:meth:`decode` in the form (paper / official) of the model the card describes."""
        return self.decode(raw, form=str(card.kwargs.get("form", "paper")))

    def result_shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("R", (3, 3)), ("sixd", (6,)), ("t", (3,)), ("euler_deg", (3,)), ("correction", (3,)),
                ("vertices", (0, 3)), ("landmarks", (68, 2)))



# --- deployment ------------------------------------------------------------------------------

def camera_vector(box, K_crop) -> np.ndarray:
    """(N, 7) boxes [left, top, right, bottom, f, H, W] + (N, 3, 3) crop intrinsics → (N, 11)
    float32 camera vectors in :data:`CAMERA_LAYOUT` (single samples: (7,), (3, 3) → (1, 11))."""
    box = np.asarray(box, dtype=np.float64).reshape(-1, 7)
    K = np.asarray(K_crop, dtype=np.float64).reshape(-1, 3, 3)
    if len(box) != len(K):
        raise ValueError(f"{len(box)} boxes but {len(K)} crop intrinsics")
    if np.any(K[:, 0, 1] != 0):
        raise ValueError("crop intrinsics with skew cannot be deployed (the camera vector has none)")
    return np.concatenate([box, K[:, 0, 0:1], K[:, 1, 1:2], K[:, 0, 2:3], K[:, 1, 2:3]], 1).astype(np.float32)


def split_camera(camera: Tensor) -> tuple[Tensor, Tensor]:
    """(N, 11) camera vectors → (box (N, 7), K_crop (N, 3, 3)), the model's call arguments.

    K_crop is assembled by a product with a constant selection matrix (no element writes, so
    a traced graph holds a plain matrix product)."""
    select = camera.new_zeros(4, 9)
    select[0, 0] = select[1, 4] = select[2, 2] = select[3, 5] = 1.0
    last_row = camera.new_zeros(9)
    last_row[8] = 1.0
    return camera[:, :7], (camera[:, 7:11] @ select + last_row).reshape(-1, 3, 3)


def synthetic_deploy_inputs(input_size: int, n: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """{"image": (n, 3, S, S), "camera": (n, 11)}: synthetic heads cut by the evaluation crop
    (SixDoFCrop, the card's landmark box), for verifying exports (cached per arguments)."""
    return {k: v.copy() for k, v in _synthetic_deploy_inputs(int(input_size), int(n), int(seed)).items()}


@functools.lru_cache(maxsize=4)
def _synthetic_deploy_inputs(input_size: int, n: int, seed: int) -> dict[str, np.ndarray]:
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    heads = SyntheticHeads(n=n, seed=seed, config=SynthConfig(size=max(64, 2 * input_size)))
    crop = TRGv2Task().test_transform(LANDMARK_BOX, input_size, {})
    items = [crop(heads[i]) for i in range(n)]
    return {"image": np.stack([it["image"].numpy() for it in items]).astype(np.float32),
            CAMERA_INPUT: camera_vector(np.stack([it["box"].numpy() for it in items]),
                                        np.stack([it["K_crop"].numpy() for it in items]))}


def _trgv2(model: nn.Module) -> nn.Module:
    from pyhpe.models.trg import TRGv2

    if not isinstance(model, TRGv2):
        raise TypeError(f"a trgv2_6dof deploy graph needs a TRGv2 model, got {type(model).__name__}")
    if model.translation != "correction":
        raise ValueError("only TRGv2 models with translation='correction' export (the direct-T "
                         "ablation has no correction parameters to output)")
    return model


def _fold_bn(block: nn.Sequential) -> nn.Sequential:
    """A copy of (Conv2d | ConvTranspose2d, BatchNorm2d, activation) with the BN folded into the
    convolution (eval statistics; pyhpe.models.layers.fuse_conv_bn)."""
    import copy

    from pyhpe.models.layers import fuse_conv_bn

    conv, bn, *rest = block
    conv = copy.deepcopy(conv)
    transposed = isinstance(conv, nn.ConvTranspose2d)
    weight = conv.weight.transpose(0, 1) if transposed else conv.weight  # output channels first
    w, b = fuse_conv_bn(weight, conv.bias, bn)
    conv.weight = nn.Parameter(w.transpose(0, 1).contiguous() if transposed else w)
    conv.bias = nn.Parameter(b)
    return nn.Sequential(conv, *rest)


def _principal_point(box: Tensor, camera: Tensor) -> Tensor:
    """The full image's principal point (B, 2) from camera vectors: the formula of
    :func:`pyhpe.geometry.correction.principal_point_from_crop` on K_crop's entries read as
    slices (pnnx mistranslates the per-sample scalars that indexing a 3×3 K makes)."""
    return (camera[:, 9:11] + 0.5) / (camera[:, 7:9] / box[:, 4:5]) - 0.5 + box[:, :2]


def _image_centre(box: Tensor) -> Tensor:
    """(W/2, H/2) (B, 2) of boxes [.., H, W]: τ's origin in the official form, as slices."""
    return torch.cat([box[:, 6:7], box[:, 5:6]], 1) / 2


# The official form in the paper form's terms (pyhpe.geometry.correction), so the graph needs no
# per-sample scalars (the official τ indexes box[:, 6], which pnnx mistranslates): I_bbox =
# paper I_bbox about the image centre with the offsets ×4; Eq. 3 = the paper's with τ̃ halved.
_OFFSET_SCALE = torch.tensor([4.0, 4.0, 1.0])
_TILDE_SCALE = torch.tensor([1.0, 0.5, 0.5])


def _project(points_cam: Tensor, camera: Tensor) -> Tensor:
    """:func:`pyhpe.models.trg.blocks.project_in_front` with K_crop's (fx, fy, cx, cy) read from
    camera vectors (no skew): depths clamped to MIN_DEPTH_M, then u = fx·x/z + cx, v = fy·y/z + cy."""
    from pyhpe.models.trg.blocks import MIN_DEPTH_M

    z = points_cam[..., 2:].clamp_min(MIN_DEPTH_M)
    return points_cam[..., :2] / z * camera[:, None, 7:9] + camera[:, None, 9:11]


class TRGv2DeployGraph(nn.Module):
    """TRGv2's deploy form: ``forward(image (B, 3, S, S), camera (B, 11))`` → (sixd (B, 6),
    correction (B, 3), vertices (B, V, 3), landmarks (B, 68, 2)), the model's outputs.

    The model's modules, sampler (grid-sample) and geometry (Eq. 3, I_bbox, to_camera, Gram-
    Schmidt), with the forms pnnx converts to ncnn correctly where the model's are not: BatchNorms
    of the neck and the heatmap head folded (copies; the model is not changed); the soft-argmax
    as softmax @ a constant table of cell positions, centred and scaled (pnnx drops the axes of
    its sums; the table is the model's own :func:`~pyhpe.models.trg.blocks.heatmap_landmarks` at
    one-hot maps, exact since positions are affine in the expected coordinate); the subsampled
    vertices as a one-hot matrix product (pnnx mistranslates the gather); K_crop as the camera
    vector's slices (:func:`_principal_point`, :func:`_project`); the official form's geometry in
    the paper form's terms (:data:`_OFFSET_SCALE`, :data:`_TILDE_SCALE`). The iteration loop
    unrolls when traced; traced graphs have batch 1. tests/export/test_trgv2_export.py checks it
    against the model.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.neck = nn.Sequential(*(_fold_bn(block) for block in model.neck.layers))
        body = model.heatmaps.body
        self.heat_body = _fold_bn(body) if isinstance(body[1], nn.BatchNorm2d) else body
        select = torch.zeros(len(model.subsample), model.template.shape[0])
        select[torch.arange(len(model.subsample)), model.subsample] = 1.0
        self.register_buffer("select", select, persistent=False)  # the subsampled vertices, one-hot

    def landmark_table(self, h: int, w: int, width: int, height: int) -> tuple[Tensor, Tensor, Tensor]:
        """The crop-pixel position of each heatmap cell (the model's landmark decoding at one-hot
        maps), as (h·w, 2) positions centred and scaled into [−1, 1], the scale (2,) and the
        centre (2,): float32 products with small numbers keep the graph's landmarks within a few
        ulps of the model's at any crop size (a table of raw pixels loses ~1e-4 px at 192)."""
        from pyhpe.models.trg.blocks import heatmap_landmarks

        with torch.no_grad():
            # logits 1e4 apart: the softmax is exactly one-hot
            one_hot = torch.eye(h * w, dtype=torch.float64).reshape(1, h * w, h, w) * 1e4
            table = heatmap_landmarks(one_hot, width, height, self.model.form)[0]
            low, high = table.amin(0), table.amax(0)
            centre, scale = (low + high) / 2, ((high - low) / 2).clamp_min(1e-12)
            return ((table - centre) / scale).float(), scale.float(), centre.float()

    def _translation(self, c: Tensor, box: Tensor, principal: Tensor) -> Tensor:
        """Eq. 3 (:func:`~pyhpe.geometry.correction.translation_from_correction`) in the model's form."""
        from pyhpe.geometry.correction import translation_from_correction

        if self.model.form == "official":
            c = c * _TILDE_SCALE.to(c.dtype)
        return translation_from_correction(c, box, principal)

    def forward(self, image: Tensor, camera: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        from pyhpe.geometry.camera import to_camera
        from pyhpe.geometry.correction import box_info
        from pyhpe.models.trg.blocks import sampling_coords
        from pyhpe.tasks.sixd_rotation import sixd_to_rotation

        m = self.model
        B = 1 if torch.jit.is_tracing() else image.shape[0]
        H, W = int(image.shape[-2]), int(image.shape[-1])
        camera = camera.to(image.dtype)
        box = camera[:, :7]
        phi = self.neck(m.backbone.forward_features(image))
        logits = m.heatmaps.out(self.heat_body(phi))
        h, w = int(logits.shape[-2]), int(logits.shape[-1])
        table, scale, centre = (v.to(image.dtype) for v in self.landmark_table(h, w, W, H))
        prob = torch.softmax(logits.reshape(B, logits.shape[1], h * w), dim=-1)
        landmarks = (prob @ table) * scale + centre

        principal = _principal_point(box, camera) if m.form == "paper" else _image_centre(box)
        info = box_info(box, principal)
        if m.form == "official":
            info = info * _OFFSET_SCALE.to(image.dtype)
        verts = m.template.to(image.dtype).expand(B, -1, -1)
        sixd = m.sixd0.to(image.dtype).expand(B, -1)
        c = image.new_tensor([[1.0, 0.0, 0.0]]).expand(B, -1)
        t = self._translation(c, box, principal)
        R = sixd_to_rotation(sixd)
        for i, (sampler, regressor) in enumerate(zip(m.samplers, m.regressors)):
            if i == 0:
                points = m.grid.to(image.dtype).expand(B, -1, -1)
            else:
                cam = to_camera(self.select @ verts, R, t)
                points = sampling_coords(_project(cam, camera), W, H, m.form)
            features = sampler(phi, points)
            x = torch.cat([features, (self.select @ verts).reshape(B, -1), sixd, c, info], 1)
            d_verts, d_pose = regressor(x)
            verts = verts + d_verts.reshape(B, -1, 3)
            sixd = sixd + d_pose[:, :6]
            c = c + d_pose[:, 6:]
            if i + 1 < len(m.samplers):
                t = self._translation(c, box, principal)
                R = sixd_to_rotation(sixd)
        return sixd, c, verts, landmarks


def _ddpose_lines(table: dict) -> list[str]:
    """The DD-Pose devkit's table (Table 6 of the TRGv2 paper): one line per subset."""
    fmt = lambda v, spec: "–" if v is None else format(v, spec)
    lines = ["DD-Pose (devkit)  BMAE °  MAE_r ° (geodesic)  MAE_t mm (per-axis / Euclidean)  recall %"]
    for subset, r in table.items():
        recall = None if r["recall"] is None else 100.0 * r["recall"]
        lines.append(f"  {subset:<9} n {r['n']:>6}  {fmt(r['bmae'], '6.2f')}  {fmt(r['mae_r'], '6.2f')}  "
                     f"{fmt(r['mae_t_mm'], '7.1f')} / {fmt(r['t_euclid_mm'], '7.1f')}  {fmt(recall, '5.1f')}")
    return lines
