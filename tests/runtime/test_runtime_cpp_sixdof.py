"""The C++ runtime's 6DoF path (TRGv2: pyhpe_infer_6dof through pyhpe-infer and pyhpe-bench, the
JNI bridge, the geometry header csrc/include/pyhpe/sixdof_math.h) against the PyTorch model and the
Python Predictor's ncnn backend; host x86-64 build and the static aarch64 build under qemu-aarch64.

Tolerances (a seeded random trgv2_repnext_m0, synthetic topology, input 64):
* tensor path (the Predictor's crop and camera vector fed to the C++ runtime): R, t, vertices,
  landmarks within TENSOR_TOL of PyTorch (what the export's own verification reaches);
* image path: the camera vector equal to the Python one (same float64 crop maths, rounded once to
  float32; the C API's intrinsics are float32, so the Python side gets the same rounded K); the
  crop pixels within 1 grey level of OpenCV's (INTER_AREA and warpAffine reimplemented exactly,
  INTER_LINEAR by ncnn's kernel; CROP_LEVELS); the pose then within IMAGE_TOL of the Predictor.

ncnn must include the layers of the TRGv2 graph (support.native_runtime.SIXDOF_LAYERS): without
them these tests skip on a developer machine and fail in CI, like the other runtime tests without
build/ncnn.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from support import REPO_ROOT, require, run_command
from support.native_runtime import (
    build_aarch64_runtime,
    build_host_runtime,
    link_jni,
    require_ncnn_layers,
)

SIZE = 64
NAME = "trgv2_repnext_m0"
QEMU_CPUS = ("cortex-a53", "max")
TENSOR_TOL = {"R": 1e-4, "t": 1e-4, "vertices": 1e-4, "landmarks": 1e-4}
# the crop of the C++ image path may differ from OpenCV's by one grey level in a few pixels where it
# enlarges (ncnn's bilinear vs OpenCV's INTER_LINEAR rounding); area shrinking and the official warp
# are identical. Measured (host and qemu): R, t, vertices within 2e-7 of the Predictor, landmarks
# 4e-6 px; the tensor path within 4e-6 of PyTorch.
CROP_LEVELS = 1.0
IMAGE_TOL = {"R": 1e-5, "t": 1e-5, "vertices": 1e-5, "landmarks": 1e-4}
KEYS = ("R", "t", "vertices", "landmarks")


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def host6():
    require_ncnn_layers("host")
    return build_host_runtime()


@pytest.fixture(scope="module")
def aarch64_6():
    require_ncnn_layers("aarch64")
    return build_aarch64_runtime()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A seeded TRGv2 (tests/export/conftest.py's weights) exported to ncnn, its sidecar beside it;
    the same files with the official crop convention and Eq. 3 form in the sidecar."""
    pytest.importorskip("ncnn")
    from support.trgv2_models import random_trgv2

    from pyhpe.export import export_model

    d = tmp_path_factory.mktemp("cpp6")
    module = random_trgv2(NAME, SIZE)
    export_model(module, d / "t.ncnn.param", "ncnn", name=NAME, input_size=SIZE, fused=False)
    off = d / "official"
    off.mkdir()
    for suffix in (".ncnn.param", ".ncnn.bin"):
        shutil.copy(d / f"t{suffix}", off / f"t{suffix}")
    sidecar = json.loads((d / "t.ncnn.json").read_text())
    sidecar["card"]["crop"]["convention"] = "official"
    sidecar["card"]["kwargs"]["form"] = "official"
    (off / "t.ncnn.json").write_text(json.dumps(sidecar))
    return {"dir": d, "param": d / "t.ncnn.param", "official": off / "t.ncnn.param", "module": module.eval()}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A synthetic camera frame (200 x 200) with its intrinsics and a face's landmarks, as PPM."""
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    s = SyntheticHeads(n=1, seed=3, config=SynthConfig(size=200))[0]
    ppm = tmp_path_factory.mktemp("scene") / "frame.ppm"
    h, w = s.image.shape[:2]
    ppm.write_bytes(f"P6\n{w} {h}\n255\n".encode() + np.ascontiguousarray(s.image).tobytes())
    box = np.concatenate([s.landmarks.min(0), s.landmarks.max(0)]).astype(np.float32).astype(np.float64)
    # the C API takes float32 intrinsics: the Python side gets the same values
    K = np.asarray(s.K, np.float32).astype(np.float64)
    return {"image": s.image, "K": K, "ppm": ppm, "box": box}


# boxes (x0, y0, x1, y1) exactly representable in float32: the landmark extent (a crop wider than
# S: area averaging), a small face (narrower than S: bilinear), one half outside the frame (black)
BOXES = {"landmarks": None, "small": (20.25, 30.5, 55.75, 66.0), "outside": (-30.5, 150.25, 40.0, 230.0)}


def _box(scene, which):
    return scene["box"] if BOXES[which] is None else np.array(BOXES[which])


def _k4(K) -> list[float]:
    return [float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])]


# --- running pyhpe-infer -----------------------------------------------------------------------

def _infer(exe: list, param: Path, tmp: Path, *args) -> dict:
    """pyhpe-infer's 6DoF JSON line plus the dumped vertices, landmarks (and input, camera)."""
    dumps = {"vertices": tmp / "v.f32", "landmarks": tmp / "l.f32"}
    p = run_command([*exe, param, "--dump-vertices", dumps["vertices"], "--dump-landmarks", dumps["landmarks"], *args])
    assert p.returncode == 0, p.stderr
    out = {k: np.asarray(v, dtype=np.float64) for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items()}
    out["R"] = out["R"].reshape(3, 3)
    out["vertices"] = np.fromfile(dumps["vertices"], np.float32).reshape(-1, 3)
    out["landmarks"] = np.fromfile(dumps["landmarks"], np.float32).reshape(68, 2)
    for name in ("input", "camera"):
        if (tmp / f"{name}.f32").exists():
            out[name] = np.fromfile(tmp / f"{name}.f32", np.float32)
            (tmp / f"{name}.f32").unlink()
    return out


def _image_args(scene, box, K, tmp: Path) -> list:
    args = ["--image", scene["ppm"], "--box", *[repr(float(v)) for v in box], "--dump-input", tmp / "input.f32",
            "--dump-camera", tmp / "camera.f32"]
    return args + (["--intrinsics", ",".join(repr(v) for v in _k4(K))] if K is not None else [])


def _predictor(param: Path):
    from pyhpe.runtime import Predictor

    return Predictor(param, backend="ncnn", threads=1)


def _torch_reference(module, x: np.ndarray, camera: np.ndarray) -> dict:
    from pyhpe.tasks.trgv2_6dof import split_camera

    box, K_crop = split_camera(torch.from_numpy(camera))
    with torch.no_grad():
        out = module(torch.from_numpy(x), K_crop, box)
    return {"R": out.R[0].numpy(), "t": out.t[0].numpy(), "vertices": out.vertices[0].numpy(),
            "landmarks": out.landmarks[0].numpy()}


def _max_errors(got: dict, want: dict) -> dict:
    return {k: float(np.abs(np.asarray(got[k]) - np.asarray(want[k])).max()) for k in KEYS}


def _crop_levels(cpp_input: np.ndarray, x: np.ndarray) -> float:
    """The largest difference of two normalised crops in grey levels (x·std·255)."""
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
    return round(float((np.abs(cpp_input.reshape(x.shape) - x) * std * 255).max()), 3)  # float32 noise off


# --- the geometry header -----------------------------------------------------------------------

def _native_test(variant: str) -> Path:
    """csrc/tests' sixdof_native_test for one variant (host or aarch64), built incrementally."""
    require(shutil.which("cmake") is not None, "cmake")
    build = REPO_ROOT / "build" / f"native-tests-sixdof-{variant}"
    cfg = ["cmake", "-S", REPO_ROOT / "csrc" / "tests", "-B", build, f"-DPYHPE_NATIVE_TEST_VARIANTS={variant}"]
    if variant == "aarch64":
        cfg.append(f"-DCMAKE_TOOLCHAIN_FILE={REPO_ROOT / 'csrc/runtime/cmake/aarch64-linux-gnu.toolchain.cmake'}")
    p = run_command(cfg)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    p = run_command(["cmake", "--build", build, "-j", "2", "--target", f"sixdof_native_test-{variant}"])
    assert p.returncode == 0 and "warning:" not in p.stdout + p.stderr, p.stdout[-3000:] + p.stderr[-3000:]
    return build / f"sixdof_native_test-{variant}"


@pytest.mark.parametrize("variant", ["host", "aarch64"])
def test_geometry_header_closed_forms(variant):
    if variant == "aarch64":
        require(shutil.which("aarch64-linux-gnu-g++") is not None, "aarch64-linux-gnu-g++")
        require(shutil.which("qemu-aarch64") is not None, "qemu-aarch64")
    exe = _native_test(variant)
    p = run_command(["qemu-aarch64", exe] if variant == "aarch64" else [exe])
    assert p.returncode == 0, p.stdout[-3000:]
    assert p.stdout.strip().endswith(" 0 failed"), p.stdout[-3000:]
    assert ("isa=neon" in p.stdout) == (variant == "aarch64")


def test_native_expectations_are_pythons():
    """Two of sixdof_native_test's expected values checked against the Python it mirrors (the image
    tests below compare whole camera vectors bit for bit)."""
    from pyhpe.data.sample import Sample
    from pyhpe.data.sixdof_crop import SixDoFCrop
    from pyhpe.geometry.camera import crop_intrinsics

    crop = SixDoFCrop(size=SIZE, num_vertices=None, scale=1.0)
    s = Sample(image=np.zeros((100, 100, 3), np.uint8), R=np.eye(3), euler=np.zeros(3), K=np.eye(3),
               landmarks=np.array([[0.0, 0.0], [60.5, 60.5]] * 34), source="t")
    assert crop.crop_box(s, None).tolist() == [0.0, 0.0, 60.0, 60.0]  # sixdof_native_test: "side 60.5 rounds to 60"
    K = crop_intrinsics(np.array([[500.0, 0, 311.5], [0, 500.0, 241.25], [0, 0, 1]]), [13, -7, 109, 89], SIZE)
    assert K[0, 0] == 500 * SIZE / 96 and K[0, 2] == (311.5 - 13) * SIZE / 96 + (0.5 * SIZE / 96 - 0.5)


# --- host: the C++ runtime against PyTorch and the Predictor ------------------------------------

def test_host_tensor_path_matches_pytorch(host6, model, scene, tmp_path):
    """The Predictor's own crop and camera vector through pyhpe_infer_6dof_tensor = PyTorch."""
    from pyhpe.runtime.preprocess import sixdof_inputs

    p = _predictor(model["param"])
    x, camera = sixdof_inputs(scene["image"], scene["K"], [scene["box"]], p.task, p.card)
    x.tofile(tmp_path / "x.f32")
    camera[0].tofile(tmp_path / "c.f32")
    out = _infer([host6 / "pyhpe-infer"], model["param"], tmp_path, "--tensor", tmp_path / "x.f32",
                 "--camera", tmp_path / "c.f32")
    ref = _torch_reference(model["module"], x, camera)
    errors = _max_errors(out, ref)
    assert all(errors[k] <= TENSOR_TOL[k] for k in KEYS), errors
    np.testing.assert_allclose(out["R"] @ out["R"].T, np.eye(3), atol=1e-5)
    # the camera given inline is the same as the file
    inline = _infer([host6 / "pyhpe-infer"], model["param"], tmp_path, "--tensor", tmp_path / "x.f32",
                    "--camera", ",".join(repr(float(v)) for v in camera[0]))
    np.testing.assert_array_equal(inline["t"], out["t"])
    assert out["num_vertices"] == model["module"].topology.num_vertices


@pytest.mark.parametrize("which", list(BOXES))
@pytest.mark.parametrize("known", [True, False], ids=["K", "unknown-K"])
def test_host_image_path_matches_predictor(host6, model, scene, tmp_path, which, known):
    """pyhpe_infer_6dof on the frame = Predictor.predict_sixdof (ncnn): the same camera vector, a
    crop within CROP_LEVELS, the pose within IMAGE_TOL; unknown intrinsics: f = W + H at the centre."""
    from pyhpe.runtime.preprocess import sixdof_inputs

    box, K = _box(scene, which), scene["K"] if known else None
    p = _predictor(model["param"])
    ref = p.predict_sixdof(scene["image"], K=K, boxes=[box])
    x, camera = sixdof_inputs(scene["image"], ref["intrinsics"], [box], p.task, p.card)
    out = _infer([host6 / "pyhpe-infer"], model["param"], tmp_path, *_image_args(scene, box, K, tmp_path))
    np.testing.assert_array_equal(out["camera"], camera[0])
    np.testing.assert_allclose(out["intrinsics"], _k4(ref["intrinsics"]), rtol=1e-7)
    levels = _crop_levels(out["input"], x[0])
    assert levels <= CROP_LEVELS, levels
    errors = _max_errors(out, {k: ref[k][0] for k in KEYS})
    assert all(errors[k] <= IMAGE_TOL[k] for k in KEYS), (levels, errors)
    # the landmarks map back to the image through the crop map the runtime reports
    sx, tx, sy, ty = out["crop_map"]
    side = camera[0][2] - camera[0][0]
    assert sx == sy == pytest.approx(SIZE / side)
    assert tx == pytest.approx((0.5 - camera[0][0]) * SIZE / side - 0.5)
    assert ty == pytest.approx((0.5 - camera[0][1]) * SIZE / side - 0.5)


def test_host_official_convention_and_form(host6, model, scene, tmp_path):
    """A sidecar with the official crop convention and Eq. 3 form: the runtime warps the corners
    onto 0..S-1 and decodes t from the image centre, as the Predictor does with the same sidecar."""
    from pyhpe.runtime.preprocess import sixdof_inputs

    p = _predictor(model["official"])
    assert p.card.crop.convention == "official"
    for which in ("landmarks", "outside"):
        box = _box(scene, which)
        ref = p.predict_sixdof(scene["image"], K=scene["K"], boxes=[box])
        x, camera = sixdof_inputs(scene["image"], scene["K"], [box], p.task, p.card)
        out = _infer([host6 / "pyhpe-infer"], model["official"], tmp_path, *_image_args(scene, box, scene["K"], tmp_path))
        np.testing.assert_array_equal(out["camera"], camera[0])
        levels = _crop_levels(out["input"], x[0])
        assert levels <= CROP_LEVELS, levels
        errors = _max_errors(out, {k: ref[k][0] for k in KEYS})
        assert all(errors[k] <= IMAGE_TOL[k] for k in KEYS), (which, levels, errors)
    # the form changes t only: the paper form on the same outputs differs
    paper = _infer([host6 / "pyhpe-infer"], model["param"], tmp_path, "--tensor", _write(tmp_path / "x.f32", x),
                   "--camera", _write(tmp_path / "c.f32", camera[0]))
    official = _infer([host6 / "pyhpe-infer"], model["official"], tmp_path, "--tensor", tmp_path / "x.f32",
                      "--camera", tmp_path / "c.f32")
    np.testing.assert_array_equal(paper["R"], official["R"])
    assert np.abs(paper["t"] - official["t"]).max() > 1e-4


def _write(path: Path, a: np.ndarray) -> Path:
    np.ascontiguousarray(a, dtype=np.float32).tofile(path)
    return path


def test_host_bench_6dof(host6, model):
    p = run_command([host6 / "pyhpe-bench", model["param"], "--threads", "1,2", "--warmup", "1", "--runs", "3", "--json"])
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["threads"] for r in rows] == [1, 2] and all(0 < r["min_ms"] <= r["median_ms"] for r in rows)


def test_host_errors(host6, model, scene, tmp_path):
    """Bad input: an exit code and a message (pyhpe-infer: 2 for arguments, 10 + pyhpe_status)."""
    exe, param = host6 / "pyhpe-infer", model["param"]
    p = run_command([exe, param, "--image", scene["ppm"]])
    assert p.returncode == 2 and "needs --box" in p.stderr
    p = run_command([exe, param, "--image", scene["ppm"], "--box", 10, 10, 50, 50, "--intrinsics", "0,500,100,100"])
    assert p.returncode == 11 and "fx, fy > 0" in p.stderr
    p = run_command([exe, param, "--image", scene["ppm"], "--box", 50, 10, 10, 50])
    assert p.returncode == 11 and "x1 > x0" in p.stderr
    p = run_command([exe, param, "--image", scene["ppm"], "--box", 0, 0, 1e9, 1e9])
    assert p.returncode == 11 and "too large" in p.stderr
    x = _write(tmp_path / "x.f32", np.zeros((3, SIZE, SIZE)))
    bad = np.array([50, 0, 10, 40, 500, 200, 200, 30, 30, 32, 32], np.float32)  # right < left
    p = run_command([exe, param, "--tensor", x, "--camera", _write(tmp_path / "c.f32", bad)])
    assert p.returncode == 11 and "camera vector" in p.stderr
    p = run_command([exe, param, "--tensor", x])
    assert p.returncode == 2 and "--camera" in p.stderr
    p = run_command([exe, param, "--tensor", x, "--camera", "1,2,3"])
    assert p.returncode == 2 and "11 values" in p.stderr
    p = run_command([exe, param, "--tensors", x, "--camera", _write(tmp_path / "c2.f32", bad)])
    assert p.returncode == 2 and "--tensors is for rotation models" in p.stderr
    opts = run_command([exe, param, "--print-options"]).stdout.strip().splitlines()
    six = json.loads(opts[1])
    assert six["model_kind"] == "6dof" and six["num_vertices"] == model["module"].topology.num_vertices
    assert six["camera_blob"] == "in1" and six["crop_convention"] == "pyhpe" and six["translation_form"] == "paper"


# --- aarch64 under qemu ------------------------------------------------------------------------

@pytest.mark.parametrize("cpu", QEMU_CPUS)
def test_aarch64_under_qemu(aarch64_6, model, scene, tmp_path, cpu):
    """The static aarch64 build (NEON) under qemu: the tensor path within TENSOR_TOL of PyTorch, the
    image path with the Python camera vector and within IMAGE_TOL of the Predictor."""
    from pyhpe.runtime.preprocess import sixdof_inputs

    exe = ["qemu-aarch64", "-cpu", cpu, aarch64_6 / "pyhpe-infer"]
    p = _predictor(model["param"])
    box = scene["box"]
    x, camera = sixdof_inputs(scene["image"], scene["K"], [box], p.task, p.card)
    out = _infer(exe, model["param"], tmp_path, "--tensor", _write(tmp_path / "x.f32", x),
                 "--camera", _write(tmp_path / "c.f32", camera[0]))
    errors = _max_errors(out, _torch_reference(model["module"], x, camera))
    assert all(errors[k] <= TENSOR_TOL[k] for k in KEYS), errors
    ref = p.predict_sixdof(scene["image"], K=scene["K"], boxes=[box])
    out = _infer(exe, model["param"], tmp_path, *_image_args(scene, box, scene["K"], tmp_path))
    np.testing.assert_array_equal(out["camera"], camera[0])
    assert _crop_levels(out["input"], x[0]) <= CROP_LEVELS
    errors = _max_errors(out, {k: ref[k][0] for k in KEYS})
    assert all(errors[k] <= IMAGE_TOL[k] for k in KEYS), errors


# --- the JNI bridge (no NDK: host Java, aarch64 link) -------------------------------------------

SIXDOF_SYMBOLS = ("Java_org_pyhpe_NativeBridge_nativeIsSixDoF", "Java_org_pyhpe_NativeBridge_nativeEstimate6DoF")

# A stand-in for the Kotlin NativeBridge (same class, so the same JNI symbols): loads the model from
# its sidecar, checks the kind, prints nativeEstimate6DoF's array (with and without intrinsics) and
# the messages of a missing box and of intrinsics of the wrong length.
JAVA_6DOF = """
package org.pyhpe;
public class NativeBridge {
    static native long nativeLoadFromSidecar(String p, String b, String json, int threads, boolean fp16)
        throws java.io.IOException;
    static native void nativeFree(long h);
    static native boolean nativeIsSixDoF(long h);
    static native float[] nativeEstimate6DoF(long h, byte[] rgba, int w, int hgt, int stride, float[] box,
                                             float[] intrinsics);
    static void print(float[] out) {
        StringBuilder s = new StringBuilder();
        for (float v : out) s.append(v).append(' ');
        System.out.println(s.toString().trim());
    }
    public static void main(String[] a) throws Exception {
        System.load(a[0]);
        int w = Integer.parseInt(a[5]), h = Integer.parseInt(a[6]);
        byte[] rgba = java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(a[4]));
        float[] box = {Float.parseFloat(a[7]), Float.parseFloat(a[8]), Float.parseFloat(a[9]), Float.parseFloat(a[10])};
        float[] k = {Float.parseFloat(a[11]), Float.parseFloat(a[12]), Float.parseFloat(a[13]), Float.parseFloat(a[14])};
        long m = nativeLoadFromSidecar(a[1], a[2], a[3], 1, false);
        System.out.println(nativeIsSixDoF(m));
        print(nativeEstimate6DoF(m, rgba, w, h, w * 4, box, k));
        print(nativeEstimate6DoF(m, rgba, w, h, w * 4, box, null));
        try { nativeEstimate6DoF(m, rgba, w, h, w * 4, null, k); }
        catch (IllegalArgumentException e) { System.out.println("caught: " + e.getMessage()); }
        try { nativeEstimate6DoF(m, rgba, w, h, w * 4, box, new float[] {1, 2}); }
        catch (IllegalArgumentException e) { System.out.println("caught: " + e.getMessage()); }
        nativeFree(m);
    }
}
"""


def test_jni_6dof_from_java_matches_runtime(host6, model, scene, tmp_path):
    """nativeEstimate6DoF (the array the Kotlin HeadPose6DoF reads) = pyhpe_infer_6dof."""
    so = link_jni("g++", host6, require_ncnn_layers("host"), tmp_path / "libpyhpe_jni.so")
    image = scene["image"]
    h, w = image.shape[:2]
    rgba = np.concatenate([image, np.full((h, w, 1), 255, np.uint8)], axis=2)
    (tmp_path / "img.rgba").write_bytes(rgba.tobytes())
    src = tmp_path / "java" / "org" / "pyhpe"
    src.mkdir(parents=True)
    (src / "NativeBridge.java").write_text(JAVA_6DOF)
    assert run_command(["javac", "-d", tmp_path / "classes", src / "NativeBridge.java"]).returncode == 0
    box, K = scene["box"], scene["K"]
    k4 = [np.float32(v) for v in _k4(K)]  # Java passes float32 intrinsics
    p = run_command(["java", "-cp", tmp_path / "classes", "org.pyhpe.NativeBridge", so, model["param"],
                     model["dir"] / "t.ncnn.bin", model["dir"] / "t.ncnn.json", tmp_path / "img.rgba", w, h,
                     *[repr(float(v)) for v in box], *[repr(float(v)) for v in k4]])
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.strip().splitlines()
    assert lines[0] == "true"
    V = model["module"].topology.num_vertices
    for line, intrinsics in ((lines[1], ",".join(repr(float(v)) for v in k4)), (lines[2], None)):
        arr = np.array([float(v) for v in line.split()])
        assert arr.shape == (33 + 3 * V + 136,) and arr[32] == V
        args = _image_args(scene, box, None, tmp_path) + (["--intrinsics", intrinsics] if intrinsics else [])
        ref = _infer([host6 / "pyhpe-infer"], model["param"], tmp_path, *args)
        np.testing.assert_allclose(arr[6:15], ref["R"].reshape(9), atol=1e-6)
        np.testing.assert_allclose(arr[18:21], ref["t"], atol=1e-6)
        np.testing.assert_allclose(arr[24:28], ref["intrinsics"], rtol=1e-6)
        np.testing.assert_allclose(arr[33:33 + 3 * V], ref["vertices"].reshape(-1), atol=1e-6)
        np.testing.assert_allclose(arr[33 + 3 * V:], ref["landmarks"].reshape(-1), atol=1e-5)
    assert "caught: pyhpe: a 6DoF estimate needs the face box" in lines[3]
    assert "caught: pyhpe: intrinsics must hold 4 floats" in lines[4]


def test_jni_6dof_links_for_aarch64(aarch64_6, tmp_path):
    require(shutil.which("aarch64-linux-gnu-nm") is not None, "aarch64-linux-gnu-nm")
    so = link_jni("aarch64-linux-gnu-g++", aarch64_6, require_ncnn_layers("aarch64"), tmp_path / "libpyhpe_jni.so")
    nm = run_command(["aarch64-linux-gnu-nm", "-D", "--defined-only", so]).stdout
    for sym in SIXDOF_SYMBOLS:
        assert sym in nm
