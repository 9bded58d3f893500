"""The trgv2_6dof task: the loss terms against hand computations (iteration weights, δ_3D per
sample, paper vs code forms), and TRGv2 through the unchanged engine: train, checkpoint, model
file with the landmark-box card, `pyhpe eval` with the 6DoF metrics."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pyhpe.geometry import euler_to_matrix
from pyhpe.models.outputs import PoseOutput
from pyhpe.tasks import get_task
from pyhpe.tasks.trgv2_losses import LossWeights, trgv2_loss

pytestmark = pytest.mark.usefixtures("one_thread")

V, S = 5, 32


def _batch(B=2):
    g = torch.Generator().manual_seed(0)
    R = euler_to_matrix(torch.tensor([[10.0, -20.0, 5.0], [-5.0, 40.0, 0.0]])[:B], degrees=True).float()
    t = torch.tensor([[0.02, -0.01, 0.5], [-0.03, 0.02, 0.8]])[:B]
    K = torch.tensor([[100.0, 0, 15.5], [0, 100.0, 15.5], [0, 0, 1]]).expand(B, 3, 3)
    return {"image": torch.zeros(B, 3, S, S), "R": R, "t": t, "K_crop": K,
            "vertices": 0.05 * torch.randn(B, V, 3, generator=g),
            "landmarks": 30 * torch.rand(B, 68, 2, generator=g),
            "landmarks_visible": torch.ones(B, 68, dtype=torch.bool), "has_3d": torch.ones(B)}


def _perfect(batch, iterations=2):
    T = iterations
    rep = lambda x: x[None].expand(T, *x.shape).clone()  # noqa: E731
    return PoseOutput(R=batch["R"], t=batch["t"], vertices=batch["vertices"],
                      landmarks=batch["landmarks"].clone(),
                      extra={"iter_R": rep(batch["R"]), "iter_t": rep(batch["t"]),
                             "iter_vertices": rep(batch["vertices"])})


def test_perfect_prediction_has_zero_loss():
    batch = _batch()
    total, terms = trgv2_loss(_perfect(batch), batch)
    assert float(total) == pytest.approx(0.0, abs=1e-5)
    assert set(terms) == {"head", "cam", "img", "rot", "landmarks"}


def test_vertex_terms_and_iteration_weights_by_hand():
    """A 1 cm x-offset of every vertex in iteration 1 only: L_head = w_1 λ_head · 0.01 with
    w_1 = 2^(1−2) = 0.5; L_cam = w_1 λ_cam · |R (0.01, 0, 0)|_1 (paper: per-vertex L1 norm)."""
    batch = _batch()
    out = _perfect(batch)
    out.extra["iter_vertices"][0] += torch.tensor([0.01, 0.0, 0.0])
    _, terms = trgv2_loss(out, batch)
    assert float(terms["head"]) == pytest.approx(0.5 * 20 * 0.01, rel=1e-4)
    cam = batch["R"][:, :, 0].abs().sum(1).mean() * 0.01
    assert float(terms["cam"]) == pytest.approx(0.5 * 2 * float(cam), rel=1e-4)
    _, code = trgv2_loss(out, batch, LossWeights(form="code"))
    assert float(code["head"]) == pytest.approx(float(terms["head"]) / 3, rel=1e-4)


def test_rotation_term_paper_and_code_forms():
    """R = Rz(θ) R*: ‖R − R*‖_F = 2 sqrt(1 − cos θ) (paper), squared / 9 (code), both iterations."""
    batch = _batch()
    theta = math.radians(12.0)
    Rz = torch.tensor([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0],
                       [0, 0, 1]])
    out = _perfect(batch)
    out.extra["iter_R"] = (Rz @ batch["R"])[None].expand(2, -1, -1, -1)
    fro = 2 * math.sqrt(1 - math.cos(theta))
    _, paper = trgv2_loss(out, batch)
    _, code = trgv2_loss(out, batch, LossWeights(form="code"))
    assert float(paper["rot"]) == pytest.approx(1.5 * 10 * fro, rel=1e-4)
    assert float(code["rot"]) == pytest.approx(1.5 * 10 * fro ** 2 / 9, rel=1e-4)


def test_samples_without_3d_truth_train_through_2d_terms_only():
    batch = _batch()
    out = _perfect(batch)
    out.extra["iter_vertices"] += 0.01  # every vertex off by 1 cm in every axis
    _, both = trgv2_loss(out, batch)
    mixed = dict(batch, has_3d=torch.tensor([1.0, 0.0]))
    mixed["vertices"] = batch["vertices"].clone()
    mixed["vertices"][1] = 1e6  # garbage labels of the sample without 3D truth: ignored
    _, only_first = trgv2_loss(out, mixed)
    assert float(only_first["head"]) == pytest.approx(float(both["head"]), rel=1e-5)
    assert torch.isfinite(only_first["cam"])
    # with 2D vertex labels, that sample contributes the image term instead
    labels = dict(mixed, vertices_img=torch.zeros(2, V, 2))
    _, with_img = trgv2_loss(out, labels)
    assert float(with_img["img"]) > 0 and float(only_first["img"]) == 0.0


def test_landmark_term_counts_visible_points_only():
    batch = _batch()
    out = _perfect(batch)
    out.landmarks[:, :34] += torch.tensor([float(S) / 2, 0.0])  # 0.5 crop widths = 1.0 normalised
    batch["landmarks_visible"][:, :34] = False
    _, hidden = trgv2_loss(out, batch)
    assert float(hidden["landmarks"]) == pytest.approx(0.0, abs=1e-6)
    batch["landmarks_visible"][:] = True
    _, seen = trgv2_loss(out, batch)
    assert float(seen["landmarks"]) == pytest.approx(1.25 * 0.5, rel=1e-4)


TINY = [
    "model.kwargs={topology: synthetic, hidden: 32, dropout: 0.0}",
    "data.train.n=8", "data.train.render_size=96",
    "data.val=[{name: val, format: synthetic, n: 4, seed: 5, render_size: 96, depth: [0.4, 0.6]}]",
    "data.input_size=64", "data.workers=0",
    "train.batch_size=4", "train.epochs=2", "train.threads=1", "output.progress=false",
]


def test_trgv2_trains_and_evaluates_through_the_engine(tmp_path):
    from pyhpe.cli import main
    from pyhpe.engine.config import load_config
    from pyhpe.engine.trainer import train
    from pyhpe.models.io import load_model

    cfg = load_config("configs/trgv2_synthetic.yaml", [*TINY, f"output.dir={tmp_path}"])
    summary = train(cfg)
    run = tmp_path / summary["run_dir"].split("/")[-1]
    final = json.loads((run / "metrics.json").read_text())["final"]
    for key in ("val/mae_r", "val/ge", "val/mae_t_mm", "val/add_mm", "val/vertex_median_mm"):
        assert math.isfinite(final[key]) and final[key] >= 0, key
    model, card = load_model(run / "model.safetensors")
    assert card.task == "trgv2_6dof" and card.crop.kind == "landmark_box" and card.crop.margin == 0.5
    assert card.kwargs["hidden"] == 32 and card.input_size == 64
    rc = main(["eval", "--checkpoint", str(run / "model.safetensors"), "--data", "synthetic",
               "--n", "4", "--render-size", "96", "--out", str(tmp_path / "eval"), "--no-progress"])
    assert rc == 0
    (res_dir,) = list((tmp_path / "eval").iterdir())
    res = json.loads((res_dir / "results.json").read_text())
    assert res["n"] == 4 and {"mae_r", "ge", "mae_t_mm", "add_mm"} <= set(res)

    # with a reference-system offset: the report adds the metrics of t + R·ΔT, computed here
    # independently from the model's own predictions
    from pyhpe.geometry.alignment import write_reference_offsets

    delta = [0.0, 0.01, -0.02]
    write_reference_offsets(tmp_path / "offsets.json", {"01": delta, "02": [0.0, 0.0, 0.0]})
    common = ["eval", "--checkpoint", str(run / "model.safetensors"), "--data", "synthetic", "--n", "4",
              "--render-size", "96", "--depth", "0.4", "0.6", "--no-progress"]
    assert main([*common, "--reference-offset", f"{tmp_path / 'offsets.json'}:01",
                 "--out", str(tmp_path / "eval2")]) == 0
    (res_dir,) = list((tmp_path / "eval2").iterdir())
    res = json.loads((res_dir / "results.json").read_text())
    from pyhpe.data.sixdof_crop import SixDoFCrop
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    heads = SyntheticHeads(4, seed=1, config=SynthConfig(size=96, depth=(0.4, 0.6)))
    items = [SixDoFCrop(64, None)(heads[i]) for i in range(4)]
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    with torch.no_grad():
        out = model.eval()(batch["image"], batch["K_crop"], batch["box"])
    t_al = out.t.double() + out.R.double() @ torch.tensor(delta, dtype=torch.float64)
    mae_t = float((t_al - batch["t"].double()).abs().mean() * 1000)
    assert res["aligned"]["mae_t_mm"] == pytest.approx(mae_t, abs=1e-2)
    assert main([*common, "--reference-offset", str(tmp_path / "offsets.json"),
                 "--out", str(tmp_path / "eval3")]) == 1  # two offsets: pick one


def test_rotation_only_sources_are_refused_for_6dof():
    task = get_task("trgv2_6dof")
    from pyhpe.data.sample import Sample

    s = Sample(image=torch.zeros(64, 64, 3, dtype=torch.uint8).numpy(), R=torch.eye(3).numpy(),
               euler=torch.zeros(3).numpy(), landmarks=torch.rand(68, 2).numpy() * 60, source="x.jpg")
    tf = task.test_transform(task.default_crop, 64, {})
    with pytest.raises(ValueError, match="rotation-only"):
        tf(s)


def test_a_6dof_config_on_a_rotation_only_dataset_is_refused(tmp_path):
    from pyhpe.engine.config import load_config
    from pyhpe.engine.trainer import train

    cfg = load_config("configs/trgv2_synthetic.yaml", [
        *TINY, f"output.dir={tmp_path}",
        f"data.train={{format: 300wlp, path: {tmp_path}}}"])
    with pytest.raises(ValueError, match="data.train: format 300wlp is rotation-only"):
        train(cfg)
