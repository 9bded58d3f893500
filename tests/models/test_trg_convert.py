"""`pyhpe convert trgv2-official`: a checkpoint in the official layout → our model → the official
model's outputs.

The reference is tests/fixtures/trgv2_official_reference.npz: the official TRGv2 code (commit in
the file's ``provenance``) run by tools/trgv2_official_reference.py on the made-up checkpoint and
topology of tests/support/trgv2_official_layout.py — the same tensors this test builds. The
converted model must give its R, t, vertices (head and camera frame), landmarks, correction
parameters and first-iteration pose within 1e-4.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from support.trgv2_official_layout import (
    CROP,
    official_inputs,
    official_state_dict,
    write_official_topology,
)

from pyhpe.cli import main as pyhpe_main
from pyhpe.geometry.rotation import SIXD_INTERLEAVED_TO_COLUMNS
from pyhpe.models import load
from pyhpe.models.trg import convert as convert_mod
from pyhpe.models.trg.convert import convert_official, grid_permutation

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "trgv2_official_reference.npz"
TOL = 1e-4


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURE))


@pytest.fixture(scope="module")
def official_files(tmp_path_factory, reference) -> tuple[Path, Path]:
    """(data dir in the official layout, state_dict.bin) for the made-up checkpoint."""
    root = write_official_topology(tmp_path_factory.mktemp("trgv2_official"))
    shapes = {k: tuple(v) for k, v in json.loads(str(reference["shapes"])).items()}
    checkpoint = root / "state_dict.bin"
    torch.save(official_state_dict(shapes, root), checkpoint)
    return root, checkpoint


@pytest.fixture(scope="module")
def converted(official_files, tmp_path_factory) -> Path:
    root, checkpoint = official_files
    out = tmp_path_factory.mktemp("converted") / "trgv2_official.safetensors"
    assert pyhpe_main(["convert", "trgv2-official", "--checkpoint", str(checkpoint),
                       "--data-dir", str(root), "--out", str(out)]) == 0
    return out


def _run(model) -> object:
    x = official_inputs()
    with torch.no_grad():
        return model(torch.from_numpy(x["images"]), torch.from_numpy(x["K_crop"]),
                     torch.from_numpy(x["bbox_info"]))


def _close(ours: torch.Tensor, theirs: np.ndarray, what: str, tol: float = TOL) -> None:
    err = float(np.abs(ours.numpy().astype(np.float64) - theirs).max())
    assert err <= tol, f"{what}: max |ours − official| = {err:.3g} > {tol}"


def test_the_converted_model_gives_the_official_outputs(converted, reference):
    model, card = load(converted)
    assert card.model == "trgv2_resnet18" and card.task == "trgv2_6dof"
    assert card.kwargs["form"] == "official" and card.crop.kind == "landmark_box"
    assert card.crop.convention == "official"
    out = _run(model)
    R_t = reference["pred_R_t"]  # row-vector poses [R t; 0 1]ᵀ
    _close(out.R, np.transpose(R_t[:, :3, :3], (0, 2, 1)), "R")
    _close(out.t, R_t[:, 3, :3], "t")
    _close(out.vertices, reference["pred_face_world"], "vertices (head frame)")
    _close(out.extra["vertices_cam"], reference["pred_face_cam"], "vertices (camera frame)")
    # the official landmarks are in [-1, 1]: TOL there is TOL * CROP / 2 crop px (about 0.01). The
    # float32 sum order follows the CPU's oneDNN kernels: on an Intel AVX-512 CPU these landmarks
    # differ from the fixture's by 0.006 px (0.0017 px with ONEDNN_MAX_CPU_ISA=AVX2), 6e-5 in [-1, 1]
    _close(out.landmarks, (reference["pred_lmk68"] + 1) / 2 * CROP, "landmarks (crop px)",
           TOL * CROP / 2)
    pose = reference["pred_pose"]
    _close(out.sixd, pose[:, list(SIXD_INTERLEAVED_TO_COLUMNS)], "6D")
    _close(out.extra["correction"], pose[:, 6:], "correction parameters")


def test_the_first_iteration_matches_too(converted, reference):
    """Iteration 1 samples the 18×18 grid (the permuted fc1 columns); iteration 2 the projected
    vertices: checking both pins each permutation separately."""
    model, _ = load(converted)
    out = _run(model)
    first = reference["iter1_pred_pose"]
    a = torch.from_numpy(first[:, list(SIXD_INTERLEAVED_TO_COLUMNS)])
    from pyhpe.tasks.sixd_rotation import sixd_to_rotation

    _close(out.extra["iter_R"][0], sixd_to_rotation(a).numpy(), "iteration-1 R")


def test_the_reference_is_sensitive_to_the_layout(official_files, reference, monkeypatch):
    """Had the converter not reordered the grid's features, the outputs would be far off: the
    fixture has teeth."""
    root, checkpoint = official_files
    monkeypatch.setattr(convert_mod, "grid_permutation", lambda n=18: np.arange(n * n))
    model, _, _ = convert_official(checkpoint, root)
    out = _run(model)
    err = float(np.abs(out.vertices.numpy() - reference["pred_face_world"]).max())
    assert err > 1e-3


def test_grid_permutation_is_the_transpose_of_the_grid():
    m = grid_permutation(18)
    k = np.arange(324)
    assert np.array_equal(m, (k % 18) * 18 + k // 18)


def test_convert_reports_the_flip_source_and_writes_a_card(converted, capsys):
    side = json.loads(converted.with_suffix(".json").read_text())
    assert side["extra"]["converted_from"]["flip"].startswith("flip_index.npy")
    assert len(side["extra"]["converted_from"]["sha256"]) == 64
    assert len(side["card"]["kwargs"]["topology"]["template"]) == 1220


# ---- bad input: one line, nothing written ---------------------------------------------------------

def _convert(capsys, checkpoint, data_dir, out) -> tuple[int, str]:
    code = pyhpe_main(["convert", "trgv2-official", "--checkpoint", str(checkpoint),
                       "--data-dir", str(data_dir), "--out", str(out)])
    err = capsys.readouterr().err
    return code, err


def _assert_refused(capsys, checkpoint, data_dir, out, *needles) -> None:
    code, err = _convert(capsys, checkpoint, data_dir, out)
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pyhpe convert trgv2-official: error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not [p for p in out.parent.glob(".convert-*")]


def test_a_checkpoint_of_another_architecture_is_refused(official_files, tmp_path, capsys):
    root, checkpoint = official_files
    state = torch.load(checkpoint, weights_only=True)
    bad = dict(state)
    bad["regressor.1.fc1.weight"] = bad["regressor.1.fc1.weight"][:, :-5]
    torch.save(bad, tmp_path / "shape.bin")
    _assert_refused(capsys, tmp_path / "shape.bin", root, tmp_path / "a.safetensors", "shape mismatches")
    del bad["regressor.1.fc1.weight"]
    torch.save(bad, tmp_path / "missing.bin")
    _assert_refused(capsys, tmp_path / "missing.bin", root, tmp_path / "b.safetensors", "1 missing keys")
    torch.save({"backbone.conv1.weight": torch.zeros(1)}, tmp_path / "other.bin")
    _assert_refused(capsys, tmp_path / "other.bin", root, tmp_path / "c.safetensors", "unexpected keys")


def test_a_checkpoint_of_another_topology_is_refused(official_files, tmp_path, capsys):
    root, checkpoint = official_files
    state = torch.load(checkpoint, weights_only=True)
    state["regressor.0.init_face"] = state["regressor.0.init_face"] + 0.01
    torch.save(state, tmp_path / "face.bin")
    _assert_refused(capsys, tmp_path / "face.bin", root, tmp_path / "a.safetensors", "init_face")


class _RunsCode:
    def __reduce__(self):
        return (print, ("this pickle ran code",))


def test_a_checkpoint_that_would_run_code_is_refused(official_files, tmp_path, capsys):
    root, _ = official_files
    torch.save({"x": _RunsCode()}, tmp_path / "evil.bin")
    _assert_refused(capsys, tmp_path / "evil.bin", root, tmp_path / "a.safetensors", "evil.bin")
    assert "this pickle ran code" not in capsys.readouterr().out


def test_a_topology_pickle_that_would_run_code_is_refused(official_files, tmp_path, capsys):
    _, checkpoint = official_files
    root = write_official_topology(tmp_path / "evil")
    with open(root / "data" / "arkit_subsample.pkl", "wb") as f:
        pickle.dump({"1220_to_305": _RunsCode()}, f)
    _assert_refused(capsys, checkpoint, root, tmp_path / "a.safetensors", "refusing")
    assert "this pickle ran code" not in capsys.readouterr().out


def test_out_of_range_topology_indices_are_refused(official_files, tmp_path, capsys):
    _, checkpoint = official_files
    root = write_official_topology(tmp_path / "range")
    kpt = np.load(root / "npy" / "kpt_ind.npy")
    kpt[3] = 5000
    np.save(root / "npy" / "kpt_ind.npy", kpt)
    _assert_refused(capsys, checkpoint, root, tmp_path / "a.safetensors", "out of range")


def test_missing_files_and_existing_outputs(official_files, tmp_path, capsys):
    root, checkpoint = official_files
    _assert_refused(capsys, tmp_path / "nope.bin", root, tmp_path / "a.safetensors", "nope.bin")
    _assert_refused(capsys, checkpoint, tmp_path / "empty", tmp_path / "b.safetensors", "not found")
    out = tmp_path / "exists.safetensors"
    out.write_bytes(b"keep me")
    code, err = _convert(capsys, checkpoint, root, out)
    assert code == 1 and "--force" in err and out.read_bytes() == b"keep me"


def test_official_topology_by_name_builds_the_arkit_model(official_files):
    """`topology: official:DIR` in a config: the same topology the converter reads."""
    from pyhpe.models import create_model
    from pyhpe.models.trg import resolve_topology

    root, _ = official_files
    topo = resolve_topology(f"official:{root}")
    assert topo.num_vertices == 1220 and topo.num_subsampled == 305
    model = create_model("trgv2_repnext_m0", topology=f"official:{root}")
    assert model.template.shape == (1220, 3)
    with pytest.raises(FileNotFoundError, match="not found"):
        resolve_topology(f"official:{root}/missing")


def test_pyhpe_eval_takes_the_converted_file(converted, tmp_path, capsys):
    """The converted file straight into `pyhpe eval` on an ARKitFace tree (official crop)."""
    from support.data_fixtures import write_arkitface

    root = tmp_path / "ARKitFace"
    write_arkitface(root, "test", n=2, size=400, symmetric=True)
    assert pyhpe_main(["eval", "--checkpoint", str(converted), "--data", str(root), "--format",
                       "arkitface", "--split", "test", "--out", str(tmp_path / "eval"),
                       "--no-progress"]) == 0
    (res_dir,) = list((tmp_path / "eval").iterdir())
    res = json.loads((res_dir / "results.json").read_text())
    assert res["n"] == 2 and res["model"] == "trgv2_resnet18" and np.isfinite(res["add_mm"])
    capsys.readouterr()


@pytest.mark.parametrize("fmt", ["onnx", "ncnn"])
def test_the_converted_model_exports_within_1e4(converted, tmp_path, fmt):
    """The issue's target: the converted official model's ONNX and ncnn exports agree with
    PyTorch within 1e-4 on every output (landmarks in the official normalised unit 2·px/S)."""
    from pyhpe.export.api import export_model

    model, card = load(converted)
    out = tmp_path / ("m.onnx" if fmt == "onnx" else "m.ncnn.param")
    result = export_model(model, out, fmt, card=card)
    report = result.verification
    assert report["tolerance"] == 1e-4
    per = report["per_output"]
    assert set(k.rsplit("_", 1)[0] for k in per) == {"sixd", "correction", "vertices", "landmarks"}
    assert max(per.values()) <= 1e-4
