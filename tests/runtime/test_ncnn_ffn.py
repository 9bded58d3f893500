"""The fused channel MLP as an ncnn custom layer (``PyhpeRepNeXtFFN``, csrc/runtime/src/ffn_layer.h)
against PyTorch: hand-written one-layer models run by the C++ runtime's ``pyhpe-run`` on odd shapes
(pixel counts off the SIMD width, channel counts off the register tile, ncnn's padded channel
stride, packed neighbours that ncnn unpacks for the layer), 1 and 2 threads, host and aarch64
(NEON, under qemu); malformed parameters, weights and blobs give the layer's error, not a crash;
PyhpeSplit (csrc/runtime/src/split_layer.h) passes blobs on unchanged.
The graph rewrite into this layer is covered by tests/runtime/test_ncnn_fused.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support import run_command
from support.native_runtime import build_host_runtime

from pyhpe.export.ncnn_ffn import LAYER_TYPE


_run = run_command


@pytest.fixture(scope="module")
def run_exe() -> Path:
    return build_host_runtime() / "pyhpe-run"


def _weights(c: int, hidden: int, seed: int) -> list[np.ndarray]:
    g = np.random.default_rng(seed)
    return [g.standard_normal(s).astype(np.float32) * 0.3 for s in ((hidden, c), (hidden,), (c, hidden), (c,))]


def _write(d: Path, name: str, lines: list[str], arrays: list[np.ndarray]) -> Path:
    blobs = {tok for line in lines[1:] for tok in line.split()[4:] if "=" not in tok}
    param = d / f"{name}.param"
    param.write_text("\n".join(["7767517", f"{len(lines)} {len(blobs)}", *lines]) + "\n")
    (d / f"{name}.bin").write_bytes(b"".join(np.ascontiguousarray(a, "<f4").tobytes() for a in arrays))
    return param


def _model(d: Path, name: str, c: int, hidden: int, h: int, w: int, residual: str, seed: int = 0,
           ffn_params: str | None = None):
    """Input -> [stuff] -> PyhpeRepNeXtFFN. residual: 'same' (one input), 'scaled' (r = -1.5 x, a
    separate blob), 'packed' (h = a 1x1 convolution of x, which ncnn runs packed)."""
    ws = _weights(c, hidden, seed)
    params = ffn_params or f"0={c} 1={hidden}"
    lines = [f"Input in0 0 1 in0 0={w} 1={h} 2={c}"]
    arrays: list[np.ndarray] = []
    if residual == "same":
        lines.append(f"{LAYER_TYPE} ffn 1 1 in0 out0 {params}")
    elif residual == "scaled":
        lines += ["Split sp 1 2 in0 a b", "BinaryOp scale 1 1 b r 0=2 1=1 2=-1.5",
                  f"{LAYER_TYPE} ffn 2 1 a r out0 {params}"]
    elif residual == "packed":
        wc = np.random.default_rng(seed + 1).standard_normal((c, c)).astype(np.float32) * 0.3
        lines += ["Split sp 1 2 in0 a r", f"Convolution conv 1 1 a hh 0={c} 1=1 5=1 6={c * c}",
                  f"{LAYER_TYPE} ffn 2 1 hh r out0 {params}"]
        arrays += [np.zeros(1, np.uint32).view(np.float32), wc, np.zeros(c, np.float32)]  # fp32 tag, W, bias
        ws = [*ws, wc]
    return _write(d, name, lines, arrays + ws[:4]), ws


def _reference(x: np.ndarray, ws: list[np.ndarray], residual: str) -> np.ndarray:
    w1, b1, w2, b2 = (torch.from_numpy(a).double() for a in ws[:4])
    t = torch.from_numpy(x).double()[None]
    h, r = t, t
    if residual == "scaled":
        r = -1.5 * t
    elif residual == "packed":
        h = F.conv2d(t, torch.from_numpy(ws[4]).double()[:, :, None, None])
    hid = F.gelu(F.conv2d(h, w1[:, :, None, None], b1))
    return (r + F.conv2d(hid, w2[:, :, None, None], b2))[0].numpy()


def _forward(exe_prefix: list, param: Path, x: np.ndarray, threads: int = 1) -> subprocess.CompletedProcess:
    d = param.parent
    x.astype(np.float32).tofile(d / "x.f32")
    c, h, w = x.shape
    return _run([*exe_prefix, param, "--shape", f"{c},{h},{w}", "--in", d / "x.f32", "--out", d / "y.f32",
                 "--threads", threads])


# (C, hidden, H, W, residual): 49 and 1 pixels (tails), 7x11, channels and hidden widths that are
# no multiple of 4, 8 or 16, RepNeXt's own 2C shapes with ncnn's padded channel stride (7x7).
SHAPES = [
    (5, 10, 7, 7, "scaled"), (17, 34, 3, 11, "same"), (8, 13, 1, 1, "scaled"), (32, 64, 9, 9, "packed"),
    (64, 128, 14, 14, "scaled"), (48, 96, 7, 7, "same"), (16, 32, 23, 5, "packed"),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:4])) + "-" + s[4])
@pytest.mark.parametrize("threads", (1, 2))
def test_layer_matches_pytorch(run_exe, tmp_path, shape, threads):
    c, hidden, h, w, residual = shape
    param, ws = _model(tmp_path, "m", c, hidden, h, w, residual)
    x = np.random.default_rng(3).standard_normal((c, h, w)).astype(np.float32)
    p = _forward([run_exe], param, x, threads)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"c": c, "h": h, "w": w}
    y = np.fromfile(tmp_path / "y.f32", np.float32).reshape(c, h, w)
    np.testing.assert_allclose(y, _reference(x, ws, residual), atol=2e-5, rtol=2e-5)


def test_layer_errors(run_exe, tmp_path):
    x = np.zeros((8, 5, 5), np.float32)
    param, _ = _model(tmp_path, "zero", 8, 16, 5, 5, "same", ffn_params="0=0 1=16")
    p = _forward([run_exe], param, x)
    assert p.returncode == 13 and "0=channels and 1=hidden must be positive" in p.stderr, p.stderr
    param, _ = _model(tmp_path, "chan", 8, 16, 5, 5, "same")
    p = _forward([run_exe], param, np.zeros((6, 5, 5), np.float32))  # the model says 8 channels
    assert p.returncode == 15 and "expects 8 channels" in p.stderr, p.stderr
    b = tmp_path / "chan.bin"
    b.write_bytes(b.read_bytes()[:-8])
    p = _forward([run_exe], param, x)
    assert p.returncode == 13 and "cannot read b2" in p.stderr, p.stderr
    ws = _weights(8, 16, 0)
    three = _write(tmp_path, "three", ["Input in0 0 1 in0 0=5 1=5 2=8", "Split sp 1 3 in0 a b c",
                                       f"{LAYER_TYPE} ffn 3 1 a b c out0 0=8 1=16"], ws)
    p = _forward([run_exe], three, x)
    assert p.returncode == 13 and "takes 1 or 2 inputs" in p.stderr, p.stderr
    pooled = _write(tmp_path, "pooled", ["Input in0 0 1 in0 0=5 1=5 2=8", "Split sp 1 2 in0 a b",
                                         "Pooling pool 1 1 b r 0=1 1=2 2=2",
                                         f"{LAYER_TYPE} ffn 2 1 a r out0 0=8 1=16"], ws)
    p = _forward([run_exe], pooled, x)
    assert p.returncode == 15 and "residual's shape differs" in p.stderr, p.stderr
    bad_split = _write(tmp_path, "split", ["Input in0 0 1 in0 0=5 1=5 2=8", "PyhpeSplit sp 1 0 in0"], [])
    p = _forward([run_exe], bad_split, x)
    assert p.returncode == 13 and "PyhpeSplit sp: takes one input and at least one output" in p.stderr, p.stderr


def test_plain_split_keeps_layout(run_exe, tmp_path):
    """PyhpeSplit between a packed producer and two FFNs: the same result as the FFN chain alone."""
    c, hidden = 32, 64
    ws, ws2 = _weights(c, hidden, 5), _weights(c, hidden, 6)
    lines = [f"Input in0 0 1 in0 0=6 1=5 2={c}", "PyhpeSplit sp 1 2 in0 a b",
             f"{LAYER_TYPE} f1 2 1 a b h1 0={c} 1={hidden}", f"{LAYER_TYPE} f2 1 1 h1 out0 0={c} 1={hidden}"]
    param = _write(tmp_path, "chain", lines, ws + ws2)
    x = np.random.default_rng(8).standard_normal((c, 5, 6)).astype(np.float32)
    p = _forward([run_exe], param, x, 2)
    assert p.returncode == 0, p.stderr
    want = _reference(_reference(x, ws, "same").astype(np.float32), ws2, "same")
    np.testing.assert_allclose(np.fromfile(tmp_path / "y.f32", np.float32).reshape(c, 5, 6), want, atol=5e-5, rtol=5e-5)


@pytest.mark.parametrize("cpu", ("cortex-a53", "cortex-a76"))
def test_layer_aarch64_under_qemu(aarch64_tools, tmp_path, cpu):
    for c, hidden, h, w, residual in (SHAPES[0], SHAPES[3], SHAPES[5]):
        param, ws = _model(tmp_path, f"m{c}", c, hidden, h, w, residual)
        x = np.random.default_rng(4).standard_normal((c, h, w)).astype(np.float32)
        p = _forward(["qemu-aarch64", "-cpu", cpu, aarch64_tools / "pyhpe-run"], param, x, 2)
        assert p.returncode == 0, p.stderr
        y = np.fromfile(tmp_path / "y.f32", np.float32).reshape(c, h, w)
        np.testing.assert_allclose(y, _reference(x, ws, residual), atol=2e-5, rtol=2e-5)
