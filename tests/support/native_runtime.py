"""Building the C++ runtime (csrc/runtime) for the tests: host and aarch64, against the ncnn that
``tools/build_ncnn.sh`` cached in build/ncnn. The tests never start the ncnn build themselves:
without it they skip on a developer machine and fail in CI, whose script builds it first. The
runtime builds incrementally in build/runtime-host and build/runtime-aarch64 (seconds once built).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support import REPO_ROOT, randomize_bn, require, run_command

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


# The fuzz harness's models (tests/runtime/test_runtime_fuzz.py, tools/fuzz_runtime.sh): RepNeXt-M4
# and RepVGG-B1g2 with their own depths, kernels, groups and layer graph but narrow widths (the
# real ones hold 31 MB and 165 MB of weights: one load would cost more than a thousand fuzz cases),
# exported at FUZZ_SIZE px. Names: m4 (plain), m4.fused (the fused pair: the three custom layers),
# b1g2 (plain; RepVGG has no mixer to fuse).
FUZZ_SIZE = 32
FUZZ_MODELS = ("m4", "m4.fused", "b1g2")


def fuzz_model_modules():
    """(name, module) of the narrow M4 and B1g2 (seeded weights, randomised BatchNorm statistics)."""
    import torch

    from pyhpe.models.backbones.repnext import REPNEXT_VARIANTS, RepNeXt, set_fused
    from pyhpe.models.backbones.repvgg import REPVGG_VARIANTS, RepVGG
    from pyhpe.models.sixdrepnet import SixDRepNet

    torch.manual_seed(0)
    _, depths = REPNEXT_VARIANTS["m4"]
    m4 = SixDRepNet(set_fused(RepNeXt((8, 16, 32, 64), depths), True))
    blocks, _, groups = REPVGG_VARIANTS["b1g2"]
    b1g2 = SixDRepNet(RepVGG(blocks, (0.125, 0.125, 0.125, 0.125), groups))
    return [("m4", randomize_bn(m4.eval(), 1)), ("b1g2", randomize_bn(b1g2.eval(), 2))]


def export_fuzz_models(out: Path) -> Path:
    """The fuzz models' ncnn pairs and sidecars in ``out`` (<name>.ncnn.param/.bin/.json; the
    fused M4 as m4.fused.ncnn.*), exported once: kept when every file is there."""
    want = [out / f"{n}.ncnn.{ext}" for n in FUZZ_MODELS for ext in ("param", "bin", "json")]
    if all(p.is_file() for p in want):
        return out
    from pyhpe.export import export_model

    out.mkdir(parents=True, exist_ok=True)
    for name, module in fuzz_model_modules():
        # a loose check: random weights through 29 narrow RepVGG blocks reach ~1e2 (fuzzing needs
        # a model that loads and runs, not the export's precision, which test_ncnn_fused checks)
        export_model(module, out / f"{name}.ncnn.param", "ncnn", name=name, input_size=FUZZ_SIZE,
                     tolerance=1e-2)
    missing = [p.name for p in want if not p.is_file()]
    assert not missing, f"the export wrote no {missing}"
    return out


def build_fuzz_harness() -> Path:
    """pyhpe-model-fuzz (csrc/runtime/fuzz) with ASan + UBSan against the ASan ncnn
    (tools/build_ncnn.sh host-asan), in build/runtime-fuzz (incremental); required."""
    install = ncnn_installed("host-asan")
    require(shutil.which("cmake") is not None, "cmake")
    build = REPO_ROOT / "build" / "runtime-fuzz"
    cfg = run_command(["cmake", "-S", REPO_ROOT / "csrc" / "runtime", "-B", build,
                       f"-Dncnn_DIR={install / 'lib' / 'cmake' / 'ncnn'}", "-DCMAKE_BUILD_TYPE=Release",
                       "-DPYHPE_RUNTIME_SANITIZE=ON", "-DPYHPE_RUNTIME_FUZZ=ON", "-DPYHPE_RUNTIME_TOOLS=OFF"])
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    b = run_command(["cmake", "--build", build, "-j", "2"], timeout=1800)
    assert b.returncode == 0, b.stdout[-3000:] + b.stderr[-3000:]
    assert "warning:" not in b.stdout + b.stderr, "the fuzz harness must build warning-free"
    return build / "pyhpe-model-fuzz"


def fuzz_stems(models: Path) -> list[Path]:
    """The harness's STEM arguments for the fuzz models in ``models`` (export_fuzz_models)."""
    return [models / f"{name}.ncnn" for name in FUZZ_MODELS]


def replay_python(emitted: Path, image_size: int = FUZZ_SIZE) -> dict:
    """The harness's --emit cases (emitted/<i>.param, <i>.bin, verdicts.tsv) through
    pyhpe.runtime.ncnn_check (same verdict and message as the C++ check required) and the ncnn
    Python backend (a rejected case must raise a one-line ValueError; an accepted one must load
    and run). Returns counts; raises AssertionError on the first disagreement."""
    import numpy as np

    from pyhpe.runtime.backends import NcnnBackend
    from pyhpe.runtime.ncnn_check import NcnnModelError, check_ncnn_model

    counts = {"cases": 0, "ok": 0, "rejected": 0, "ran": 0}
    x = np.linspace(-1, 1, 3 * image_size * image_size, dtype=np.float32).reshape(1, 3, image_size, image_size)
    for row in (emitted / "verdicts.tsv").read_text().splitlines():
        i, verdict, stem, what, message = row.split("\t")
        param, weights = (emitted / f"{i}.param").read_bytes(), (emitted / f"{i}.bin").read_bytes()
        try:
            check_ncnn_model(param, weights, param_name=f"{i}.param", bin_name=f"{i}.bin", image_blob="in0",
                             image_size=image_size)
            got = ("ok", "")
        except NcnnModelError as err:
            got = ("rejected", str(err))
        assert got == (verdict, message), f"case {i} ({stem}, {what}): C++ {verdict} {message!r}, Python {got}"
        counts["cases"] += 1
        counts[verdict] += 1
        # the backend reads <stem>.ncnn.param/.bin and the sidecar <stem>.ncnn.json beside them
        files = [emitted / f"case{i}.ncnn.{ext}" for ext in ("param", "bin", "json")]
        for path, data in zip(files, (param, weights, Path(stem + ".json").read_bytes())):
            path.write_bytes(data)
        try:
            NcnnBackend(files[0]).run(x)
            counts["ran"] += 1
            assert verdict == "ok", f"case {i}: the backend loaded a model the check rejects"
        except ValueError as err:
            assert verdict == "rejected" or "ncnn" in str(err), f"case {i}: {err}"
            assert "\n" not in str(err).strip(), f"case {i}: a multi-line error: {err}"
        except RuntimeError as err:  # extract failed: an accepted model ncnn cannot run (not a crash)
            assert verdict == "ok", f"case {i}: {err}"
        for path in files:
            path.unlink()
    return counts
