"""Building the C++ runtime (csrc/runtime) for the tests: host and aarch64, against the ncnn that
``tools/build_ncnn.sh`` cached in build/ncnn. The tests never start the ncnn build themselves:
without it they skip on a developer machine and fail in CI, whose script builds it first. The
runtime builds incrementally in build/runtime-host and build/runtime-aarch64 (seconds once built).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support import REPO_ROOT, require, run_command

NCNN_DIR = REPO_ROOT / "build" / "ncnn"
SIZE = 64  # the input side of the runtime tests' models


def ncnn_installed(target: str) -> Path:
    """build/ncnn/install-<target> (host or aarch64), required."""
    install = NCNN_DIR / f"install-{target}"
    require(any(install.glob(".stamp-*")), f"ncnn built for {target} (tools/build_ncnn.sh {target})")
    return install


def build_host_runtime() -> Path:
    """Configure and build csrc/runtime for the host against build/ncnn (incremental)."""
    install = ncnn_installed("host")
    require(shutil.which("cmake") is not None, "cmake")
    build = REPO_ROOT / "build" / "runtime-host"
    cfg = run_command(["cmake", "-S", REPO_ROOT / "csrc" / "runtime", "-B", build,
                       f"-Dncnn_DIR={install / 'lib' / 'cmake' / 'ncnn'}", "-DCMAKE_BUILD_TYPE=Release"])
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    b = run_command(["cmake", "--build", build, "-j", "2"])
    assert b.returncode == 0, b.stdout[-3000:] + b.stderr[-3000:]
    assert "warning:" not in b.stdout + b.stderr, "the runtime must build warning-free"
    return build


def build_aarch64_runtime() -> Path:
    """Cross-build csrc/runtime for aarch64 (tools/build_runtime_aarch64.sh); needs the cross
    compiler and qemu-aarch64 to run what it builds."""
    ncnn_installed("aarch64")
    require(shutil.which("aarch64-linux-gnu-g++") is not None, "aarch64-linux-gnu-g++")
    require(shutil.which("qemu-aarch64") is not None, "qemu-aarch64")
    b = run_command([REPO_ROOT / "tools" / "build_runtime_aarch64.sh"])
    assert b.returncode == 0, b.stdout[-3000:] + b.stderr[-3000:]
    return REPO_ROOT / "build" / "runtime-aarch64"


# The ncnn layers a TRGv2 (6DoF) graph needs beyond the 6DRepNet ones (its deconvolution head, the
# sampling of image features, the heatmap's 1D convolutions), by their C++ class names.
SIXDOF_LAYERS = ("Deconvolution", "GridSample", "Convolution1D")


def require_ncnn_layers(target: str, layers=SIXDOF_LAYERS) -> Path:
    """build/ncnn/install-<target>, required to include ``layers`` (tools/build_ncnn.sh keeps only
    the layers named in its KEEP_LAYERS): a compiled layer leaves its mangled class name
    (``4ncnn<len><Name>``) in libncnn.a."""
    install = ncnn_installed(target)
    lib = (install / "lib" / "libncnn.a").read_bytes()
    missing = [name for name in layers if f"4ncnn{len(name)}{name}".encode() not in lib]
    require(not missing, f"ncnn for {target} with the layers {', '.join(missing)} (KEEP_LAYERS of "
                         "tools/build_ncnn.sh; rebuild build/ncnn)")
    return install


JNI_SRC = REPO_ROOT / "android" / "pyhpe" / "src" / "main" / "cpp" / "pyhpe_jni.cpp"


def jdk_include() -> Path:
    """The JDK's include directory (jni.h), required."""
    import os

    javac = shutil.which("javac")
    require(javac is not None, "a JDK (javac, jni.h)")
    inc = Path(os.path.realpath(javac)).parents[1] / "include"
    require((inc / "jni.h").is_file(), f"jni.h under {inc}")
    return inc


def link_jni(cxx: str, runtime_build: Path, ncnn_install: Path, out: Path) -> Path:
    """The JNI bridge (android/.../pyhpe_jni.cpp) compiled warning-free with ``cxx`` against the
    JDK's jni.h and linked with a runtime build and its ncnn into the shared library ``out``."""
    inc = jdk_include()
    p = run_command([cxx, "-O2", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                     f"-I{inc}", f"-I{inc / 'linux'}", f"-I{REPO_ROOT / 'csrc' / 'runtime' / 'include'}", JNI_SRC,
                     runtime_build / "libpyhpe_runtime.a", ncnn_install / "lib" / "libncnn.a",
                     "-fopenmp", "-Wl,--no-undefined", "-o", out])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out
