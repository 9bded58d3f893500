"""The Android JNI bridge (android/pyhpe/src/main/cpp/pyhpe_jni.cpp) without an NDK:

* compiled and linked for aarch64 Linux against the JDK's jni.h, the aarch64 runtime and ncnn
  (a shared library exporting the JNI entry points the Kotlin class calls);
* compiled for the host and called from Java (a stand-in for the Kotlin `NativeBridge` object,
  same class name, so the same symbols), compared with the Python Predictor.

Nothing here runs on Android; docs/android.md has the NDK build steps.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from support import REPO_ROOT, require, run_command
from support.native_runtime import link_jni

SYMBOLS = ("Java_org_pyhpe_NativeBridge_nativeLoad", "Java_org_pyhpe_NativeBridge_nativeLoadFromSidecar",
           "Java_org_pyhpe_NativeBridge_nativeEstimate", "Java_org_pyhpe_NativeBridge_nativeFree",
           "Java_org_pyhpe_NativeBridge_nativeBuildInfo")


def _run(cmd, **kw):
    p = run_command(cmd, **kw)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def test_jni_bridge_links_for_aarch64(tmp_path):
    from support.native_runtime import ncnn_installed

    install = ncnn_installed("aarch64")
    require(shutil.which("aarch64-linux-gnu-g++") is not None, "aarch64-linux-gnu-g++")
    build = REPO_ROOT / "build" / "runtime-aarch64"
    if not (build / "libpyhpe_runtime.a").is_file():
        _run([REPO_ROOT / "tools" / "build_runtime_aarch64.sh"])
    so = link_jni("aarch64-linux-gnu-g++", build, install, tmp_path / "libpyhpe_jni.so")
    nm = _run(["aarch64-linux-gnu-nm", "-D", "--defined-only", so]).stdout
    for sym in SYMBOLS:
        assert sym in nm
    header = so.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64


JAVA_MAIN = """
package org.pyhpe;
public class NativeBridge {
    static native long nativeLoad(String p, String b, int size, boolean matrix, int threads, boolean fp16)
        throws java.io.IOException;
    static native long nativeLoadFromSidecar(String p, String b, String json, int threads, boolean fp16)
        throws java.io.IOException;
    static native void nativeFree(long h);
    static native float[] nativeEstimate(long h, byte[] rgba, int w, int hgt, int stride, float[] box);
    static native String nativeBuildInfo();
    public static void main(String[] a) throws Exception {
        System.load(a[0]);
        int w = Integer.parseInt(a[4]), h = Integer.parseInt(a[5]);
        byte[] rgba = java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(a[3]));
        float[] box = {Float.parseFloat(a[6]), Float.parseFloat(a[7]), Float.parseFloat(a[8]), Float.parseFloat(a[9])};
        long m = nativeLoad(a[1], a[2], Integer.parseInt(a[10]), false, 1, false);
        float[] out = nativeEstimate(m, rgba, w, h, w * 4, box);
        StringBuilder s = new StringBuilder();
        for (float v : out) s.append(v).append(' ');
        System.out.println(s.toString().trim());
        try { nativeEstimate(m, rgba, w, h, w * 4, new float[] {1, 2}); }
        catch (IllegalArgumentException e) { System.out.println("caught: " + e.getMessage()); }
        nativeFree(m);
        try { nativeLoad(a[1] + ".missing", a[2], 64, false, 1, false); }
        catch (java.io.IOException e) { System.out.println("caught: " + e.getMessage()); }
        // the options from the export's sidecar (a[11]), then a missing and a malformed one (a[12])
        m = nativeLoadFromSidecar(a[1], a[2], a[11], 1, false);
        out = nativeEstimate(m, rgba, w, h, w * 4, box);
        s = new StringBuilder();
        for (float v : out) s.append(v).append(' ');
        System.out.println(s.toString().trim());
        nativeFree(m);
        try { nativeLoadFromSidecar(a[1], a[2], a[11] + ".missing", 1, false); }
        catch (java.io.IOException e) { System.out.println("caught: " + e.getMessage()); }
        try { nativeLoadFromSidecar(a[1], a[2], a[12], 1, false); }
        catch (IllegalStateException e) { System.out.println("caught: " + e.getMessage()); }
    }
}
"""


def test_jni_bridge_from_java_matches_python(tmp_path):
    from support.native_runtime import SIZE, build_host_runtime, ncnn_installed

    install = ncnn_installed("host")
    build = build_host_runtime()  # incremental: a no-op when tests/runtime/test_runtime_cpp.py built it
    pytest.importorskip("ncnn")
    from pyhpe.export import export_model
    from pyhpe.models import create_model
    from pyhpe.runtime import Predictor

    so = link_jni("g++", build, install, tmp_path / "libpyhpe_jni.so")
    torch.manual_seed(0)
    m = create_model("sixdrepnet_mobilenetv3_small").eval()
    export_model(m, tmp_path / "m.ncnn.param", "ncnn", name="m", input_size=SIZE)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (120, 110, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((120, 110, 1), 255, np.uint8)], axis=2)
    (tmp_path / "img.rgba").write_bytes(rgba.tobytes())
    java_dir = tmp_path / "java" / "org" / "pyhpe"
    java_dir.mkdir(parents=True)
    (java_dir / "NativeBridge.java").write_text(JAVA_MAIN)
    _run(["javac", "-d", tmp_path / "classes", java_dir / "NativeBridge.java"])
    box = [30.0, 25.0, 80.0, 90.0]
    (tmp_path / "bad.json").write_text('{"format": "pyhpe-deploy", "version": 7}')
    p = _run(["java", "-cp", tmp_path / "classes", "org.pyhpe.NativeBridge", so, tmp_path / "m.ncnn.param",
              tmp_path / "m.ncnn.bin", tmp_path / "img.rgba", 110, 120, *box, SIZE, tmp_path / "m.ncnn.json",
              tmp_path / "bad.json"])
    lines = p.stdout.strip().splitlines()
    out = np.array([float(v) for v in lines[0].split()])
    assert out.shape == (18,)
    R = out[6:15].reshape(3, 3)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
    # the C++ pixel path resizes bilinearly (ncnn) where Python uses OpenCV's INTER_AREA, so the
    # agreement is approximate; the tensor path is exact (tests/runtime/test_runtime_cpp.py)
    ref = Predictor(tmp_path / "m.ncnn.param", "ncnn").predict_faces(rgb, [box])
    np.testing.assert_allclose(out[15:], ref["euler_deg"][0], atol=3.0)
    assert "caught: pyhpe: box must hold 4 floats" in lines[1]
    assert "caught: pyhpe: file error" in lines[2]
    # the export's sidecar gives the same options here (its card holds 6DRepNet's crop)
    np.testing.assert_array_equal(np.array([float(v) for v in lines[3].split()]), out)
    assert "caught: pyhpe: file error" in lines[4] and "m.ncnn.json.missing: cannot open" in lines[4]
    assert "caught: pyhpe: model error" in lines[5] and "sidecar version 7 is unknown" in lines[5]
