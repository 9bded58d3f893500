"""`pyhpe eval`: pyhpe model files, training checkpoints and official-format .pth files give the
same numbers as running the model directly; one-line errors for missing inputs."""

from __future__ import annotations

import json

import pytest
import torch

from pyhpe.cli import main
from pyhpe.data.synthetic import SynthConfig, SyntheticHeads
from pyhpe.data.transforms import SixDRepNetTest
from pyhpe.metrics import pose_report
from pyhpe.models import create_model, reparameterize
from pyhpe.models.io import save_model


pytestmark = pytest.mark.usefixtures("one_thread")


def _direct_report(model, n=6, seed=3, size=64, test_resize=256, margin=0.2):
    """Independent path: render, the 6DRepNet test transform, the model, pyhpe.metrics."""
    ds = SyntheticHeads(n=n, seed=seed, config=SynthConfig(size=96))
    tf = SixDRepNetTest(resize_to=round(test_resize * size / 224), size=size, margin=margin)
    items = [tf(ds[i]) for i in range(n)]
    x = torch.stack([it["image"] for it in items])
    with torch.no_grad():
        R = model.eval()(x).R
    return pose_report(R, torch.stack([it["R"] for it in items]), torch.stack([it["euler"] for it in items]))


def _eval(tmp_path, ckpt, *extra):
    out = tmp_path / "out"
    rc = main(["eval", "--checkpoint", str(ckpt), "--data", "synthetic", "--n", "6", "--seed", "3",
               "--render-size", "96", "--out", str(out), "--no-progress", *extra])
    assert rc == 0
    (run,) = sorted(out.iterdir())[-1:]
    assert (run / "error_vs_yaw.png").is_file()
    res = json.loads((run / "results.json").read_text())
    for p in out.iterdir():
        for f in p.iterdir():
            f.unlink()
        p.rmdir()
    return res


def _close(res, ref):
    assert res["n"] == ref["n"]
    assert res["geodesic_deg"] == pytest.approx(ref["geodesic_deg"], abs=1e-3)
    for form in ("mae_6drepnet", "mae_wrap360"):
        for k in ("yaw", "pitch", "roll", "mean"):
            assert res[form][k] == pytest.approx(ref[form][k], abs=1e-3)


def test_eval_pyhpe_model_file(tmp_path):
    torch.manual_seed(0)
    model = create_model("sixdrepnet_repnext_m0")
    path = save_model(model, tmp_path / "m.safetensors", name="sixdrepnet_repnext_m0", input_size=64)
    res = _eval(tmp_path, path)
    assert res["checkpoint_kind"] == "pyhpe-model" and res["input_size"] == 64
    _close(res, _direct_report(model))


@pytest.mark.parametrize("flag, value, direct, bad", [
    ("--test-resize", "224", {"test_resize": 224}, "200"),  # 224: no centre cut, as the demo evaluates
    ("--test-margin", "0.3", {"margin": 0.3}, "-1"),
])
def test_eval_test_crop_options(tmp_path, capsys, flag, value, direct, bad):
    torch.manual_seed(0)
    model = create_model("sixdrepnet_repnext_m0")
    path = save_model(model, tmp_path / "m.safetensors", name="sixdrepnet_repnext_m0", input_size=64)
    _close(_eval(tmp_path, path, flag, value), _direct_report(model, **direct))
    assert main(["eval", "--checkpoint", str(path), "--data", "synthetic", flag, bad]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0]


def test_eval_official_release_format(tmp_path):
    # a 6DRepNet release is a fused state_dict with `layerN.` keys, read with weights_only=True
    torch.manual_seed(0)
    model = reparameterize(create_model("sixdrepnet_repvgg_a0").eval())
    state = {k.replace("backbone.stage", "layer"): v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "release.pth")
    res = _eval(tmp_path, tmp_path / "release.pth", "--model", "sixdrepnet_repvgg_a0", "--input-size", "64")
    assert res["checkpoint_kind"] == "official"
    _close(res, _direct_report(model))


def test_eval_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", "--checkpoint", str(tmp_path / "missing.pth"), "--data", "synthetic"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint not found" in err[0]
    torch.manual_seed(0)
    path = save_model(create_model("sixdrepnet_repnext_m0"), tmp_path / "m.safetensors", name="sixdrepnet_repnext_m0")
    assert main(["eval", "--checkpoint", str(path), "--data", str(tmp_path / "nodata")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data not found" in err[0]


def test_eval_leaves_unreadable_samples_out(tmp_path, capsys):
    """A corrupt image among AFLW2000 samples is named, counted and left out of the metrics: the
    report equals evaluating the readable samples alone (not the corrupt one replaced by another)."""
    import shutil

    from support.data_fixtures import face_like_points, write_pose_mat_pair

    torch.manual_seed(0)
    save_model(create_model("sixdrepnet_repnext_m0").eval(), tmp_path / "m.safetensors",
               name="sixdrepnet_repnext_m0", input_size=64)
    full, good = tmp_path / "aflw", tmp_path / "aflw-good"
    for i in range(4):
        write_pose_mat_pair(full, f"image{i:05d}", [20.0 * i - 30, 5.0 * i, -3.0 * i], face_like_points())
    shutil.copytree(full, good)
    (full / "image00001.jpg").write_bytes(b"not a jpeg")
    for p in good.glob("image00001.*"):
        p.unlink()

    def run(data, *extra):
        out = tmp_path / f"out-{data.name}"
        status = main(["eval", "--checkpoint", str(tmp_path / "m.safetensors"), "--data", str(data),
                       "--format", "aflw2000", "--out", str(out), "--no-progress", *extra])
        results = [json.loads(p.read_text()) for p in out.glob("*/results.json")]
        return status, results[0] if results else None

    status, with_bad = run(full)
    err = capsys.readouterr().err
    assert status == 3 and err.count("pyhpe eval: skipped ") == 1 and "image00001.jpg" in err
    status_good, alone = run(good)
    assert status_good == 0
    assert with_bad["n"] == alone["n"] == 3 and with_bad["skipped"] == 1 and alone["skipped"] == 0
    assert with_bad["mae_6drepnet"] == pytest.approx(alone["mae_6drepnet"], abs=1e-9)
    assert with_bad["geodesic_deg"] == pytest.approx(alone["geodesic_deg"], abs=1e-9)
    assert run(full, "--strict")[0] == 1
