"""Low-precision paths of the C++ runtime's custom ncnn layers (csrc/runtime/src/custom_layers.h;
docs/deployment.md, "Precision").

Per layer (PyhpeRepNeXtMixer block and downsample, PyhpeRepNeXtFFN behind PyhpeSplit): the layer's
fp16 / bf16 storage path against its own fp32 path on random inputs (tests/runtime/layer_precision.cpp
calls the layer directly on inputs rounded to the storage type), on the host (bf16) and under
qemu-aarch64 -cpu max (ARMv8.2 fp16 arithmetic; fp16 and bf16). The support flags each layer
declares, and what storage ncnn's net actually hands it on that CPU and build.

Whole model: the fused RepNeXt-M4 export (random weights, seed 0, as tests/runtime/test_runtime_static.py)
run by pyhpe-infer in fp32, fp16 and bf16, on the host and under qemu-aarch64 -cpu max; each pose
against PyTorch fp32 as the geodesic angle between the rotation matrices, in degrees.

Skipped without the ncnn builds, the cross compiler or qemu (required in CI, as the other runtime
tests).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from support import REPO_ROOT, require, run_command
from support.native_runtime import FUZZ_SIZE, fuzz_model_modules, ncnn_installed

from pyhpe.export import export_model

DRIVER = Path(__file__).with_name("layer_precision.cpp")
QEMU_CPU = "max"  # ARMv8.2+ with fp16 arithmetic (FEAT_FP16): ncnn's arm82 paths and ours run

# Per-layer tolerances, as max |low - fp32| / max |fp32| over the output. bf16 keeps 8 significant
# bits: the input and the output are each rounded once (relative 2^-9), the arithmetic is fp32;
# measured 0.0028-0.0033 (host and qemu alike). fp16 (11 bits): the mixer widens to fp32
# (measured 0.00035), the FFN accumulates in fp16 over C and 2C terms (measured 0.0019, qemu max).
LAYER_TOL = {"bf16": 1e-2, "fp16": 4e-3}

# Whole-model tolerance in degrees of pose (geodesic angle between R from PyTorch fp32 and from the
# runtime), on the m4 fixture below (narrow M4, random weights, randomised BatchNorm, 32 px). fp32:
# measured 3e-5 (qemu) and 8e-5 deg (host). fp16 under qemu -cpu max (every layer, ncnn's and ours,
# in fp16 storage; fp16 arithmetic in ncnn's layers and our FFN): measured 0.48 deg, where the
# plain (unfused) export, ncnn's layers only, is off by ~17 deg on the same input: the fused
# layers keep less in fp16 than the ncnn subgraphs they replace (test below). fp16 on x86: ncnn
# keeps fp32 blobs but its InnerProduct stores fp16 weights (F16C): measured 0.035 deg. bf16 with
# ncnn built without NCNN_BF16 (tools/build_ncnn.sh): no casts, bit-identical to fp32.
POSE_TOL_DEG = {"fp32": 1e-2, "fp16": 1.0, "bf16": 0.5}


def _mixer_model(d: Path, name: str, c: int, downsample: bool, seed: int) -> tuple[Path, Path, int]:
    g = np.random.default_rng(seed)
    k = c if downsample else c // 4
    kernels = [(3, 3), (7, 7)] if downsample else [(3, 3), (7, 7), (1, 11), (11, 1)]
    arrays = []
    for kh, kw in kernels:
        arrays += [g.standard_normal((k, kh, kw)) * 0.3, g.standard_normal(k) * 0.1]
    cout = 2 * c if downsample else c
    arrays += [1.0 + 0.2 * g.standard_normal(cout), 0.1 * g.standard_normal(cout)]  # scale, shift
    line = f"PyhpeRepNeXtMixer mix 1 1 in0 out0 0={int(downsample)} 1={c} 10=1"
    return _write(d, name, ["Input in0 0 1 in0", line], arrays)


def _ffn_model(d: Path, name: str, c: int, hidden: int, seed: int) -> tuple[Path, Path, int]:
    g = np.random.default_rng(seed)
    arrays = [g.standard_normal(s) * 0.3 for s in ((hidden, c), (hidden,), (c, hidden), (c,))]
    lines = ["Input in0 0 1 in0", "PyhpeSplit sp 1 2 in0 a b", f"PyhpeRepNeXtFFN ffn 2 1 a b out0 0={c} 1={hidden}"]
    return _write(d, name, lines, arrays)


def _write(d: Path, name: str, lines: list[str], arrays) -> tuple[Path, Path]:
    blobs = {tok for line in lines for tok in line.split()[4:] if "=" not in tok}
    param, weights = d / f"{name}.param", d / f"{name}.bin"
    param.write_text("\n".join(["7767517", f"{len(lines)} {len(blobs)}", *lines]) + "\n")
    weights.write_bytes(b"".join(np.ascontiguousarray(a, "<f4").tobytes() for a in arrays))
    return param, weights


# (name, builder, C, H, W): odd planes (off every SIMD width), channels off the register tiles.
LAYERS = [
    ("mixer", lambda d: _mixer_model(d, "mixer", 16, False, 0), 16, 13, 11),
    ("mixer_down", lambda d: _mixer_model(d, "mixer_down", 12, True, 1), 12, 13, 11),
    ("ffn", lambda d: _ffn_model(d, "ffn", 24, 48, 2), 24, 9, 7),
]


def _build_driver(cxx: str, runtime: Path, target: str, *flags: str) -> Path:
    """tests/runtime/layer_precision.cpp linked with a runtime build and its ncnn, into that
    build's directory; rebuilt only when the source or the runtime library is newer."""
    require(shutil.which(cxx) is not None, cxx)
    install = ncnn_installed(target)
    out, lib = runtime / "layer_precision", runtime / "libpyhpe_runtime.a"
    if out.is_file() and out.stat().st_mtime > max(DRIVER.stat().st_mtime, lib.stat().st_mtime):
        return out
    p = run_command([cxx, "-O2", "-std=c++17", "-Wall", "-Wextra", "-Werror", *flags,
                     f"-I{REPO_ROOT / 'csrc' / 'runtime' / 'src'}", f"-I{install / 'include' / 'ncnn'}", DRIVER,
                     lib, install / "lib" / "libncnn.a", "-fopenmp", "-lpthread", "-o", out])
    assert p.returncode == 0, p.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def host_driver(host_tools) -> list:
    return [_build_driver("g++", host_tools, "host")]


@pytest.fixture(scope="module")
def aarch64_driver(aarch64_tools) -> list:
    return ["qemu-aarch64", "-cpu", QEMU_CPU, _build_driver("aarch64-linux-gnu-g++", aarch64_tools, "aarch64", "-static")]


def _run_layer(driver: list, d: Path, layer, precision: str) -> dict:
    _name, build, c, h, w = layer
    param, weights = build(d)
    p = run_command([*driver, param, weights, c, h, w, precision, 7])
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _ncnn_bf16(target: str) -> bool:
    """Whether build/ncnn/install-<target> was built with NCNN_BF16 (its net casts blobs to bf16)."""
    header = (ncnn_installed(target) / "include" / "ncnn" / "platform.h").read_text()
    return "#define NCNN_BF16 1" in header


@pytest.mark.parametrize("layer", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_bf16_host(host_driver, tmp_path, layer):
    r = _run_layer(host_driver, tmp_path, layer, "bf16")
    assert r["max_abs"] <= LAYER_TOL["bf16"] * r["ref_max"], r
    assert r["max_abs"] > 0, r  # the bf16 path ran (rounding shows)
    # x86: bf16 declared, fp16 not (ncnn's x86 net never casts blobs to fp16)
    assert r["support_bf16_storage"] and not r["support_fp16_storage"], r
    # what ncnn's whole net gives the layer: bf16 only with NCNN_BF16
    assert r["net_elemsize"] == (2 if _ncnn_bf16("host") else 4), r


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("layer", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_low_precision_aarch64(aarch64_driver, tmp_path, layer, precision):
    r = _run_layer(aarch64_driver, tmp_path, layer, precision)
    assert r["max_abs"] <= LAYER_TOL[precision] * r["ref_max"], r
    assert r["max_abs"] > 0, r
    assert r["support_fp16_storage"] and r["support_bf16_storage"], r  # -cpu max has ARMv8.2 fp16
    if precision == "fp16":  # ncnn casts to fp16 in front of the layer and keeps its fp16 output
        assert r["net_elemsize"] == 2, r
        assert r["net_max_abs"] <= LAYER_TOL["fp16"] * r["ref_max"], r
    else:
        assert r["net_elemsize"] == (2 if _ncnn_bf16("aarch64") else 4), r


# --- the fused RepNeXt-M4 in each precision, in degrees of pose -------------------------------------


@pytest.fixture(scope="module")
def m4(tmp_path_factory):
    """The fused RepNeXt-M4 of the fuzz tests (tests/support/native_runtime.py fuzz_model_modules:
    M4's depths, kernels and graph, widths 8-64, seeded weights, randomised BatchNorm statistics)
    exported to ncnn with its fused pair at FUZZ_SIZE px (the full-width M4's export alone takes
    about two minutes here; its errors, measured by hand, are in docs/deployment.md), and the
    PyTorch fp32 rotation of one random input."""
    pytest.importorskip("ncnn")
    d = tmp_path_factory.mktemp("prec")
    name, module = fuzz_model_modules()[0]
    assert name == "m4"
    export_model(module, d / "m4.ncnn.param", "ncnn", name="m4", input_size=FUZZ_SIZE, tolerance=1e-3)
    assert (d / "m4.fused.ncnn.param").is_file()
    x = torch.randn(1, 3, FUZZ_SIZE, FUZZ_SIZE, generator=torch.Generator().manual_seed(1))
    x.numpy().astype(np.float32).tofile(d / "x.f32")
    with torch.no_grad():
        R = module(x).R.numpy()[0]
    return {"dir": d, "R": R.astype(np.float64)}


def _geodesic_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle of a^T b in degrees, from |a - b|_F = 2 sqrt 2 sin(angle / 2) (in float64; the
    trace formula's arccos loses ~0.03 deg near zero in float32)."""
    diff = np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return float(np.degrees(2.0 * np.arcsin(min(1.0, diff / (2.0 * np.sqrt(2.0))))))


def _pose_errors(exe: list, m4, precisions=("fp32", "fp16", "bf16"), fused: bool = True,
                 sixd: dict | None = None) -> dict:
    """{precision: degrees from PyTorch fp32}; the raw 6D outputs go into ``sixd`` when given."""
    d, errs = m4["dir"], {}
    for prec in precisions:
        p = run_command([*exe, d / "m4.ncnn.param", *(["--fused"] if fused else []), "--tensor", d / "x.f32",
                         f"--{prec}"])
        assert p.returncode == 0, p.stderr[-3000:]
        out = json.loads(p.stdout.strip().splitlines()[-1])
        errs[prec] = _geodesic_deg(np.reshape(out["R"], (3, 3)), m4["R"])
        if sixd is not None:
            sixd[prec] = np.asarray(out["sixd"], np.float32)
    return errs


def _fits_16_bits(values: np.ndarray, precision: str) -> bool:
    """Whether every value is exactly an fp16 / bf16 number: a 6D output a 16-bit head wrote."""
    if precision == "fp16":
        return bool(np.all(values.astype(np.float16).astype(np.float32) == values))
    return bool(np.all(values.view(np.uint32) & 0xFFFF == 0))


def test_fused_m4_pose_per_precision_host(host_tools, m4):
    sixd: dict = {}
    errs = _pose_errors([host_tools / "pyhpe-infer"], m4, sixd=sixd)
    for prec, err in errs.items():
        assert err <= POSE_TOL_DEG[prec], errs
    if not _ncnn_bf16("host"):  # no bf16 casts in this ncnn: bf16 runs exactly as fp32
        assert errs["bf16"] == errs["fp32"], errs
    else:  # the fused pair's head runs in fp32 (PyhpeWiden + featmask): its 6D is not bf16-rounded
        assert errs["bf16"] != errs["fp32"] and not _fits_16_bits(sixd["bf16"], "bf16"), (errs, sixd)


def test_fused_m4_pose_per_precision_aarch64(aarch64_tools, m4):
    sixd: dict = {}
    errs = _pose_errors(["qemu-aarch64", "-cpu", QEMU_CPU, aarch64_tools / "pyhpe-infer"], m4, sixd=sixd)
    for prec, err in errs.items():
        assert err <= POSE_TOL_DEG[prec], errs
    assert errs["fp16"] > errs["fp32"], errs  # the fp16 paths ran
    # the fused layers add no fp16 error beyond what ncnn's own layers give the plain export
    plain_sixd: dict = {}
    plain = _pose_errors(["qemu-aarch64", "-cpu", QEMU_CPU, aarch64_tools / "pyhpe-infer"], m4, ("fp16",),
                         fused=False, sixd=plain_sixd)
    assert errs["fp16"] <= plain["fp16"], (errs, plain)
    # the plain pair's InnerProduct writes fp16; the fused pair's head runs in fp32 (PyhpeWiden + featmask)
    assert _fits_16_bits(plain_sixd["fp16"], "fp16") and not _fits_16_bits(sixd["fp16"], "fp16"), (sixd, plain_sixd)


# --- the precision an export records (pyhpe export --precision) -----------------------------------


def _with_precision(m4, tmp_path: Path, precision: str) -> Path:
    data = json.loads((m4["dir"] / "m4.fused.ncnn.json").read_text())
    assert data["precision"] == "fp32"  # export_model's default
    data["precision"] = precision
    out = tmp_path / f"{precision}.json"
    out.write_text(json.dumps(data))
    return out


def test_sidecar_precision_is_the_default_aarch64(aarch64_tools, m4, tmp_path):
    """A sidecar's "precision" is the runtime's default (fp16 under qemu -cpu max: the same pose as
    --fp16, not as fp32); a flag overrides it."""
    d, exe = m4["dir"], ["qemu-aarch64", "-cpu", QEMU_CPU, aarch64_tools / "pyhpe-infer"]
    side = _with_precision(m4, tmp_path, "fp16")

    def pose(*args):
        p = run_command([*exe, d / "m4.ncnn.param", "--fused", "--tensor", d / "x.f32", *args])
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(p.stdout.strip().splitlines()[-1])["R"]

    fp16, fp32 = pose("--fp16"), pose("--fp32")
    assert fp16 != fp32
    assert pose("--sidecar", side) == fp16
    assert pose("--sidecar", side, "--fp32") == fp32


def test_sidecar_precision_malformed(host_tools, m4, tmp_path):
    d = m4["dir"]
    p = run_command([host_tools / "pyhpe-infer", d / "m4.ncnn.param", "--fused", "--tensor", d / "x.f32",
                     "--sidecar", _with_precision(m4, tmp_path, "half")])
    assert p.returncode != 0 and 'precision' in p.stderr and '"half"' in p.stderr, p.stderr


def test_export_precision_arguments():
    """--precision is ncnn's, and --fp16 is --precision fp16 (checked before any export work)."""
    from pyhpe.models import create_model

    m = create_model("sixdrepnet_repnext_m0")
    with pytest.raises(ValueError, match="ncnn only"):
        export_model(m, "x.onnx", "onnx", precision="bf16")
    with pytest.raises(ValueError, match="--fp16"):
        export_model(m, "x.ncnn.param", "ncnn", fp16=True, precision="bf16")
    with pytest.raises(ValueError, match="precision must be"):
        export_model(m, "x.ncnn.param", "ncnn", precision="int8")
