"""The static aarch64 pyhpe-bench and pyhpe-infer (tools/build_runtime_aarch64.sh): the binaries
one pushes to a phone's /data/local/tmp (docs/android.md, "Timing models on a phone"). They must
need nothing from the machine they run on, so here they run under qemu-aarch64 without a sysroot
(no -L, no QEMU_LD_PREFIX) on a RepNeXt-M4 export (random weights, seed 0; plain and fused pair):
the timing output reads back through pyhpe.bench.phone, the pose equals the host runtime's and
PyTorch's. Skipped without the aarch64 ncnn build, cross compiler or qemu; required in CI.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
import torch
from support import run_command
from support.native_runtime import SIZE

from pyhpe.bench.phone import read_phone_results
from pyhpe.export import export_model

QEMU_CPU = "cortex-a76"
PT_INTERP = 3


@pytest.fixture(scope="module")
def m4(tmp_path_factory):
    """sixdrepnet_repnext_m4 (random weights, seed 0) exported to ncnn, with its fused pair."""
    pytest.importorskip("ncnn")
    from pyhpe.models import create_model

    d = tmp_path_factory.mktemp("static")
    torch.manual_seed(0)
    m = create_model("sixdrepnet_repnext_m4").eval()
    export_model(m, d / "m4.ncnn.param", "ncnn", name="m4", input_size=SIZE)
    assert (d / "m4.fused.ncnn.param").is_file()
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    x.numpy().astype(np.float32).tofile(d / "x.f32")
    with torch.no_grad():
        sixd = m(x).sixd.numpy()[0]
    return {"dir": d, "sixd": sixd}


def _qemu(exe, *args):
    """``exe`` under qemu-aarch64 with no sysroot: a dynamically linked binary would not start."""
    env = {k: v for k, v in os.environ.items() if k != "QEMU_LD_PREFIX"}
    return run_command(["qemu-aarch64", "-cpu", QEMU_CPU, exe, *args], env=env)


def _elf_is_static_aarch64(path) -> bool:
    """An AArch64 ELF executable without a program interpreter (PT_INTERP): what `file` calls
    statically linked."""
    data = path.read_bytes()
    assert data[:5] == b"\x7fELF\x02", "not a 64-bit ELF file"
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return e_type == 2 and e_machine == 183 and PT_INTERP not in types


def test_static_tools_are_static(aarch64_tools):
    for tool in ("pyhpe-bench", "pyhpe-infer"):
        assert _elf_is_static_aarch64(aarch64_tools / tool), f"{tool} is not a static aarch64 executable"


def test_static_bench_times_m4_and_reads_back(aarch64_tools, m4, tmp_path):
    """pyhpe-bench on the plain and the fused M4 with 1 and 2 threads (OpenMP, linked statically):
    a human line and a RESULT line per configuration; saved as a phone's results file, they
    read back through pyhpe.bench.phone."""
    d = m4["dir"]
    p = _qemu(aarch64_tools / "pyhpe-bench", d / "m4.ncnn.param", d / "m4.fused.ncnn.param",
              "--threads", "1,2", "--warmup", "0", "--runs", "1")
    assert p.returncode == 0, p.stderr
    assert "aarch64 NEON" in p.stdout.splitlines()[0] and "fused mixer neon" in p.stdout, p.stdout
    human = [ln for ln in p.stdout.splitlines() if " threads=" in ln and " median=" in ln]
    assert len(human) == 4, p.stdout
    saved = tmp_path / "phone.txt"
    saved.write_text(f"# device: qemu-aarch64 {QEMU_CPU}\n{p.stdout}")
    rows = read_phone_results(saved)
    assert [(r["model"], r["threads"]) for r in rows] == [("m4", 1), ("m4.fused", 1), ("m4", 2), ("m4.fused", 2)]
    for r in rows:
        assert r["device"] == f"qemu-aarch64 {QEMU_CPU}" and r["input"] == SIZE and r["runs"] == 1
        assert 0 < r["min_ms"] == r["median_ms"]


def test_static_infer_matches_host_and_pytorch(aarch64_tools, host_tools, m4):
    """The fused M4 (the runtime's custom layers, registered in the static binary) gives the host
    runtime's pose and PyTorch's."""
    d = m4["dir"]
    args = [d / "m4.ncnn.param", "--fused", "--tensor", d / "x.f32"]
    p = _qemu(aarch64_tools / "pyhpe-infer", *args)
    assert p.returncode == 0, p.stderr
    arm = json.loads(p.stdout.strip().splitlines()[-1])
    h = run_command([host_tools / "pyhpe-infer", *args])
    assert h.returncode == 0, h.stderr
    host = json.loads(h.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(arm["sixd"], host["sixd"], atol=1e-4)
    np.testing.assert_allclose(arm["R"], host["R"], atol=1e-4)
    np.testing.assert_allclose(arm["sixd"], m4["sixd"], atol=1e-4)
