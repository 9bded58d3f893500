"""Every ``pyhpe`` command that reads a file, given a missing, a corrupt and a wrong-format file:
one line on stderr, the documented exit status, never a traceback.

Each case runs the command line in-process (``pyhpe.cli.main``, the dispatcher a user's ``pyhpe``
runs): an exception escaping ``main`` is the traceback a user would see. The cases write the table
of docs/security.md ("Bad input files, command by command"); the test fails when the document
differs from what the commands print now (``PYHPE_UPDATE_DOCS=1 pytest tests/cli/test_bad_inputs.py``
rewrites it). A few cases also run as real subprocesses, to check the one-line promise end to end.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from support import PYHPE, REPO_ROOT, run_command

from pyhpe.cli import main
from pyhpe.data.files import write_image_rgb

DOC = REPO_ROOT / "docs" / "security.md"
BEGIN, END = "<!-- bad-inputs:begin (tests/cli/test_bad_inputs.py) -->", "<!-- bad-inputs:end -->"
KINDS = ("missing", "corrupt", "wrong format")
EXIT_SKIPPED = 3  # a batch command finished but skipped bad items (pyhpe predict, data check, eval)


@dataclass
class Slot:
    """One file argument of one command: how to run it with ``{}`` in place of the file, and the
    file to give for each kind of bad input (names relative to the workspace)."""
    command: str
    argument: str
    argv: list[str]
    files: dict[str, str]
    expect: dict[str, int] = field(default_factory=dict)  # kind -> exit status (default 1)


def _garbage(path: Path, n: int = 600, seed: int = 0) -> Path:
    """Deterministic random bytes: what a truncated download or a disk error leaves."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """The workspace: valid files (a model, an image, a config) and the bad ones."""
    from support.data_fixtures import face_like_points, write_pose_mat_pair
    from support.trgv2_models import random_trgv2
    from support.trgv2_official_layout import write_official_topology

    from pyhpe.models import create_model
    from pyhpe.models.io import save_model

    w = tmp_path_factory.mktemp("bad-inputs")
    torch.manual_seed(0)
    save_model(create_model("sixdrepnet_repnext_m0").eval(), w / "model.safetensors",
               name="sixdrepnet_repnext_m0", input_size=64)
    image = np.full((96, 96, 3), 120, np.uint8)
    write_image_rgb(w / "good.png", image)
    (w / "config.yaml").write_text(
        "model: {name: sixdrepnet_repnext_m0}\n"
        "data: {train: {format: synthetic, n: 8, render_size: 64}, val: [], input_size: 64, workers: 0}\n"
        "train: {epochs: 1, batch_size: 4, threads: 1}\noutput: {progress: false}\n")
    (w / "notes.txt").write_text("a text file, not what the command reads\n")
    (w / "image.onnx").write_bytes((w / "good.png").read_bytes())  # a PNG under an ONNX name
    (w / "list.yaml").write_text("- 1\n- 2\n")
    for ext in ("yaml", "safetensors", "png", "jpg", "mp4", "onnx", "json", "pth", "bin", "param",
                "npy", "obj", "pkl", "txt", "mat"):
        _garbage(w / f"corrupt-{ext}.{ext}")  # its own stem: no sidecar of another slot beside it
    # a folder with one good and one corrupt image; a dataset folder with one corrupt image
    write_image_rgb(w / "mixed" / "a.png", image)
    _garbage(w / "mixed" / "b.jpg")
    pts = face_like_points()
    for i, stem in enumerate(("image00001", "image00002")):
        write_pose_mat_pair(w / "aflw", stem, [10.0 * i, 5.0, 0.0], pts)
    _garbage(w / "aflw" / "image00002.jpg")
    _garbage(w / "aflw-broken" / "image00003.mat")
    _garbage(w / "aflw-broken" / "image00003.jpg")
    (w / "empty").mkdir()
    (w / "text.param").write_text("a text file, not an ncnn model\n")
    (w / "compare.yaml").write_text("models: [sixdrepnet_repnext_m0]\nseeds: [0]\n"
                                    "data: {train: {format: synthetic, n: 8, render_size: 64}, input_size: 64,\n"
                                    "       val: [{format: synthetic, n: 4, render_size: 64}]}\n")
    _garbage(w / "text.bin")
    _garbage(w / "corrupt-param.bin", seed=1)
    save_model(random_trgv2(), w / "trg.safetensors", name="trgv2_repnext_m0", input_size=64)
    write_official_topology(w / "official")
    return w


def _slots() -> list[Slot]:
    M = "{ws}/model.safetensors"
    return [
        Slot("pyhpe train", "--config", ["train", "--config", "{}"],
             {"missing": "nope.yaml", "corrupt": "corrupt-yaml.yaml", "wrong format": "model.safetensors"}),
        Slot("pyhpe train", "--resume", ["train", "--config", "{ws}/config.yaml", "--resume", "{}"],
             {"missing": "nope.safetensors", "corrupt": "corrupt-safetensors.safetensors",
              "wrong format": "model.safetensors"}),
        Slot("pyhpe eval", "--checkpoint", ["eval", "--checkpoint", "{}", "--data", "synthetic", "--n", "2",
                                            "--render-size", "64", "--no-progress", "--out", "{ws}/out"],
             {"missing": "nope.safetensors", "corrupt": "corrupt-safetensors.safetensors", "wrong format": "config.yaml"}),
        Slot("pyhpe eval", "--data", ["eval", "--checkpoint", M, "--data", "{}", "--format", "aflw2000",
                                      "--no-progress", "--out", "{ws}/out"],
             {"missing": "nope", "corrupt": "aflw", "wrong format": "notes.txt"},
             {"corrupt": EXIT_SKIPPED}),
        Slot("pyhpe eval", "--reference-offset", ["eval", "--checkpoint", "{ws}/trg.safetensors", "--data", "synthetic", "--n", "2",
                                                  "--render-size", "64", "--no-progress", "--out", "{ws}/out",
                                                  "--reference-offset", "{}"],
             {"missing": "nope.json", "corrupt": "corrupt-json.json", "wrong format": "good.png"}),
        Slot("pyhpe predict", "INPUT (image)", ["predict", "{}", "--checkpoint", M, "--out", "{ws}/out",
                                                "--no-draw"],
             {"missing": "nope.png", "corrupt": "corrupt-jpg.jpg", "wrong format": "notes.txt"}),
        Slot("pyhpe predict", "INPUT (folder)", ["predict", "{}", "--checkpoint", M, "--out", "{ws}/out",
                                                 "--no-draw"],
             {"missing": "nope", "corrupt": "mixed", "wrong format": "empty"},
             {"corrupt": EXIT_SKIPPED}),
        Slot("pyhpe predict", "INPUT (video)", ["predict", "{}", "--checkpoint", M, "--out", "{ws}/out",
                                                "--no-draw"],
             {"missing": "nope.mp4", "corrupt": "corrupt-mp4.mp4", "wrong format": "corrupt-txt.txt"}),
        Slot("pyhpe predict", "--checkpoint", ["predict", "{ws}/good.png", "--checkpoint", "{}",
                                               "--out", "{ws}/out", "--no-draw"],
             {"missing": "nope.safetensors", "corrupt": "corrupt-safetensors.safetensors", "wrong format": "config.yaml"}),
        Slot("pyhpe predict", "--checkpoint (ONNX)", ["predict", "{ws}/good.png", "--checkpoint", "{}",
                                                      "--out", "{ws}/out", "--no-draw"],
             {"missing": "nope.onnx", "corrupt": "corrupt-onnx.onnx", "wrong format": "image.onnx"}),
        Slot("pyhpe predict", "--checkpoint (ncnn)", ["predict", "{ws}/good.png", "--checkpoint", "{}",
                                                      "--out", "{ws}/out", "--no-draw"],
             {"missing": "nope.param", "corrupt": "corrupt-param.param", "wrong format": "text.param"}),
        Slot("pyhpe predict", "--detector-weights", ["predict", "{ws}/good.png", "--checkpoint", M,
                                                     "--detector", "yunet", "--detector-weights", "{}",
                                                     "--out", "{ws}/out", "--no-draw"],
             {"missing": "nope.onnx", "corrupt": "corrupt-onnx.onnx", "wrong format": "good.png"}),
        Slot("pyhpe predict", "--boxes", ["predict", "{ws}/good.png", "--checkpoint", M, "--boxes", "{}",
                                          "--out", "{ws}/out", "--no-draw"],
             {"missing": "nope.json", "corrupt": "corrupt-json.json", "wrong format": "list.yaml"}),
        Slot("pyhpe predict", "--intrinsics FILE", ["predict", "{ws}/good.png", "--checkpoint", M,
                                                    "--intrinsics", "{}", "--out", "{ws}/out", "--no-draw"],
             {"missing": "nope.json", "corrupt": "corrupt-json.json", "wrong format": "good.png"}),
        Slot("pyhpe export", "--checkpoint", ["export", "--checkpoint", "{}", "--format", "onnx",
                                              "--out", "{ws}/out/m.onnx"],
             {"missing": "nope.safetensors", "corrupt": "corrupt-safetensors.safetensors", "wrong format": "good.png"}),
        Slot("pyhpe compare", "--config", ["compare", "--config", "{}", "--out", "{ws}/out/cmp"],
             {"missing": "nope.yaml", "corrupt": "corrupt-yaml.yaml", "wrong format": "list.yaml"}),
        Slot("pyhpe compare", "--phone-results", ["compare", "--config", "{ws}/compare.yaml", "--out",
                                                  "{ws}/out/cmp", "--phone-results", "{}"],
             {"missing": "nope.txt", "corrupt": "corrupt-txt.txt", "wrong format": "good.png"}),
        Slot("pyhpe align", "--train-template", ["align", "--train-template", "{}", "--test-template",
                                                 "{ws}/corrupt-obj.obj", "--train-landmarks", "0,1,2",
                                                 "--test-landmarks", "0,1,2"],
             {"missing": "nope.obj", "corrupt": "corrupt-obj.obj", "wrong format": "corrupt-mat.mat"}),
        Slot("pyhpe convert trgv2-official", "--checkpoint",
             ["convert", "trgv2-official", "--checkpoint", "{}", "--data-dir", "{ws}/official", "--out",
              "{ws}/out/trg.safetensors"],
             {"missing": "nope.bin", "corrupt": "corrupt-bin.bin", "wrong format": "good.png"}),
        Slot("pyhpe data filelist", "ROOT", ["data", "filelist", "{}", "--out", "{ws}/out/files.txt", "--no-progress"],
             {"missing": "nope", "corrupt": "aflw-broken", "wrong format": "notes.txt"}),
        Slot("pyhpe data show", "SOURCE", ["data", "show", "{}", "--format", "aflw2000", "--out",
                                           "{ws}/out/show.png"],
             {"missing": "nope", "corrupt": "aflw-broken", "wrong format": "notes.txt"}),
        Slot("pyhpe data check", "SOURCE", ["data", "check", "{}", "--format", "aflw2000", "--no-progress"],
             {"missing": "nope", "corrupt": "aflw", "wrong format": "notes.txt"},
             {"corrupt": EXIT_SKIPPED}),
        Slot("pyhpe data biwi-preprocess", "ROOT", ["data", "biwi-preprocess", "{}", "{ws}/out/biwi.npz"],
             {"missing": "nope", "corrupt": "aflw-broken", "wrong format": "notes.txt"}),
        Slot("pyhpe bench predict", "--checkpoint", ["bench", "predict", "--checkpoint", "{}", "--frames", "2",
                                                     "--out", "{ws}/out/bench"],
             {"missing": "nope.safetensors", "corrupt": "corrupt-safetensors.safetensors", "wrong format": "config.yaml"}),
        Slot("pyhpe bench winograd", "PARAMS", ["bench", "winograd", "{}", "--out", "{ws}/out/bench"],
             {"missing": "nope.param", "corrupt": "corrupt-param.param", "wrong format": "text.param"}),
        Slot("pyhpe bench fused", "--pyhpe-bench", ["bench", "fused", "--pyhpe-bench", "{}", "--models-dir",
                                                    "{ws}/empty", "--out", "{ws}/out/bench"],
             {"missing": "nope", "corrupt": "corrupt-bin.bin", "wrong format": "notes.txt"}),
        Slot("pyhpe bench precision", "--pyhpe-infer", ["bench", "precision", "--pyhpe-infer", "{}", "--n", "1",
                                                        "--out", "{ws}/out/bench"],
             {"missing": "nope", "corrupt": "corrupt-bin.bin", "wrong format": "notes.txt"}),
    ]


def _cases():
    for slot in _slots():
        for kind in KINDS:
            yield pytest.param(slot, kind, id=f"{slot.command[6:]} {slot.argument} {kind}".replace(" ", "-"))


@dataclass
class Outcome:
    status: int | str
    line: str


RESULTS: dict[tuple[str, str, str], Outcome] = {}


def _run(slot: Slot, kind: str, ws: Path, capsys) -> Outcome:
    target = str(ws / slot.files[kind])
    argv = [a.replace("{}", target).replace("{ws}", str(ws)) for a in slot.argv]
    capsys.readouterr()
    try:
        status: int | str = main(argv)
    except BaseException as exc:  # noqa: BLE001 - what would reach the user as a traceback
        status = f"traceback ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return Outcome(status, "\n".join(lines).replace(str(ws), "DIR"))


@pytest.mark.parametrize("slot,kind", list(_cases()))
def test_bad_file(slot: Slot, kind: str, ws, capsys, monkeypatch):
    monkeypatch.setenv("PYHPE_NO_PROGRESS", "1")
    monkeypatch.delenv("PYHPE_DEBUG", raising=False)
    out = _run(slot, kind, ws, capsys)
    RESULTS[(slot.command, slot.argument, kind)] = out
    expect = slot.expect.get(kind, 1)
    assert out.status == expect, f"exit {out.status}, expected {expect}; stderr:\n{out.line}"
    assert "Traceback" not in out.line
    lines = out.line.splitlines()
    skipped = [ln for ln in lines if ln.startswith(f"{slot.command}: skipped ")]
    if expect == 1:  # one error line (after the items a batch command skipped, each named)
        assert len(lines) == len(skipped) + 1, f"one error line expected, got:\n{out.line}"
        assert re.match(rf"^{re.escape(slot.command)}: error: \S", lines[-1]), lines[-1]
    else:  # finished with skipped items: one line per item, each naming it
        assert skipped and len(skipped) == len(lines), out.line


def _table() -> str:
    rows = ["| command | file argument | missing | corrupt | wrong format |", "|---|---|---|---|---|"]
    for slot in _slots():
        cells = []
        for kind in KINDS:
            out = RESULTS[(slot.command, slot.argument, kind)]
            text = out.line.splitlines()[0] if out.line else ""
            text = text.removeprefix(f"{slot.command}: ").replace("|", "\\|")
            more = len(out.line.splitlines()) - 1
            cells.append(f"exit {out.status}: `{text}`" + (f" (+{more} lines)" if more > 0 else ""))
        rows.append(f"| `{slot.command}` | `{slot.argument}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def test_security_doc_table_is_current():
    """docs/security.md holds the table the cases above printed (run after them)."""
    expected = {(s.command, s.argument, k) for s in _slots() for k in KINDS}
    if not expected <= RESULTS.keys():
        pytest.skip("run with the whole module (the table needs every case)")
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lacks the table markers"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{_table()}\n{END}{tail}"
    if os.environ.get("PYHPE_UPDATE_DOCS") == "1":
        DOC.write_text(new)
    assert new == text, "docs/security.md is stale: PYHPE_UPDATE_DOCS=1 pytest tests/cli/test_bad_inputs.py"


@pytest.mark.parametrize("argv,expect", [
    (["predict", "{ws}/mixed", "--checkpoint", "{ws}/model.safetensors", "--out", "{ws}/out", "--no-draw"],
     EXIT_SKIPPED),
    (["export", "--checkpoint", "{ws}/corrupt-safetensors.safetensors", "--format", "onnx", "--out", "{ws}/out/m.onnx"], 1),
    (["data", "check", "{ws}/aflw", "--format", "aflw2000", "--no-progress"], EXIT_SKIPPED),
])
def test_in_a_real_process(argv, expect, ws):
    """The same promise from a fresh interpreter: status, no traceback."""
    res = run_command([*PYHPE, *[a.replace("{ws}", str(ws)) for a in argv]], timeout=300,
                      env={**os.environ, "PYHPE_NO_PROGRESS": "1"})
    assert res.returncode == expect, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pyhpe "), res.stderr  # no log or warning noise
