"""The fused RepNeXt mixer, channel MLP and stem as ncnn custom layers (csrc/runtime/src/mixer_layer.h,
ffn_layer.h, stem_layer.h) and the graph rewrite that uses them (pyhpe/export/ncnn_fuse.py,
ncnn_ffn.py, ncnn_stem.py):
structure of the rewritten model, the C++ runtime's output on the fused pair against PyTorch
(host, and aarch64 NEON under qemu), error codes for broken fused models, and the interleaved
pyhpe-bench --fused.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from support import repnext_m0_eval, run_command
from support.native_runtime import SIZE, build_host_runtime

from pyhpe.export.ncnn_ffn import LAYER_TYPE as FFN_TYPE
from pyhpe.export.ncnn_fuse import LAYER_TYPE, fuse_mixers, fused_paths
from pyhpe.export.ncnn_graph import NcnnFormatError, parse_param, read_model
from pyhpe.export.ncnn_precision import WIDEN_TYPE, keep_fp32_ends
from pyhpe.export.ncnn_stem import LAYER_TYPE as STEM_TYPE

_run = run_command


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """repnext_m0 (random weights, BN statistics randomised) as plain and fused ncnn pairs."""
    pytest.importorskip("ncnn")
    from pyhpe.export import export_model

    d = tmp_path_factory.mktemp("fused")
    m = repnext_m0_eval()
    result = export_model(m, d / "m0.ncnn.param", "ncnn", name="m0", input_size=SIZE, fused=False)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    x.numpy().astype(np.float32).tofile(d / "x.f32")
    with torch.no_grad():
        sixd = m(x).sixd.numpy()[0]
    return {"dir": d, "module": m, "sixd": sixd, "param": result.files[0], "bin": result.files[1]}


@pytest.fixture(scope="module")
def fused(exported):
    out = fuse_mixers(exported["param"], exported["bin"])
    assert out is not None
    return out


def test_rewrite_replaces_every_mixer(exported, fused):
    param, weights, count = fused
    assert (param, weights) == fused_paths(exported["param"])
    plain, new = read_model(exported["param"], exported["bin"]), read_model(param, weights)
    kinds, plain_kinds = Counter(layer.type for layer in new), Counter(layer.type for layer in plain)
    n_block, n_down = plain_kinds["Slice"], plain_kinds["Concat"] - plain_kinds["Slice"]
    assert count == n_block + n_down == kinds[LAYER_TYPE] and n_down == 3
    for gone in ("Slice", "Concat", "BatchNorm", "ConvolutionDepthWise", "BinaryOp"):
        assert kinds[gone] == 0, gone  # RepNeXt's only depthwise convs and BNs are its mixers'
    # every mixer's MLP + residual add is one PyhpeRepNeXtFFN: two 1x1 convolutions and a GELU
    # each; after a downsample mixer it takes one input (its Split is gone)
    assert kinds[FFN_TYPE] == count
    # the stem's two convolutions and GELU are one PyhpeRepNeXtStem: no Convolution or GELU is left
    assert kinds[STEM_TYPE] == 1 and kinds["Convolution"] == kinds["GELU"] == 0
    assert plain_kinds["Convolution"] == 2 * count + 2 and plain_kinds["GELU"] == count + 1
    # Splits gone: a downsample mixer's own, and the one feeding its FFN and residual; the others
    # feed only fused layers and become PyhpeSplit (no repacking between them)
    assert kinds["Split"] == 0 and plain_kinds["Split"] - kinds["PyhpeSplit"] == 2 * n_down
    ffns = [layer for layer in new if layer.type == FFN_TYPE]
    assert sum(len(layer.bottoms) == 1 for layer in ffns) == n_down
    assert all(int(layer.params["1"]) == 2 * int(layer.params["0"]) for layer in ffns)
    # every other layer, weights included, is unchanged and in the same order, but for the
    # featmask (31=) that keeps the stem and the head in fp32 (test_rewrite_keeps_fp32_ends)
    by_name = {layer.name: layer for layer in plain}
    kept = [layer for layer in new if not layer.type.startswith("Pyhpe") and layer.type != "Split"]
    unmasked = [{k: v for k, v in layer.params.items() if k != "31"} for layer in kept]
    assert all(by_name[k.name].weights == k.weights and by_name[k.name].params == p for k, p in zip(kept, unmasked))
    order = [layer.name for layer in plain]
    assert [order.index(k.name) for k in kept] == sorted(order.index(k.name) for k in kept)
    mixers = [layer for layer in new if layer.type == LAYER_TYPE]
    assert sum(layer.params["0"] == "1" for layer in mixers) == n_down
    assert all(layer.params["10"] == "1" for layer in mixers)


def test_rewrite_keeps_fp32_ends(exported, fused):
    """The fused stem is masked for fp16 and bf16 storage (31=6: it reads the image in fp32); the
    head's global Pooling and InnerProduct too, behind a PyhpeWiden that hands them fp32
    (pyhpe/export/ncnn_precision.py). Nothing else is masked."""
    new = read_model(*fused[:2])
    masks = {layer.name: layer.params.get("31") for layer in new}
    assert [layer.type for layer in new[:3]] == ["Input", STEM_TYPE, "PyhpeSplit"]
    assert [masks[layer.name] for layer in new[1:3]] == ["6", None]
    widen, pool, fc = new[-3:]
    assert (widen.type, pool.type, fc.type) == (WIDEN_TYPE, "Pooling", "InnerProduct")
    assert widen.tops == pool.bottoms and pool.tops == fc.bottoms and not widen.params and not widen.weights
    assert masks[pool.name] == masks[fc.name] == "6"
    assert sum(m is not None for m in masks.values()) == 3


def test_rewrite_without_stem(exported, tmp_path):
    """fuse_mixers(stem=False) keeps ncnn's stem layers, masked for bf16 storage only (31=4: a
    phone runs ncnn's convolutions faster in fp16)."""
    param, weights, _ = fuse_mixers(exported["param"], exported["bin"], tmp_path / "s.fused.ncnn.param", stem=False)
    new = read_model(param, weights)
    assert [layer.type for layer in new[1:4]] == ["Convolution", "GELU", "Convolution"]
    assert [layer.params.get("31") for layer in new[1:5]] == ["4", "4", "4", None]
    assert not any(layer.type == STEM_TYPE for layer in new)


def test_rewrite_stem_weights(exported, fused):
    """The stem layer's weights are the two convolutions' (W1, b1, W2, b2), its parameters their
    channel counts."""
    from pyhpe.export.ncnn_graph import decode_array

    plain = read_model(exported["param"], exported["bin"])
    stem = read_model(fused[0], fused[1])[1]
    conv1, conv2 = plain[1], plain[3]
    cin, c1, c2 = (int(stem.params[k]) for k in "012")
    assert (cin, c1, c2) == (3, int(conv1.params["0"]), int(conv2.params["0"]))
    want = [decode_array(conv1.weights[0], c1 * cin * 9, tagged=True), decode_array(conv1.weights[1], c1, tagged=False),
            decode_array(conv2.weights[0], c2 * c1 * 9, tagged=True), decode_array(conv2.weights[1], c2, tagged=False)]
    for w, a in zip(stem.weights, want):
        np.testing.assert_array_equal(decode_array(w, a.size, tagged=False), a)


def test_rewrite_without_fp32_ends(exported, tmp_path):
    """fuse_mixers(fp32_ends=False) (pyhpe bench precision --all-16bit): no featmask, no PyhpeWiden."""
    param, weights, _ = fuse_mixers(exported["param"], exported["bin"], tmp_path / "a.fused.ncnn.param",
                                    fp32_ends=False)
    layers = read_model(param, weights)
    assert not any("31" in layer.params or layer.type == WIDEN_TYPE for layer in layers)


def test_keep_fp32_ends_leaves_other_graphs():
    """No global Pooling -> InnerProduct output: no head change; a stem stops at a branch; an
    existing featmask is kept (or-ed)."""
    from pyhpe.export.ncnn_graph import Layer

    layers = [Layer("Input", "in", [], ["x"]), Layer("Convolution", "c1", ["x"], ["a"], {"0": "4", "31": "1"}),
              Layer("Split", "sp", ["a"], ["b", "c"]), Layer("ReLU", "r", ["b"], ["d"]),
              Layer("Pooling", "p", ["d"], ["e"], {"0": "1"}), Layer("InnerProduct", "fc", ["e"], ["out"])]
    out, counts = keep_fp32_ends(layers)
    assert counts == {"stem": 1, "head": 0}
    assert out[1].params == {"0": "4", "31": "5"} and layers[1].params["31"] == "1"  # input untouched
    assert [layer.params for layer in out[2:]] == [layer.params for layer in layers[2:]]


def test_rewrite_ffn_weights(exported, fused):
    """The FFN layer's weights are the two convolutions' (W1 and b1, W2 and b2), in that order."""
    from pyhpe.export.ncnn_graph import decode_array

    plain = read_model(exported["param"], exported["bin"])
    new = read_model(fused[0], fused[1])
    ffn = next(layer for layer in new if layer.type == FFN_TYPE)
    c, hidden = int(ffn.params["0"]), int(ffn.params["1"])
    convs = [layer for layer in plain if layer.type == "Convolution" and layer.params.get("1") == "1"][:2]
    want = [decode_array(convs[0].weights[0], hidden * c, tagged=True), decode_array(convs[0].weights[1], hidden, tagged=False),
            decode_array(convs[1].weights[0], c * hidden, tagged=True), decode_array(convs[1].weights[1], c, tagged=False)]
    got = [decode_array(w, a.size, tagged=False) for w, a in zip(ffn.weights, want)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_rewrite_leaves_models_without_mixers(tmp_path):
    (tmp_path / "c.ncnn.param").write_text(
        "7767517\n2 2\nInput in0 0 1 in0 0=8 1=8 2=3\n"
        "Convolution conv 1 1 in0 out0 0=4 1=3 11=3 5=1 6=108\n")
    (tmp_path / "c.ncnn.bin").write_bytes(b"\0" * 4 + np.zeros(108 + 4, np.float32).tobytes())
    assert fuse_mixers(tmp_path / "c.ncnn.param") is None
    assert not fused_paths(tmp_path / "c.ncnn.param")[0].exists()


def test_rewrite_errors(exported, tmp_path):
    with pytest.raises(NcnnFormatError, match="magic"):
        parse_param("garbage\n")
    short = tmp_path / "short.ncnn.bin"
    short.write_bytes(Path(exported["bin"]).read_bytes()[:-100])
    with pytest.raises(NcnnFormatError, match="truncated"):
        fuse_mixers(exported["param"], short)
    (tmp_path / "u.ncnn.param").write_text("7767517\n2 2\nInput in0 0 1 in0\nLSTM l 1 1 in0 out0 0=4\n")
    (tmp_path / "u.ncnn.bin").write_bytes(b"")
    with pytest.raises(NcnnFormatError, match="unknown layer type"):
        fuse_mixers(tmp_path / "u.ncnn.param")


@pytest.fixture(scope="module")
def host_tools():
    return build_host_runtime()


def _pose(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_host_fused_matches_pytorch(host_tools, exported, fused):
    exe = host_tools / "pyhpe-infer"
    args = ["--tensor", exported["dir"] / "x.f32", "--input-size", SIZE]
    out = _pose(_run([exe, exported["param"], "--fused", *args]))
    np.testing.assert_allclose(out["sixd"], exported["sixd"], atol=1e-4)
    plain = _pose(_run([exe, exported["param"], *args]))
    np.testing.assert_allclose(out["sixd"], plain["sixd"], atol=1e-5)
    out2 = _pose(_run([exe, exported["param"], "--fused", "--threads", "2", *args]))
    np.testing.assert_allclose(out2["sixd"], exported["sixd"], atol=1e-4)


def test_host_infer_several_tensors(host_tools, exported, tmp_path):
    """--tensors with N inputs back to back prints N poses, each the one a single --tensor call
    gives; a file that is no whole number of inputs is refused (exit 2), and --tensor takes one."""
    exe, d = host_tools / "pyhpe-infer", exported["dir"]
    x = np.fromfile(d / "x.f32", np.float32)
    np.concatenate([x, -0.5 * x]).tofile(tmp_path / "two.f32")
    (-0.5 * x).tofile(tmp_path / "second.f32")
    p = _run([exe, exported["param"], "--fused", "--tensor", tmp_path / "two.f32", "--input-size", SIZE])
    assert p.returncode == 2 and "exactly" in p.stderr, p.stderr
    p = _run([exe, exported["param"], "--fused", "--tensors", tmp_path / "two.f32", "--input-size", SIZE])
    assert p.returncode == 0, p.stderr
    both = [json.loads(line) for line in p.stdout.strip().splitlines()]
    singles = [_pose(_run([exe, exported["param"], "--fused", "--tensor", f, "--input-size", SIZE]))
               for f in (d / "x.f32", tmp_path / "second.f32")]
    assert both == singles and both[0] != both[1]
    x[: x.size // 2].tofile(tmp_path / "half.f32")
    p = _run([exe, exported["param"], "--tensors", tmp_path / "half.f32", "--input-size", SIZE])
    assert p.returncode == 2 and "whole number of inputs" in p.stderr, p.stderr


def test_export_verifies_fused_pair_with_cpp_runtime(host_tools, exported, tmp_path, monkeypatch):
    from pyhpe.export import export_model

    monkeypatch.setenv("PYHPE_INFER", str(host_tools / "pyhpe-infer"))
    result = export_model(exported["module"], tmp_path / "m0.ncnn.param", "ncnn", name="m0", input_size=SIZE)
    v = result.verification["fused"]
    assert v["mixers"] > 0 and v["max_abs_err_random"] <= 1e-4 and v["max_abs_err_samples"] <= 1e-4
    assert (tmp_path / "m0.fused.ncnn.param").is_file() and (tmp_path / "m0.fused.ncnn.json").is_file()


def test_host_fused_errors(host_tools, exported, fused, tmp_path):
    exe = host_tools / "pyhpe-infer"
    param, weights, _ = fused
    text = Path(param).read_text()
    bad = text.replace(f"{LAYER_TYPE} ", f"{LAYER_TYPE}_x ", 1)  # a layer type nobody registered
    (tmp_path / "a.fused.ncnn.param").write_text(bad)
    shutil.copy(weights, tmp_path / "a.fused.ncnn.bin")
    args = ["--tensor", exported["dir"] / "x.f32", "--input-size", SIZE]
    p = _run([exe, tmp_path / "a.fused.ncnn.param", *args])
    assert p.returncode == 13 and "model error" in p.stderr
    line = next(ln for ln in text.splitlines() if ln.startswith(LAYER_TYPE) and " 0=0 " in ln)
    (tmp_path / "b.fused.ncnn.param").write_text(text.replace(line, re.sub(r" 1=\d+", " 1=6", line)))
    shutil.copy(weights, tmp_path / "b.fused.ncnn.bin")
    p = _run([exe, tmp_path / "b.fused.ncnn.param", *args])
    assert p.returncode == 13 and "multiple of 4" in p.stderr, p.stderr
    shutil.copy(param, tmp_path / "c.fused.ncnn.param")
    (tmp_path / "c.fused.ncnn.bin").write_bytes(Path(weights).read_bytes()[:-64])
    p = _run([exe, tmp_path / "c.fused.ncnn.param", *args])
    assert p.returncode == 13 and "cannot read" in p.stderr, p.stderr
    p = _run([exe, tmp_path / "none.param", "--fused", *args])
    assert p.returncode == 2 and "--fused" in p.stderr
    # the stem layer: a channel count of 0, and an input channel count the image does not have
    stem = next(ln for ln in text.splitlines() if ln.startswith(STEM_TYPE))
    for name, edit in (("d", re.sub(r" 1=\d+", " 1=0", stem)), ("e", stem.replace(" 0=3 ", " 0=4 ", 1))):
        (tmp_path / f"{name}.fused.ncnn.param").write_text(text.replace(stem, edit))
        shutil.copy(weights, tmp_path / f"{name}.fused.ncnn.bin")
        p = _run([exe, tmp_path / f"{name}.fused.ncnn.param", *args])
        assert p.returncode == 13 and STEM_TYPE in p.stderr, p.stderr


def test_host_bench_interleaved_fused(host_tools, exported, fused):
    p = _run([host_tools / "pyhpe-bench", exported["param"], fused[0], "--input-size", SIZE, "--threads", "1",
              "--warmup", "1", "--runs", "3", "--json"])
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["model"] for r in rows] == [str(exported["param"]), str(fused[0])]
    assert all(0 < r["min_ms"] <= r["median_ms"] for r in rows)
    p = _run([host_tools / "pyhpe-bench", exported["param"], "--fused", "--input-size", SIZE, "--runs", "1",
              "--warmup", "0", "--json"])
    assert p.returncode == 0 and json.loads(p.stdout)[0]["model"] == str(fused[0]), p.stderr


@pytest.mark.parametrize("cpu", ("cortex-a53", "cortex-a76"))
def test_aarch64_fused_under_qemu(aarch64_tools, exported, fused, cpu):
    exe = ["qemu-aarch64", "-cpu", cpu, aarch64_tools / "pyhpe-infer"]
    p = _run([*exe, exported["param"], "--fused", "--tensor", exported["dir"] / "x.f32", "--input-size", SIZE,
              "--info"])
    assert "fused mixer neon; fused ffn neon" in p.stdout.splitlines()[0], p.stdout
    out = _pose(p)
    np.testing.assert_allclose(out["sixd"], exported["sixd"], atol=1e-4)


def test_host_mixer_bench_agrees_with_ncnn_layers(host_tools):
    """Every RepNeXt-M4 mixer shape (incl. 7x7 planes, whose ncnn channel stride is padded): the
    fused layer's output equals ncnn's own Slice/ConvolutionDepthWise/Concat/BatchNorm layers."""
    p = _run([host_tools / "pyhpe-mixer-bench", "--threads", "1", "--rounds", "3", "--sample-ms", "0.2", "--json"])
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert len(rows) == 7 and {r["size"] for r in rows} == {56, 28, 14, 7}
    assert all(r["max_abs_diff"] < 1e-5 and r["fused_min_ms"] > 0 for r in rows), rows


def test_host_profile(host_tools, exported, fused):
    p = _run([host_tools / "pyhpe-profile", fused[0], "--input-size", SIZE, "--rounds", "2", "--json"])
    assert p.returncode == 0, p.stderr
    prof = json.loads(p.stdout)
    types = {t["type"]: t["count"] for t in prof["types"]}
    assert types[LAYER_TYPE] == fused[2] and prof["whole_min_ms"] > 0
