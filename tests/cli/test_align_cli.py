"""``pyhpe align``: two small template meshes written here (a train template in metres, BIWI-like
test templates in mm with their own vertex order), one dT per sequence, the JSON file, the printed
table; bad input ends with one clear line and no traceback."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from support import PYHPE, run_command

from pyhpe.cli import main
from pyhpe.geometry import read_reference_offsets

TRAIN_IDS = [11, 3, 7, 0, 9, 5, 14]
TEST_IDS = [2, 17, 8, 4, 20, 12, 6]
DELTAS = {"01": np.array([-0.00029, 0.0094, -0.01647]), "02": np.array([0.0004, 0.00946, -0.01554])}


def write_obj(path, vertices, faces=((1, 2, 3), (2, 3, 4))):
    """A Wavefront .obj as BIWI's: vertex lines, normals, faces (1-based)."""
    lines = ["# test template", *("v " + " ".join(repr(float(c)) for c in row) for row in vertices),
             *("vn 0 0 1" for _ in range(2)), *(f"f {a}//1 {b}//1 {c}//2" for a, b, c in faces)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def meshes(tmp_path):
    """train.obj (16 vertices, m) and hpdb/01.obj, 02.obj (22 vertices, mm): test landmark k is
    train landmark k shifted by −Δ (so dT = Δ); 02 has one landmark 2 cm off (an outlier)."""
    rng = np.random.default_rng(0)
    train = rng.uniform(-0.08, 0.08, (16, 3))
    write_obj(tmp_path / "train.obj", train)
    hpdb = tmp_path / "hpdb"
    hpdb.mkdir()
    (hpdb / "01").mkdir()  # BIWI keeps the frame folders beside the meshes
    for key, delta in DELTAS.items():
        test = rng.uniform(-0.1, 0.1, (22, 3))
        test[TEST_IDS] = train[TRAIN_IDS] - delta
        if key == "02":
            test[TEST_IDS[3]] += [0.02, 0.0, -0.01]
        write_obj(hpdb / f"{key}.obj", 1000.0 * test)
    return tmp_path, train


def run_align(capsys, *argv):
    rc = main(["align", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def ids(values):
    return ",".join(map(str, values))


def test_per_sequence_end_to_end(capsys, meshes):
    root, _ = meshes
    (root / "test_ids.txt").write_text("# BIWI vertex ids\n" + "\n".join(map(str, TEST_IDS)) + "\n\n")
    out_json = root / "out" / "offsets.json"
    rc, out, err = run_align(capsys, "--train-template", root / "train.obj", "--per-sequence", root / "hpdb",
                             "--scale", 0.001, "--train-landmarks", ids(TRAIN_IDS),
                             "--test-landmarks", root / "test_ids.txt", "--out", out_json)
    assert rc == 0, err
    record = json.loads(out_json.read_text())
    assert (record["format"], record["version"], record["units"]) == ("pyhpe-reference-offsets", 1, "m")
    assert record["train_template"] == str(root / "train.obj")
    assert record["landmarks"] == {"train": TRAIN_IDS, "test": TEST_IDS}
    assert set(record["offsets"]) == {"01", "02"}
    for key, delta in DELTAS.items():  # exact despite 02's outlier (to the .obj's mm rounding)
        np.testing.assert_allclose(record["offsets"][key], delta, rtol=0, atol=1e-12)
    offsets = read_reference_offsets(out_json)
    np.testing.assert_allclose(offsets["02"], DELTAS["02"], rtol=0, atol=1e-12)
    assert record["residual_mm"]["01"]["after"] < 1e-6
    assert record["residual_mm"]["02"]["after"] == pytest.approx(np.hypot(20, 10) / 7, rel=1e-9)
    assert record["residual_mm"]["01"]["before"] > 10
    # the table: dT in mm per sequence
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert [float(v) for v in rows["01"][:3]] == [-0.29, 9.40, -16.47]
    assert [float(v) for v in rows["02"][:3]] == [0.40, 9.46, -15.54]
    assert "mean" in rows and f"wrote {out_json}" in out


def test_single_template_glob_npy_and_ply(capsys, meshes, tmp_path):
    root, train = meshes
    np.save(root / "train.npy", train)
    rc, _out, err = run_align(capsys, "--train-template", root / "train.npy", "--test-template",
                             root / "hpdb" / "01.obj", "--scale", "0.001", "--train-landmarks", ids(TRAIN_IDS),
                             "--test-landmarks", ids(TEST_IDS), "--out", root / "one.json")
    assert rc == 0, err
    assert list(read_reference_offsets(root / "one.json")) == ["01"]
    # an ASCII .ply train template, a glob for the sequences
    header = ["ply", "format ascii 1.0", "comment made by the test", f"element vertex {len(train)}",
              "property float nx", "property float x", "property float y", "property float z",
              "element face 1", "property list uchar int vertex_indices", "end_header"]
    body = ["0 " + " ".join(repr(float(c)) for c in row) for row in train] + ["3 0 1 2"]
    (root / "train.ply").write_text("\n".join(header + body) + "\n")
    rc, _out, err = run_align(capsys, "--train-template", root / "train.ply", "--per-sequence",
                             root / "hpdb" / "0*.obj", "--scale", "0.001", "--train-landmarks", ids(TRAIN_IDS),
                             "--test-landmarks", ids(TEST_IDS), "--out", root / "glob.json")
    assert rc == 0, err
    got = read_reference_offsets(root / "glob.json")
    for key, delta in DELTAS.items():
        np.testing.assert_allclose(got[key], delta, rtol=0, atol=1e-12)


def _nan_mesh(root):
    v = np.random.default_rng(1).uniform(-80, 80, (22, 3))
    v[TEST_IDS[2], 1] = np.nan
    return write_obj(root / "nan.obj", v)


# (argv from the fixture's root) -> expected text of the one error line
ERRORS = {
    "missing file": (lambda r: ["--train-template", r / "none.obj", "--test-template", r / "hpdb" / "01.obj"],
                     "none.obj: file not found"),
    "out of range": (lambda r: ["--train-template", r / "train.obj", "--test-template", r / "hpdb" / "01.obj",
                                "--test-landmarks", ids([*TEST_IDS[:-1], 22])],
                     "--test-landmarks: landmark index 22 (position 6) out of range for a template of 22"),
    "count mismatch": (lambda r: ["--train-template", r / "train.obj", "--test-template", r / "hpdb" / "01.obj",
                                  "--test-landmarks", ids(TEST_IDS[:6])],
                       "landmark count mismatch: --train-landmarks has 7 ids, --test-landmarks has 6"),
    "nan": (lambda r: ["--train-template", r / "train.obj", "--test-template", _nan_mesh(r)],
            f"nan.obj: landmark vertex {TEST_IDS[2]} is not finite"),
    "bad ids": (lambda r: ["--train-template", r / "train.obj", "--test-template", r / "hpdb" / "01.obj",
                           "--train-landmarks", "1,2,x"],
                "--train-landmarks: '1,2,x' is neither an existing file nor a comma-separated list"),
    "no match": (lambda r: ["--train-template", r / "train.obj", "--per-sequence", r / "hpdb" / "*.ply"],
                 "no file matches it as a glob pattern"),
    "format": (lambda r: ["--train-template", r / "hpdb", "--test-template", r / "hpdb" / "01.obj"],
               "hpdb: file not found"),
    "scale": (lambda r: ["--train-template", r / "train.obj", "--test-template", r / "hpdb" / "01.obj",
                         "--scale", "0"], "--scale must be a finite number > 0"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_input_is_one_line(capsys, meshes, case):
    root, _ = meshes
    make, expect = ERRORS[case]
    argv = make(root)
    for flag, value in (("--train-landmarks", ids(TRAIN_IDS)), ("--test-landmarks", ids(TEST_IDS))):
        if flag not in argv:
            argv += [flag, value]
    rc, _out, err = run_align(capsys, *argv)
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 1 and "Traceback" not in err, err  # pyhpe: failures exit 1
    assert lines[0].startswith("pyhpe align: error:") and expect in lines[0], lines[0]


def test_process_exit_status(meshes):
    """The real process: one error line, status 1 (an expected failure), no traceback; a missing
    required flag is a usage error (2)."""
    root, _ = meshes
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = run_command([*PYHPE, "align", "--train-template", root / "train.obj", "--test-template",
                        root / "hpdb" / "01.obj", "--train-landmarks", "0,1", "--test-landmarks", "0,99"],
                       cwd=root, env=env, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        (f"pyhpe align: error: {root / 'hpdb' / '01.obj'}: --test-landmarks: landmark index 99 (position 1) "
        "out of range for a template of 22 vertices (valid 0..21)")]
    proc = run_command([*PYHPE, "align", "--train-template", "x.obj"], cwd=root, env=env, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "required" in proc.stderr
