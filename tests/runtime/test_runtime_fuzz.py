"""Fuzzing the C++ runtime's model loading (docs/fuzzing.md).

* The in-process harness pyhpe-model-fuzz (csrc/runtime/fuzz/model_fuzz.cpp), built with
  ASan + UBSan against the ASan-instrumented ncnn (tools/build_ncnn.sh host-asan), mutates the
  exported .param/.bin/sidecar of narrow RepNeXt-M4 (plain and fused: the three custom layers)
  and RepVGG-B1g2 models and loads each case through the C API, running one inference when it
  loads. Every case must end in an error status with a message or a result; a sanitizer report
  aborts the run.
* The same mutated files replayed through the Python check (pyhpe/runtime/ncnn_check.py, the
  same compiled check through pyhpe._C: the harness's verdict and message, case by case), the
  ncnn Python backend (one-line errors) and the JNI bridge on the host (Java exceptions, never
  a dead JVM).
* Regression cases: inputs that crashed ncnn (or the first version of the check) before.

CI runs a seeded share (FUZZ_CI_CASES); ``PYHPE_FUZZ_CASES=N`` (tools/fuzz_runtime.sh N) runs N
harness cases and proportionally more replays. Skipped on a developer machine without the ASan
ncnn build; required in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

import pytest
from support import REPO_ROOT, require, run_command
from support.native_runtime import (
    FUZZ_SIZE,
    build_fuzz_harness,
    build_host_runtime,
    export_fuzz_models,
    fuzz_stems,
    link_jni,
    ncnn_installed,
)

FUZZ_CI_CASES = 4000  # the harness's CI share (docs/fuzzing.md has the measured time)
SEED = int(os.environ.get("PYHPE_FUZZ_SEED", "1"))
CASES = int(os.environ.get("PYHPE_FUZZ_CASES", str(FUZZ_CI_CASES)))
# the replays: a fiftieth of the harness's cases, at least 200 (Python) and 100 (JNI)
PY_CASES = max(200, min(2000, CASES // 50))
JNI_CASES = max(100, min(500, CASES // 200))
SUMMARY = re.compile(r"fuzz: cases=(\d+) loaded=(\d+) inferred=(\d+) rejected=(\d+) infer_errors=(\d+) "
                     r"seconds=([\d.]+) distinct_messages=(\d+) distinct_kinds=(\d+) broken=(\d+)")


@pytest.fixture(scope="module")
def harness() -> Path:
    return build_fuzz_harness()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    pytest.importorskip("ncnn")
    return export_fuzz_models(tmp_path_factory.mktemp("fuzz-models"))


def _emit(harness: Path, models: Path, out: Path, cases: int, first: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    p = run_command([harness, "--seed", SEED, "--first", first, "--cases", cases, "--emit", out, *fuzz_stems(models)])
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return out


def _scratch(tmp_path: Path) -> Path:
    """A tmpfs folder when there is one (the emitted cases are ~1 MB each)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = shm / f"pyhpe-fuzz-{os.getpid()}-{tmp_path.name}"
        d.mkdir()
        return d
    return tmp_path


def test_harness_cases_end_in_status_or_result(harness, models):
    """The seeded share (or PYHPE_FUZZ_CASES): no sanitizer report, no status without a message."""
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    p = run_command([harness, "--seed", SEED, "--cases", CASES, *fuzz_stems(models)], env=env,
                    timeout=max(600, CASES // 20))
    out = p.stdout + p.stderr
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out and "LeakSanitizer" not in out, \
        out[-6000:]
    assert p.returncode == 0, out[-6000:]
    m = SUMMARY.search(p.stdout)
    assert m, p.stdout[-2000:]
    cases, loaded, inferred, rejected, _, _, _, kinds, broken = m.groups()
    print(m.group(0))
    assert int(cases) == CASES and int(broken) == 0
    assert int(loaded) + int(rejected) == CASES
    # the mix reaches both ends: models that load and run, and many different rejections
    assert int(inferred) > CASES // 10 and int(rejected) > CASES // 2 and int(kinds) > min(100, CASES // 4)


def test_python_check_and_backend_agree_with_runtime(harness, models, tmp_path):
    """Each emitted case: pyhpe.runtime.ncnn_check gives the C++ check's verdict and message, and
    the ncnn Python backend loads and runs it or raises a one-line ValueError (in a fresh
    interpreter, so a crash of the ncnn package is a failure here, not a dead test run)."""
    scratch = _scratch(tmp_path)
    try:
        done = 0
        while done < PY_CASES:
            batch = min(250, PY_CASES - done)
            d = _emit(harness, models, scratch / "batch", batch, 10_000_000 + done)
            code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
                    "from support.native_runtime import replay_python; "
                    "print(json.dumps(replay_python(Path(sys.argv[2]))))")
            p = run_command(["python", "-c", code, REPO_ROOT / "tests", d], timeout=900)
            assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
            shutil.rmtree(d)
            done += batch
        print(f"python replay: {done} cases")
    finally:
        if scratch != tmp_path:
            shutil.rmtree(scratch, ignore_errors=True)


JAVA_REPLAY = """
package org.pyhpe;
public class NativeBridge {
    static native long nativeLoadFromSidecar(String p, String b, String json, int threads, boolean fp16)
        throws java.io.IOException;
    static native void nativeFree(long h);
    static native float[] nativeEstimate(long h, byte[] rgba, int w, int hgt, int stride, float[] box);
    public static void main(String[] a) throws Exception {
        System.load(a[0]);
        java.nio.file.Path dir = java.nio.file.Paths.get(a[1]);
        int loaded = 0, rejected = 0;
        byte[] rgba = new byte[48 * 48 * 4];
        for (int i = 0; i < rgba.length; i++) rgba[i] = (byte) (i * 31);
        for (String row : java.nio.file.Files.readAllLines(dir.resolve("verdicts.tsv"))) {
            String[] f = row.split("\\t", -1);
            String stem = dir.resolve(f[0]).toString();
            try {
                long m = nativeLoadFromSidecar(stem + ".param", stem + ".bin", f[2] + ".json", 1, false);
                try { nativeEstimate(m, rgba, 48, 48, 48 * 4, new float[] {8, 8, 40, 40}); }
                catch (IllegalStateException e) { check(e); }
                nativeFree(m);
                loaded++;
                if (!f[1].equals("ok")) throw new AssertionError("case " + f[0] + " loaded, the check rejects it");
            } catch (IllegalStateException | IllegalArgumentException | java.io.IOException e) {
                check(e);  // a case the check passes may still fail later (a declared input size, ncnn)
                rejected++;
            }
        }
        System.out.println("jni replay: loaded=" + loaded + " rejected=" + rejected);
    }
    static void check(Exception e) {
        String m = e.getMessage();
        if (m == null || !m.startsWith("pyhpe: ") || m.length() < 20) throw new AssertionError("bad message: " + m);
    }
}
"""


def test_jni_bridge_replays_cases(harness, models, tmp_path):
    """The emitted cases through the JNI bridge's load and estimate (host build, a Java driver):
    every rejected case is a Java exception with pyhpe's message, every other loads; the JVM lives."""
    require(shutil.which("javac") is not None and shutil.which("java") is not None, "a JDK (javac, java)")
    install = ncnn_installed("host")
    so = link_jni("g++", build_host_runtime(), install, tmp_path / "libpyhpe_jni.so")
    java_dir = tmp_path / "java" / "org" / "pyhpe"
    java_dir.mkdir(parents=True)
    (java_dir / "NativeBridge.java").write_text(JAVA_REPLAY)
    p = run_command(["javac", "-d", tmp_path / "classes", java_dir / "NativeBridge.java"])
    assert p.returncode == 0, p.stderr
    scratch = _scratch(tmp_path)
    try:
        d = _emit(harness, models, scratch / "jni", JNI_CASES, 20_000_000)
        p = run_command(["java", "-Xss8m", "-cp", tmp_path / "classes", "org.pyhpe.NativeBridge", so, d], timeout=900)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        m = re.search(r"jni replay: loaded=(\d+) rejected=(\d+)", p.stdout)
        assert m and int(m.group(1)) + int(m.group(2)) == JNI_CASES, p.stdout
        print(m.group(0))
    finally:
        if scratch != tmp_path:
            shutil.rmtree(scratch, ignore_errors=True)


# --- regressions: minimal models on a 3 x 16 x 16 input ------------------------------------------

def _conv_weights(n: int) -> bytes:
    return struct.pack("<I", 0) + struct.pack(f"<{n}f", *([0.01] * n))


REGRESSIONS = {
    # Each crashed ncnn (ASan heap-buffer-overflow) through pyhpe_model_load before the check
    # (pyhpe-model-fuzz --no-check --as-is replays a file pair that way):
    # convolution kernels read past the packed weights when the weights hold fewer input channels
    # than the blob has (convolution_packed, im2col_gemm, winograd63: fuzz cases with M4's shapes)
    "conv3x3-channels": (["Input in0 0 1 in0", "Convolution c0 1 1 in0 a 0=16 1=3 4=1 6=432",
                          "Convolution c1 1 1 a out0 0=32 1=3 4=1 6=2304"], _conv_weights(432) + _conv_weights(2304),
                         "line 5: Convolution 'c1': weights hold 8 input channels, the input (c 16, h 16, w 16) has 16"),
    "conv1x1-channels": (["Input in0 0 1 in0", "Convolution c0 1 1 in0 a 0=16 1=3 4=1 6=432",
                          "Convolution c1 1 1 a out0 0=32 1=1 6=256"], _conv_weights(432) + _conv_weights(256),
                         "line 5: Convolution 'c1': weights hold 8 input channels, the input (c 16, h 16, w 16) has 16"),
    # ncnn runs Noop in place: a top without a bottom overflows in do_forward_layer (the harness's
    # first finding, through the first version of the check, which allowed any counts for Noop)
    "noop-tops": (["Input in0 0 1 in0", "Noop n 1 3 in0 a b out0"], b"",
                  "line 4: Noop 'n': Noop needs as many tops as bottoms, has 1 and 3"),
    # a convolution given a 1-D blob (the harness's second finding, a GELU turned Flatten in M4's
    # MLP: the first check followed 3-D shapes only) reads past it in im2col_gemm
    "conv-1d-input": (["Input in0 0 1 in0", "Flatten f 1 1 in0 a", "Convolution c 1 1 a out0 0=32 1=1 6=512"],
                      _conv_weights(512), "line 5: Convolution 'c': takes a 3-D (c, h, w) input, got (768)"),
    # a convolution's paddings mixing >= 0 and -234 (B1g2, seed 1 case 12977 of the first full
    # run): ncnn pads explicitly with a negative side, an allocation of ~2^64 bytes
    "conv-pad-mix": (["Input in0 0 1 in0", "Convolution c 1 1 in0 out0 0=8 1=3 14=-234 4=1 6=216"],
                     _conv_weights(216), "line 4: Convolution 'c': paddings 1 1 -234 -234 must all be >= 0"),
    # a depthwise convolution turned Deconvolution (M4, seed 7 case 2676 of the coverage run: a
    # memcpy heap-buffer-overflow there; this minimal form of it ncnn happens to survive): its
    # weights hold 1 input channel, the blob has 16 (the first check followed no Deconvolution)
    "deconv-channels": (["Input in0 0 1 in0", "Convolution c0 1 1 in0 a 0=16 1=3 4=1 6=432",
                         "Deconvolution d 1 1 a out0 0=8 1=7 3=2 4=3 5=1 6=392"],
                        _conv_weights(432) + _conv_weights(392) + struct.pack("<8f", *([0.0] * 8)),
                        "line 5: Deconvolution 'd': weights hold 1 input channels, the input (c 16, h 16, w 16) has 16"),
    # a Slice along w (M4: a mixer's channel split turned to axis 2, seed 7 case 2874 of the
    # coverage run: SEGV in ConvolutionDepthWise_x86; the first check followed channel slices only)
    "slice-axis-w": (["Input in0 0 1 in0", "Convolution c0 1 1 in0 a 0=16 1=3 4=1 6=432",
                      "Slice s 1 4 a b c d e -23300=4,4,4,4,4 1=2",
                      "ConvolutionDepthWise dw 1 1 b out0 0=4 1=3 4=1 6=36 7=4"], _conv_weights(432) + _conv_weights(36),
                     "line 6: ConvolutionDepthWise 'dw': weights hold 4 input channels, the input (c 16, h 16, w 4) has 16"),
    # B1g2's global pooling turned Padding (seed 1 case 43325 of the full run): the inner product
    # after it read past its input (the check did not follow Padding's shape)
    "padding-innerproduct": (["Input in0 0 1 in0", "Padding p 1 1 in0 a 0=1", "InnerProduct fc 1 1 a out0 0=6 1=0 2=4608"],
                             _conv_weights(4608),
                             "line 5: InnerProduct 'fc': weights hold 768 inputs, the input (c 3, h 17, w 16) has 816"),
    # Slice trusts its sizes: a memcpy past the input
    "slice-sizes": (["Input in0 0 1 in0", "Slice s 1 2 in0 a out0 -23300=2,2,2 1=0"], b"",
                    "line 4: Slice 's': slices 4 channels of an input with 3"),
    # a two-input BinaryOp given one bottom reads bottom_blobs[1]
    "binaryop-bottoms": (["Input in0 0 1 in0", "BinaryOp add 1 1 in0 out0 0=0"], b"",
                         "line 4: BinaryOp 'add': takes two bottoms (or 1=1 and a scalar)"),
    # a BinaryOp turned Gemm (M4, seed 1 case 44031 of the full run: SEGV in ConvolutionDepthWise_x86):
    # Gemm of two 3-D blobs left the shape unknown, so the depthwise convolutions after it were not
    # checked; the check now follows Gemm (and Reshape, Crop, Interp, Eltwise, MemoryData, Noop,
    # windowed pooling, broadcasting BinaryOp) and refuses 3-D operands
    "gemm-3d": (["Input in0 0 1 in0", "Split sp 1 2 in0 a b", "Gemm g 2 1 a b out0"], b"",
                "line 5: Gemm 'g': takes 1-D or 2-D operands, got (c 3, h 16, w 16)"),
    # ncnn's Reshape keeping the channel count relabels w and h without counting the values
    "reshape-count": (["Input in0 0 1 in0", "Reshape r 1 1 in0 out0 0=32 1=16 2=3"], b"",
                      "line 4: Reshape 'r': reshapes (c 3, h 16, w 16) (768 values) to 1536 values"),
    # ncnn's Crop copies the window it computes without bounds: a negative start past the front
    "crop-window": (["Input in0 0 1 in0", "Crop c 1 1 in0 out0 -23309=1,-40 -23310=1,8 -23311=1,0"], b"",
                    "line 4: Crop 'c': crops channels [-37, 3) of (c 3, h 16, w 16)"),
    # Rules whose inputs ncnn itself fails cleanly (kept: the message must name the line and problem):
    # an unknown bottom becomes a new, never produced blob (extract fails)
    "unknown-blob": (["Input in0 0 1 in0", "ReLU r 1 1 nosuch out0"], b"",
                     "line 4: ReLU 'r': blob 'nosuch' used before it is produced"),
    "array-length": (["Input in0 0 1 in0", "Slice s 1 1 in0 out0 -23300=1000000,1"], b"",
                     "line 4: Slice 's': array parameter -23300 has length '1000000'"),
    "huge-counts": (["Input in0 0 1 in0"], b"", "line 2: layer count 2147483647 and blob count 1"),
    "truncated-bin": (["Input in0 0 1 in0", "Convolution conv 1 1 in0 out0 0=6 1=3 4=1 6=162"],
                      _conv_weights(162)[:-40], "cannot read layer Convolution 'conv'"),
}


def _regression_files(tmp_path: Path, name: str):
    lines, weights, expect = REGRESSIONS[name]
    blobs = set()
    for line in lines:
        t = line.split()
        blobs.update(t[4:4 + int(t[2]) + int(t[3])])
    count = f"2147483647 {len(blobs)}" if name == "huge-counts" else f"{len(lines)} {len(blobs)}"
    param = tmp_path / f"{name}.ncnn.param"
    param.write_text("\n".join(["7767517", count, *lines]) + "\n")
    param.with_name(f"{name}.ncnn.bin").write_bytes(weights)
    return param, expect


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_rejected_by_runtime(host_tools, tmp_path, name):
    param, expect = _regression_files(tmp_path, name)
    x = tmp_path / "x.f32"
    x.write_bytes(b"\0" * (4 * 3 * 16 * 16))
    p = run_command([host_tools / "pyhpe-infer", param, "--no-sidecar", "--input-size", 16, "--tensor", x])
    assert p.returncode == 13 and "model error" in p.stderr and expect in p.stderr, p.stderr


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_rejected_by_python_check(tmp_path, name):
    from pyhpe.runtime.ncnn_check import NcnnModelError, check_ncnn_model

    param, expect = _regression_files(tmp_path, name)
    with pytest.raises(NcnnModelError) as err:
        check_ncnn_model(param.read_bytes(), param.with_name(f"{name}.ncnn.bin").read_bytes(),
                         param_name=str(param), image_blob="in0", image_size=16)
    assert expect in str(err.value)


def test_exported_models_pass_both_checks(models):
    """The unmutated exports (and their fused pair) pass the Python check as the C++ one."""
    from pyhpe.runtime.ncnn_check import check_ncnn_model

    for stem in fuzz_stems(models):
        check_ncnn_model(Path(f"{stem}.param").read_bytes(), Path(f"{stem}.bin").read_bytes(),
                         image_blob="in0", image_size=FUZZ_SIZE)
