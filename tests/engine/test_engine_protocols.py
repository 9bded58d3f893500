"""The paper protocols as configs, end to end on fixture trees in each dataset's real layout (a few
steps): train with the config, evaluate with `pyhpe eval`, check the protocol's report and files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.data_fixtures import write_ddpose

from pyhpe.engine.config import ConfigError, load_config

DDPOSE_CONFIG = "configs/trgv2_ddpose.yaml"


def _ddpose_tree(root):
    """Train subjects 1, 2; val subject 8 (easy, moderate, hard and full-occlusion frames); test 3."""
    for subject in (1, 2, 3):
        write_ddpose(root, subject=subject, stamps=(1000, 1100), labelled=(1000, 1100), size=(96, 72),
                     humanhash=f"item-{subject}", landmarks=True, frontal_deg={1000: 10, 1100: 40})
    write_ddpose(root, subject=8, scenario=5, stamps=(2000, 2100, 2200, 2300, 2400),
                 labelled=(2000, 2100, 2200, 2300, 2400), size=(96, 72), humanhash="val-item",
                 landmarks=True, frontal_deg={2000: 12, 2100: 22, 2200: 42, 2300: 66, 2400: 20},
                 occlusion={2100: "partial", 2400: "full"})
    return root


def _tiny(root, out):
    return [f"data.train.path={root}", f"data.val.0.path={root}",
            "model.kwargs={topology: synthetic, hidden: 32, dropout: 0.0}",
            "data.input_size=64", "data.workers=0", "train.batch_size=4", "train.epochs=1",
            "train.max_steps_per_epoch=2", "train.threads=1", "output.progress=false",
            f"output.dir={out}"]


def test_ddpose_config_is_the_papers(tmp_path):
    cfg = load_config(DDPOSE_CONFIG, [f"data.train.path={tmp_path}", f"data.val.0.path={tmp_path}"])
    tr, aug, data = cfg["train"], cfg["augment"], cfg["data"]
    assert cfg["model"]["name"] == "trgv2_resnet18"
    assert (tr["lr"], tr["weight_decay"], tr["schedule"], tr["lr_steps"], tr["lr_gamma"]) == (1e-4, 0.0, "step", [180], 0.1)
    assert (tr["epochs"], tr["batch_size"], data["input_size"]) == (200, 512, 192)
    assert (aug["flip"], aug["rotate"], aug["rotate_deg"], aug["jitter"]) == (0.5, 0.3, 30.0, 0.3)
    assert (data["train"]["format"], data["train"]["split"]) == ("ddpose", "train")
    assert [(v["format"], v["split"]) for v in data["val"]] == [("ddpose", "val")]
    assert "Table 6" in open(DDPOSE_CONFIG).read().split("\nname:")[0]


@pytest.mark.parametrize("override, message", [
    ("data.train.split=dev", "'data.train.split' must be one of train, val, test, all for format ddpose, got 'dev'"),
    ("data.val.0.format=sixdof", "'data.val.0.split': format sixdof has no splits (only arkitface: train|test, "
                                 "ddpose: train|val|test|all)"),
])
def test_ddpose_split_key_is_validated(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        load_config(DDPOSE_CONFIG, [f"data.train.path={tmp_path}", f"data.val.0.path={tmp_path}", override])


def test_ddpose_split_reaches_the_loader(tmp_path):
    from pyhpe.engine.data import open_samples

    cfg = load_config(DDPOSE_CONFIG, [f"data.train.path={_ddpose_tree(tmp_path)}", f"data.val.0.path={tmp_path}"])
    assert len(open_samples(cfg["data"]["train"])) == 4  # subjects 1 and 2
    assert len(open_samples(cfg["data"]["val"][0])) == 5  # subject 8
    cfg["data"]["train"]["split"] = None  # the loader's default: all
    assert len(open_samples(cfg["data"]["train"])) == 11


def test_ddpose_config_trains_evaluates_and_exports(tmp_path, capsys):
    from pyhpe.cli import main
    from pyhpe.data.ddpose import DDPose, read_ddpose_predictions
    from pyhpe.engine.trainer import train
    from pyhpe.models.io import load_model
    from pyhpe.tasks import task_of

    root = _ddpose_tree(tmp_path / "DD-Pose")
    summary = train(load_config(DDPOSE_CONFIG, _tiny(root, tmp_path / "runs")))
    run = tmp_path / "runs" / summary["run_dir"].split("/")[-1]
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert np.isfinite(final["ddpose-val/mae_r"])
    ckpt = str(run / "model.safetensors")

    zip_out = tmp_path / "val.zip"
    assert main(["eval", "--checkpoint", ckpt, "--data", str(root), "--format", "ddpose", "--split", "val",
                 "--predictions-out", str(zip_out), "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "DD-Pose (devkit)" in printed and "moderate" in printed and f"predictions: {zip_out}" in printed
    (res_dir,) = list((tmp_path / "eval").iterdir())
    res = json.loads((res_dir / "results.json").read_text())
    assert res["n"] == 5 and set(res["ddpose"]) == {"all", "easy", "moderate", "hard"}
    table = res["ddpose"]
    # val frames: 12° none (easy), 22° partial (moderate), 42° none (moderate), 66° none (hard),
    # 20° full (skipped, as the devkit does)
    assert [table[s]["n"] for s in ("all", "easy", "moderate", "hard")] == [4, 1, 2, 1]
    assert table["all"]["recall"] == 1.0 and table["hard"]["bmae"] is not None

    # the zip holds the devkit's layout; its transforms are the model's R, t composed [[R, t], [0, 1]]
    items, meta = read_ddpose_predictions(zip_out)
    assert set(items) == {"subject-08/scenario-05/val-item"}
    assert meta["name"] == "trgv2_resnet18" and meta["metadata"]["split"] == "val"
    model, card = load_model(ckpt)
    task = task_of(model)
    data = DDPose(root, split="val")
    tf = task.test_transform(card.crop, card.input_size, {})
    batch = {k: torch.stack([tf(data[i])[k] for i in range(len(data))]) for k in ("image", "K_crop", "box")}
    with torch.no_grad():
        out = model.eval()(batch["image"], batch["K_crop"], batch["box"])
    got = items["subject-08/scenario-05/val-item"]
    for i, stamp in enumerate(data.frames().stamp):
        np.testing.assert_allclose(got[stamp][:3, :3], out.R[i].double().numpy(), atol=1e-5)
        np.testing.assert_allclose(got[stamp][:3, 3], out.t[i].double().numpy(), atol=1e-5)
        np.testing.assert_array_equal(got[stamp][3], [0, 0, 0, 1])

    # the test split into a folder; a bad split name and a non-DD-Pose export: one line each
    assert main(["eval", "--checkpoint", ckpt, "--data", str(root), "--split", "test",
                 "--predictions-out", str(tmp_path / "test-preds"), "--out", str(tmp_path / "eval2"),
                 "--no-progress"]) == 0
    assert (tmp_path / "test-preds" / "metadata.json").is_file()
    assert (tmp_path / "test-preds" / "subject-03" / "scenario-02" / "item-3"
            / "t-camdriver-head-predictions.json").is_file()
    capsys.readouterr()
    assert main(["eval", "--checkpoint", ckpt, "--data", str(root), "--split", "dev",
                 "--out", str(tmp_path / "eval3"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ddpose split must be one of train, val, test, all, got 'dev'" in err[0]
    assert main(["eval", "--checkpoint", ckpt, "--data", str(root), "--predictions-out", str(zip_out),
                 "--out", str(tmp_path / "eval3"), "--no-progress"]) == 1
    assert "already exists" in capsys.readouterr().err


# ---- ARKitFace -> ARKitFace (Table 4) and ARKitFace -> BIWI (Table 5) -----------------------------

ARKIT_CONFIG = "configs/trgv2_arkitface.yaml"
BIWI_CONFIG = "configs/trgv2_arkitface_to_biwi.yaml"


def _arkit_tiny(official, train_path, val_path, out):
    return [f"model.kwargs.topology=official:{official}", f"data.train.path={train_path}",
            f"data.val.0.path={val_path}", "data.input_size=64", "data.workers=0",
            "train.batch_size=2", "train.epochs=1", "train.max_steps_per_epoch=2", "train.threads=1",
            "output.progress=false", f"output.dir={out}"]


@pytest.mark.parametrize("path", [ARKIT_CONFIG, BIWI_CONFIG])
def test_arkitface_configs_are_the_papers(tmp_path, path):
    cfg = load_config(path, [f"data.train.path={tmp_path}", f"data.val.0.path={tmp_path}"])
    tr, aug, data = cfg["train"], cfg["augment"], cfg["data"]
    assert cfg["model"]["name"] == "trgv2_resnet18"
    assert cfg["model"]["kwargs"]["topology"].startswith("official:")
    assert (tr["lr"], tr["weight_decay"], tr["schedule"], tr["lr_steps"], tr["lr_gamma"]) == (1e-4, 0.0, "step", [20], 0.1)
    assert (tr["epochs"], tr["batch_size"], tr["warmup_epochs"], data["input_size"]) == (30, 512, 0, 192)
    assert (aug["flip"], aug["rotate"], aug["rotate_deg"], aug["jitter"]) == (0.5, 0.3, 30.0, 0.3)
    assert (data["train"]["format"], data["train"]["split"]) == ("arkitface", "train")
    header = open(path).read().split("\nname:")[0]
    assert ("Table 4" if path == ARKIT_CONFIG else "Table 5") in header


def _official_topology_dir(tmp_path):
    from support.trgv2_official_layout import write_official_topology

    return write_official_topology(tmp_path / "TRGv2_PR26_Released")


def test_arkitface_config_trains_and_evaluates(tmp_path, capsys):
    from support.data_fixtures import write_arkitface

    from pyhpe.cli import main
    from pyhpe.engine.trainer import train

    root = tmp_path / "ARKitFace"
    write_arkitface(root, "train", n=4, size=160, symmetric=True, flip_index=True)
    write_arkitface(root, "test", n=3, size=160, symmetric=True)
    official = _official_topology_dir(tmp_path)
    summary = train(load_config(ARKIT_CONFIG, _arkit_tiny(official, root, root, tmp_path / "runs")))
    run = tmp_path / "runs" / summary["run_dir"].split("/")[-1]
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert np.isfinite(final["arkitface-test/mae_r"])
    card = json.loads((run / "model.json").read_text())["card"]
    assert len(card["kwargs"]["topology"]["template"]) == 1220  # self-contained: no path to the files
    assert main(["eval", "--checkpoint", str(run / "model.safetensors"), "--data", str(root),
                 "--format", "arkitface", "--split", "test", "--out", str(tmp_path / "eval"),
                 "--no-progress"]) == 0
    (res_dir,) = list((tmp_path / "eval").iterdir())
    res = json.loads((res_dir / "results.json").read_text())
    assert res["n"] == 3  # the test split, not the train split
    for key in ("mae_r", "ge", "mae_t_mm", "add_mm"):
        assert np.isfinite(res[key]), key
    assert "dense face" in capsys.readouterr().out


def test_arkitface_to_biwi_config_evaluates_with_per_sequence_offsets(tmp_path, capsys):
    from support.data_fixtures import write_arkitface, write_biwi_fan, write_biwi_raw

    from pyhpe.cli import main
    from pyhpe.data.biwi_raw import BIWIRaw
    from pyhpe.engine.evaluate import _per_sequence_offsets
    from pyhpe.engine.trainer import train
    from pyhpe.geometry.alignment import read_reference_offsets

    arkit = tmp_path / "ARKitFace"
    write_arkitface(arkit, "train", n=4, size=160, symmetric=True, flip_index=True)
    biwi = write_biwi_raw(tmp_path / "biwi") / "hpdb"
    fan = write_biwi_fan(biwi, missing=((2, 4),))
    official = _official_topology_dir(tmp_path)
    summary = train(load_config(BIWI_CONFIG, _arkit_tiny(official, arkit, fan, tmp_path / "runs")))
    run = tmp_path / "runs" / summary["run_dir"].split("/")[-1]
    ckpt = str(run / "model.safetensors")
    assert main(["eval", "--checkpoint", ckpt, "--data", str(fan), "--format", "biwi-raw",
                 "--reference-offset", "trgv2-biwi", "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    (res_dir,) = list((tmp_path / "eval").iterdir())
    res = json.loads((res_dir / "results.json").read_text())
    assert res["n"] == 5  # 6 frames, one without a FAN prediction
    assert np.isfinite(res["aligned"]["mae_t_mm"]) and res["aligned"]["mae_t_mm"] != res["mae_t_mm"]

    # each prediction got its own sequence's ΔT, in the dataset's order
    offsets = read_reference_offsets("trgv2-biwi")
    ds = BIWIRaw(biwi, fan_annotations=fan)
    per = _per_sequence_offsets(ds, offsets, "trgv2-biwi", len(ds))
    assert ds.sequences() == ["01", "01", "01", "02", "02"]
    np.testing.assert_array_equal(per, np.stack([offsets[k] for k in ds.sequences()]))
    with pytest.raises(ValueError, match="no offset for sequence"):
        _per_sequence_offsets(ds, {"01": offsets["01"], "03": offsets["03"]}, "x.json", len(ds))
    capsys.readouterr()


def test_ddpose_withheld_test_split_writes_the_submission_only(tmp_path, capsys):
    """Test items without t-camdriver-head.json (as DD-Pose ships them): the frames of stamps.txt
    that have an image are predicted and written in the submission layout; no metrics; without
    --predictions-out one line says why nothing can be scored."""
    from support.data_fixtures import write_ddpose

    from pyhpe.cli import main
    from pyhpe.data.ddpose import DDPose, read_ddpose_predictions
    from pyhpe.engine.trainer import train

    root = _ddpose_tree(tmp_path / "DD-Pose")
    for subject in (6, 10):  # withheld: no labels; subject 10 lists a stamp without an image
        item = write_ddpose(root, subject=subject, stamps=(5000, 5100), labelled=(), size=(96, 72),
                            humanhash=f"test-{subject}", landmarks=True)
        (item / "t-camdriver-head.json").unlink()
        if subject == 10:
            (item / "stamps.txt").write_text("5000\n5100\n5200\n")
    data = DDPose(root, split="test")
    assert data.missing_images == 1
    assert data.frames().labelled.tolist() == [True, True, False, False, False, False]
    assert not data[2].extra["labelled"]
    assert len(DDPose(root, split="all")) == 11  # other splits: labelled frames only

    summary = train(load_config(DDPOSE_CONFIG, _tiny(root, tmp_path / "runs")))
    ckpt = str(tmp_path / "runs" / summary["run_dir"].split("/")[-1] / "model.safetensors")
    args = ["eval", "--checkpoint", ckpt, "--data", str(root), "--format", "ddpose", "--split", "test",
            "--out", str(tmp_path / "eval"), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "4 frames of" in err and "--predictions-out" in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "test.zip"
    assert main([*args, "--predictions-out", str(out)]) == 0
    assert "no metrics" in capsys.readouterr().out
    items, _ = read_ddpose_predictions(out)
    assert sorted(items) == ["subject-03/scenario-02/item-3", "subject-06/scenario-02/test-6",
                             "subject-10/scenario-02/test-10"]
    assert sorted(items["subject-10/scenario-02/test-10"]) == [5000, 5100]
    for T in items["subject-06/scenario-02/test-6"].values():
        assert np.isfinite(T).all() and np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-5)
    assert not (tmp_path / "eval").exists()  # no results written: nothing was scored
