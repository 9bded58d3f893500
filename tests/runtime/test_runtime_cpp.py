"""The C++ runtime (csrc/runtime) against PyTorch: host x86-64 build and static aarch64 build run
under qemu-aarch64 on three CPU models; C API error codes through the CLI exit codes.

ncnn itself is built by ``tools/build_ncnn.sh`` (several minutes; cached in build/ncnn). These tests
use that cache and never start the ncnn build themselves: without it they skip on a developer
machine and fail in CI, whose script builds it first. The runtime on top builds incrementally in
build/runtime-host and build/runtime-aarch64 (seconds once built).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from support import cpu_has, repnext_m0_eval, run_command
from support.native_runtime import SIZE, build_host_runtime, ncnn_installed  # noqa: F401

from pyhpe.export import export_model
from pyhpe.runtime import Predictor
from pyhpe.runtime.preprocess import face_crop

QEMU_CPUS = ("cortex-a53", "cortex-a76", "max")
# fp16 arithmetic (ARMv8.2: cortex-a76, max): ncnn computes in half precision. For this test model
# (random weights, randomised BatchNorm statistics) the raw 6D output moves by 0.163 (max |6D| 0.93),
# a 16.8 degree rotation error: measured, stated in docs/deployment.md, and the reason the runtime
# defaults to fp32. The bound only guards against garbage. fp16 *storage* (cortex-a53) stays ~1.5e-4.
FP16_ARITH_TOLERANCE = 0.25
FP16_STORAGE_TOLERANCE = 2e-3


_run = run_command


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """repnext_m0 (random weights, BN statistics randomised) exported to ncnn (6D and matrix)."""
    pytest.importorskip("ncnn")
    d = tmp_path_factory.mktemp("cpp")
    m = repnext_m0_eval()
    export_model(m, d / "m0.ncnn.param", "ncnn", name="m0", input_size=SIZE)
    export_model(m, d / "m0m.ncnn.param", "ncnn", name="m0", input_size=SIZE, output="matrix")
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    x.numpy().astype(np.float32).tofile(d / "x.f32")
    with torch.no_grad():
        sixd = m(x).sixd
        R = m(x).R
    return {"dir": d, "module": m, "sixd": sixd.numpy()[0], "R": R.numpy()[0].reshape(9)}


def _pose(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _infer(exe_prefix, model_dir: Path, stem: str, *args):
    return _run([*exe_prefix, model_dir / f"{stem}.ncnn.param", "--input-size", SIZE, *args])


def test_host_tensor_matches_pytorch(host_tools, model):
    exe = [host_tools / "pyhpe-infer"]
    out = _pose(_infer(exe, model["dir"], "m0", "--tensor", model["dir"] / "x.f32"))
    np.testing.assert_allclose(out["sixd"], model["sixd"], atol=1e-4)
    np.testing.assert_allclose(out["R"], model["R"], atol=1e-4)
    R = torch.tensor(model["R"]).reshape(1, 3, 3)
    from pyhpe.ops import matrix_to_euler

    np.testing.assert_allclose(out["euler_deg"], matrix_to_euler(R, degrees=True)[0].numpy(), atol=1e-2)
    outm = _pose(_infer(exe, model["dir"], "m0m", "--tensor", model["dir"] / "x.f32", "--matrix"))
    np.testing.assert_allclose(outm["R"], model["R"], atol=1e-4)


def _write_ppm(path: Path, image: np.ndarray) -> None:
    h, w = image.shape[:2]
    path.write_bytes(f"P6\n{w} {h}\n255\n".encode() + np.ascontiguousarray(image).tobytes())


def test_host_image_and_box_match_python(host_tools, model, tmp_path):
    """Pixel path = Python preprocessing when no resize is involved (the crop's shorter side is
    already round(S*256/224)); RGB and BGR give the same pose."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (160, 150, 3), dtype=np.uint8)
    resize_to = round(SIZE * 256 / 224)
    box = None
    for w10 in range(300, 500):  # a box whose 6DRepNet crop is resize_to wide and taller than that
        cand = [40.0, 30.0, 40.0 + w10 / 10, 30.0 + w10 / 10 * 1.3]
        c = face_crop(image, cand)
        if c.shape[1] == resize_to and c.shape[0] >= resize_to:
            box = cand
            break
    assert box is not None
    _write_ppm(tmp_path / "img.ppm", image)
    exe = [host_tools / "pyhpe-infer"]
    ref = Predictor.from_module(model["module"], input_size=SIZE).predict_faces(image, [box])
    for extra in ([], ["--bgr"]):
        out = _pose(_infer(exe, model["dir"], "m0", "--image", tmp_path / "img.ppm", "--box",
                           *[f"{v:.6f}" for v in box], *extra))
        np.testing.assert_allclose(out["sixd"], ref["sixd"][0], atol=1e-4)
    # whole image as the crop (no box): resize path runs; only a sanity check of the output
    out = _pose(_infer(exe, model["dir"], "m0", "--image", tmp_path / "img.ppm"))
    assert np.allclose(np.reshape(out["R"], (3, 3)) @ np.reshape(out["R"], (3, 3)).T, np.eye(3), atol=1e-5)


def test_host_bench_json(host_tools, model):
    p = _run([host_tools / "pyhpe-bench", model["dir"] / "m0.ncnn.param", "--input-size", SIZE,
              "--threads", "1,2", "--precision", "both", "--warmup", "1", "--runs", "3", "--json"])
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [(r["precision"], r["threads"]) for r in rows] == [("fp32", 1), ("fp32", 2), ("fp16", 1), ("fp16", 2)]
    for r in rows:
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"] <= r["p99_ms"]


def test_host_errors(host_tools, model, tmp_path):
    exe = host_tools / "pyhpe-infer"
    p = _run([exe, tmp_path / "none.ncnn.param", "--tensor", model["dir"] / "x.f32", "--input-size", SIZE])
    assert p.returncode == 12 and "file error" in p.stderr and "cannot open" in p.stderr
    (tmp_path / "bad.ncnn.param").write_text("garbage\n")
    (tmp_path / "bad.ncnn.bin").write_bytes(b"\0" * 8)
    p = _run([exe, tmp_path / "bad.ncnn.param", "--tensor", model["dir"] / "x.f32", "--input-size", SIZE])
    assert p.returncode == 13 and "model error" in p.stderr
    p = _run([exe, model["dir"] / "m0.ncnn.param", "--tensor", model["dir"] / "x.f32", "--input-size", "32"])
    assert p.returncode == 2 and "float32 values" in p.stderr
    p = _run([exe, model["dir"] / "m0.ncnn.param", "--tensor", model["dir"] / "x.f32", "--input-size", SIZE,
              "--threads", "0"])
    assert p.returncode == 11 and "num_threads" in p.stderr
    p = _run([exe, model["dir"] / "m0.ncnn.param", "--input-size", SIZE, "--image", tmp_path / "bad.ncnn.bin"])
    assert p.returncode == 2 and "PPM" in p.stderr
    p = _run([exe, model["dir"] / "m0.ncnn.param", "--tensor", model["dir"] / "x.f32", "--input-size", SIZE,
              "--matrix"])  # a 6D model declared as a matrix model
    assert p.returncode == 14 and "output_kind" in p.stderr


def test_host_ffn_bf16_timed_choice(host_tools):
    """PYHPE_FFN_BF16=time: on a CPU with AVX512-BF16 the runtime times its VDPBF16PS kernel against
    widening to fp32 (what it does by default where there is no AMX), picks the faster and says so
    in the build info; elsewhere nothing is timed."""
    import os
    import re

    env = {**os.environ, "PYHPE_FFN_BF16": "time"}
    p = subprocess.run([str(host_tools / "pyhpe-infer"), "--info"], capture_output=True, text=True, env=env,
                       timeout=120, check=False)
    info = p.stdout.strip().splitlines()[0]
    m = re.search(r"ffn bf16 (avx512bf16|via fp32) \(timed: avx512bf16 ([\d.]+) ms, via fp32 ([\d.]+) ms\)", info)
    if not cpu_has("avx512_bf16") or "ffn bf16" not in info:
        assert "timed" not in info, info
        return
    assert m, info
    dot_ms, fp32_ms = float(m.group(2)), float(m.group(3))
    assert dot_ms > 0 and fp32_ms > 0
    assert m.group(1) == ("avx512bf16" if dot_ms < fp32_ms else "via fp32"), info


@pytest.mark.parametrize("cpu", QEMU_CPUS)
def test_aarch64_under_qemu(aarch64_tools, model, cpu):
    exe = ["qemu-aarch64", "-cpu", cpu, aarch64_tools / "pyhpe-infer"]
    p = _infer(exe, model["dir"], "m0", "--tensor", model["dir"] / "x.f32", "--info")
    info = p.stdout.splitlines()[0]
    assert "aarch64 NEON" in info
    # ncnn's runtime dispatch sees the emulated CPU: no fp16 arithmetic on the A53
    assert ("fp16 arithmetic available" in info) == (cpu != "cortex-a53"), info
    out = _pose(p)
    np.testing.assert_allclose(out["sixd"], model["sixd"], atol=1e-4)
    np.testing.assert_allclose(out["R"], model["R"], atol=1e-4)
    out16 = _pose(_infer(exe, model["dir"], "m0", "--tensor", model["dir"] / "x.f32", "--fp16"))
    err16 = np.max(np.abs(np.asarray(out16["sixd"]) - model["sixd"]))
    R16 = np.reshape(out16["R"], (3, 3))
    assert np.allclose(R16 @ R16.T, np.eye(3), atol=1e-5)
    assert err16 <= (FP16_STORAGE_TOLERANCE if cpu == "cortex-a53" else FP16_ARITH_TOLERANCE), err16


# --- the model card in the sidecar: crop and normalisation travel with the model ----------------

def _sidecar_v2(margin: float, resize: int, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                output=("sixd", "out0", [6])) -> dict:
    """A version-2 sidecar (pyhpe/runtime/meta.py's format) for the test model."""
    name, blob, shape = output
    return {
        "format": "pyhpe-deploy", "version": 2,
        "card": {"version": 1, "task": "sixd_rotation", "model": "sixdrepnet_repnext_m0", "kwargs": {},
                 "form": "deploy", "input_size": SIZE,
                 "crop": {"kind": "margin_box", "margin": margin, "resize": resize},
                 "normalize": {"mean": list(mean), "std": list(std)},
                 "outputs": [{"name": "R", "shape": [3, 3]}, {"name": "sixd", "shape": [6]}]},
        "input_name": "in0",
        "outputs": [{"name": name, "blob": blob, "shape": shape}],
        "fp16_weights": False, "dynamic_batch": False,
    }


SIDECAR_V1 = {"format": "pyhpe-deploy", "version": 1, "model": "m0", "input_size": SIZE, "output": "6d",
              "input_name": "in0", "output_name": "out0", "mean": [0.485, 0.456, 0.406],
              "std": [0.229, 0.224, 0.225], "fp16_weights": False, "dynamic_batch": False}


def _reference_input(image: np.ndarray, box, margin: float, resize: int, mean, std) -> np.ndarray:
    """The network input by the card's rule, computed here with pyhpe.data.geometric: the margin
    box, the crop, the centre cut (the crop's shorter side must already be the resize side, so no
    interpolation is involved), (x / 255 - mean) / std in float32, planar."""
    from pyhpe.data.geometric import crop, sixdrepnet_test_box
    from pyhpe.data.sample import Sample

    c = crop(Sample(image=image, R=np.eye(3), euler=np.zeros(3)), sixdrepnet_test_box(box, margin)).image
    side = max(SIZE, round(SIZE * resize / 224))
    h, w = c.shape[:2]
    assert min(h, w) == side, (c.shape, side)
    top, left = round((h - SIZE) / 2), round((w - SIZE) / 2)
    c = c[top:top + SIZE, left:left + SIZE].astype(np.float32)
    x = (c / np.float32(255.0) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def _box_for(image: np.ndarray, margin: float, side: int) -> list[float]:
    """A face box whose margin crop is exactly `side` wide and taller than that."""
    from pyhpe.data.geometric import crop, sixdrepnet_test_box
    from pyhpe.data.sample import Sample

    sample = Sample(image=image, R=np.eye(3), euler=np.zeros(3))
    for w100 in range(1000, 20000):
        cand = [37.3, 21.7, 37.3 + w100 / 100, 21.7 + w100 / 100 * 1.6]
        c = crop(sample, sixdrepnet_test_box(cand, margin)).image
        if c.shape[1] == side and c.shape[0] > side:
            return cand
    raise AssertionError(f"no box gives a {side}-wide crop at margin {margin}")


@pytest.fixture(scope="module")
def card_model(model, tmp_path_factory):
    """The 6D test model copied under its own name (its sidecars are written by each test)."""
    d = tmp_path_factory.mktemp("card")
    for ext in ("param", "bin"):
        shutil.copy(model["dir"] / f"m0.ncnn.{ext}", d / f"c.ncnn.{ext}")
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (200, 190, 3), dtype=np.uint8)
    _write_ppm(d / "img.ppm", image)
    return {"dir": d, "param": d / "c.ncnn.param", "image": image, "module": model["module"]}


def _dump(host_tools, card_model, tmp_path, box, *args) -> np.ndarray:
    out = tmp_path / f"x{len(list(tmp_path.glob('x*.f32')))}.f32"
    p = _run([host_tools / "pyhpe-infer", card_model["param"], "--image", card_model["dir"] / "img.ppm",
              "--box", *[f"{v:.9g}" for v in box], "--dump-input", out, *args])
    assert p.returncode == 0, p.stderr
    return np.fromfile(out, np.float32).reshape(3, SIZE, SIZE)


@pytest.mark.parametrize("margin,resize", [(0.1, 224), (0.1, 300), (0.3, 256)])
def test_sidecar_card_sets_the_crop(host_tools, card_model, tmp_path, margin, resize):
    """A v2 sidecar's crop (margin, resize) and normalisation are what pyhpe_infer applies: the
    network input equals the Python reference exactly, and the image path's pose is the pose of
    that input (the tensor path, itself checked against PyTorch above)."""
    mean, std = (0.5, 0.25, 0.125), (0.25, 0.5, 2.0)
    sidecar = tmp_path / "card.json"
    sidecar.write_text(json.dumps(_sidecar_v2(margin, resize, mean, std)))
    side = max(SIZE, round(SIZE * resize / 224))
    box = _box_for(card_model["image"], margin, side)
    ref = _reference_input(card_model["image"], box, margin, resize, mean, std)
    got = _dump(host_tools, card_model, tmp_path, box, "--sidecar", sidecar)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    # the image path end to end: the pose of that input
    exe = host_tools / "pyhpe-infer"
    pose = _pose(_run([exe, card_model["param"], "--image", card_model["dir"] / "img.ppm",
                       "--box", *[f"{v:.9g}" for v in box], "--sidecar", sidecar]))
    ref.tofile(tmp_path / "ref.f32")
    want = _pose(_run([exe, card_model["param"], "--tensor", tmp_path / "ref.f32", "--sidecar", sidecar]))
    np.testing.assert_allclose(pose["sixd"], want["sixd"], atol=1e-5)
    # the default crop (6DRepNet's: margin 0.2, resize 256) gives another input
    assert not np.allclose(_dump(host_tools, card_model, tmp_path, box, "--no-sidecar", "--input-size", SIZE), got, atol=1e-3)


def test_sidecar_beside_the_param_is_read(host_tools, card_model, tmp_path):
    """<stem>.ncnn.json beside <stem>.ncnn.param is read without a flag; flags override it."""
    d = tmp_path / "m"
    d.mkdir()
    for ext in ("param", "bin"):
        shutil.copy(card_model["dir"] / f"c.ncnn.{ext}", d / f"c.ncnn.{ext}")
    (d / "c.ncnn.json").write_text(json.dumps(_sidecar_v2(0.1, 300)))
    exe = host_tools / "pyhpe-infer"
    opts = json.loads(_run([exe, d / "c.ncnn.param", "--print-options"]).stdout)
    np.testing.assert_array_equal(np.float32(opts.pop("mean")), np.float32([0.485, 0.456, 0.406]))
    np.testing.assert_array_equal(np.float32(opts.pop("std")), np.float32([0.229, 0.224, 0.225]))
    assert opts == {"input_size": SIZE, "output_kind": "6d", "input_blob": "in0", "output_blob": "out0",
                    "crop_margin": 0.1, "crop_resize": 300}
    opts = json.loads(_run([exe, d / "c.ncnn.param", "--print-options", "--crop-margin", "0.25", "--matrix"]).stdout)
    assert opts["crop_margin"] == 0.25 and opts["crop_resize"] == 300 and opts["output_kind"] == "matrix"
    assert json.loads(_run([exe, d / "c.ncnn.param", "--print-options", "--no-sidecar"]).stdout)["crop_resize"] == 256
    box = _box_for(card_model["image"], 0.1, 86)
    card_model_here = dict(card_model, param=d / "c.ncnn.param")
    beside = _dump(host_tools, card_model_here, tmp_path, box)
    np.testing.assert_array_equal(beside, _dump(host_tools, card_model, tmp_path, box, "--sidecar", d / "c.ncnn.json"))


def test_sidecar_v1_gives_todays_crop(host_tools, card_model, tmp_path):
    """A version-1 sidecar keeps 6DRepNet's crop (margin 0.2, resize 256): the same input as the
    runtime's defaults, and the Python reference where no resize is involved."""
    sidecar = tmp_path / "v1.json"
    sidecar.write_text(json.dumps(SIDECAR_V1))
    box = _box_for(card_model["image"], 0.2, round(SIZE * 256 / 224))
    v1 = _dump(host_tools, card_model, tmp_path, box, "--sidecar", sidecar)
    np.testing.assert_array_equal(v1, _dump(host_tools, card_model, tmp_path, box, "--no-sidecar", "--input-size", SIZE))
    ref = _reference_input(card_model["image"], box, 0.2, 256, SIDECAR_V1["mean"], SIDECAR_V1["std"])
    np.testing.assert_allclose(v1, ref, rtol=0, atol=1e-6)
    # with a resize (a box whose crop is not the resize side): still the defaults' result
    other = [30.0, 40.0, 101.0, 150.0]
    np.testing.assert_array_equal(_dump(host_tools, card_model, tmp_path, other, "--sidecar", sidecar),
                                  _dump(host_tools, card_model, tmp_path, other, "--no-sidecar", "--input-size", SIZE))


def test_sidecar_matrix_output(host_tools, model, tmp_path):
    """The graph output named "R" makes the runtime read a 3 x 3 matrix."""
    for ext in ("param", "bin"):
        shutil.copy(model["dir"] / f"m0m.ncnn.{ext}", tmp_path / f"r.ncnn.{ext}")
    (tmp_path / "r.ncnn.json").write_text(json.dumps(_sidecar_v2(0.2, 256, output=("R", "out0", [3, 3]))))
    out = _pose(_run([host_tools / "pyhpe-infer", tmp_path / "r.ncnn.param", "--tensor", model["dir"] / "x.f32"]))
    np.testing.assert_allclose(out["R"], model["R"], atol=1e-4)


def _malformed_sidecars() -> list[tuple[str, str, str]]:
    good = json.dumps(_sidecar_v2(0.2, 256), indent=2)
    v3 = dict(_sidecar_v2(0.2, 256), version=3)
    bad_margin = _sidecar_v2("0.1", 256)  # type: ignore[arg-type]
    no_card = {k: v for k, v in _sidecar_v2(0.2, 256).items() if k != "card"}
    return [
        ("truncated", good[: len(good) // 2], "not valid JSON: line"),
        ("garbage", "\x00\xff garbage", "not valid JSON"),
        ("empty", "", "expected a value, found the end of the file"),
        ("version 3", json.dumps(v3), "sidecar version 3 is unknown"),
        ("margin string", json.dumps(bad_margin), "card.crop.margin must be a number, got a string"),
        ("no card", json.dumps(no_card), "card is missing"),
        ("other format", json.dumps({"format": "onnx", "version": 2}), "not a pyhpe-deploy sidecar"),
        ("trailing comma", good.rstrip()[:-1].rstrip() + ",\n}", "expected a string key"),
    ]


@pytest.mark.parametrize("name,text,message", _malformed_sidecars(), ids=[c[0] for c in _malformed_sidecars()])
def test_malformed_sidecar_fails_with_a_message(host_tools, card_model, tmp_path, name, text, message):
    sidecar = tmp_path / "bad.json"
    sidecar.write_text(text, encoding="latin-1")
    p = _run([host_tools / "pyhpe-infer", card_model["param"], "--tensor", card_model["dir"] / "none.f32",
              "--sidecar", sidecar])
    assert p.returncode == 13 and "model error" in p.stderr and str(sidecar) in p.stderr, p.stderr
    assert message in p.stderr, p.stderr
    p = _run([host_tools / "pyhpe-infer", card_model["param"], "--print-options", "--sidecar", tmp_path / "no.json"])
    assert p.returncode == 12 and "cannot open" in p.stderr


def test_cpp_runtime_wrapper_passes_a_sidecar(host_tools, model, tmp_path, monkeypatch):
    """pyhpe.export.cpp_runtime.CppRuntime runs pyhpe-infer with the sidecar it is given."""
    from pyhpe.export.cpp_runtime import CppRuntime

    monkeypatch.setenv("PYHPE_INFER", str(host_tools / "pyhpe-infer"))
    x = np.fromfile(model["dir"] / "x.f32", np.float32).reshape(1, 3, SIZE, SIZE)
    (tmp_path / "good.json").write_text(json.dumps(_sidecar_v2(0.2, 256)))
    out = CppRuntime(model["dir"] / "m0.ncnn.param", sidecar=tmp_path / "good.json")(x)
    np.testing.assert_allclose(out["sixd"][0], model["sixd"], atol=1e-4)
    (tmp_path / "bad.json").write_text(json.dumps(dict(_sidecar_v2(0.2, 256), version=9)))
    with pytest.raises(RuntimeError, match="sidecar version 9 is unknown"):
        CppRuntime(model["dir"] / "m0.ncnn.param", sidecar=tmp_path / "bad.json")(x)
