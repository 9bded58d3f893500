"""The AVX-512 kernel tables of pyhpe._C (rotation ops and the fused RepNeXt mixer).

On x86-64 the extension is built with a baseline, an AVX2 and an AVX-512 table (pyhpe/isa.h
picks the highest one the CPU runs at import). Everywhere on x86-64: the AVX-512 table is
compiled in. On a CPU with AVX-512F: it is the running table, and the ops match the float64
references (tests/ops/test_ops_reference.py and test_ops_repnext_mixer.py check the same at
every width), with batch sizes around its 16 float / 8 double lanes and image widths around 16.
Elsewhere those tests skip with the reason; in CI (CI=true) a CPU with AVX-512F must run them.
The 16-lane logic itself also runs on AVX2-only CPUs in the native tests' host-wide16 variant
(tests/ops/test_native_cpp.py).

The rotation and mixer tables are chosen with the same mask (PYHPE_ISAS_CPU) by the same rule,
so build_info()'s cpu_isa, the rotation table's level, is the mixer table's level too.
"""

from __future__ import annotations

import os
import platform

import pytest
import torch
from support import cpu_has
from support.ops_cases import (
    mixer_against_reference,
    mixer_params,
    random_rotations,
    sixd_condition,
)

from pyhpe import _C, ops
from pyhpe.ops import reference as ref

IS_X86_64 = platform.machine().lower() in ("x86_64", "amd64")
IN_CI = os.environ.get("CI", "").lower() == "true"


HAS_AVX512F = cpu_has("avx512f")
needs_avx512 = pytest.mark.skipif(
    not HAS_AVX512F,
    reason="this CPU has no AVX-512F (or is not x86-64): the AVX-512 table is compiled but cannot "
           "run here; its 16-lane logic is tested by the host-wide16 native variant")

# around the 16 float lanes (and 8 double lanes), and above the threading threshold
SIZES = [1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 20000]


@pytest.mark.skipif(not IS_X86_64, reason="per-ISA tables are x86-64 only")
def test_avx512_table_is_compiled():
    info = _C.build_info()
    assert info["cpu_isa_compiled"] == ["sse2", "avx2", "avx512"], info["cpu_isa_compiled"]


@needs_avx512
def test_avx512_table_runs():
    info = _C.build_info()
    # rotation table; the mixer's is chosen with the same mask by the same rule (module docstring)
    assert info["cpu_isa"] == "avx512", f"CPU has avx512f but the running table is {info['cpu_isa']}"


@needs_avx512
@pytest.mark.parametrize("n", SIZES)
def test_avx512_rotation_ops_match_float64_reference(n, threads):
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(n, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    R_gt = random_rotations(n, n + 1)
    cond = sixd_condition(x.detach()).clamp_min(1.0)
    # float64 (8 lanes)
    assert ((ops.gram_schmidt(x) - ref.gram_schmidt_ref(x)).abs() <= 1e-14 * cond.view(-1, 1, 1)).all()
    ours = ops.sixd_geodesic_loss(x, R_gt, reduction="none")
    want = ref.sixd_geodesic_loss_ref(x, R_gt, reduction="none")
    assert torch.allclose(ours, want, rtol=1e-12, atol=1e-12)
    g = torch.rand_like(want)
    assert torch.allclose(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(want, x, g)[0],
                          rtol=1e-9, atol=1e-12)
    R = ref.gram_schmidt_ref(x.detach())
    assert torch.allclose(ops.matrix_to_euler(R), ref.matrix_to_euler_ref(R), rtol=1e-12, atol=1e-12)
    # float32 (16 lanes, polynomial acos/atan2) against the float64 reference of the same inputs
    x32 = x.detach().float()
    R32 = ops.gram_schmidt(x32).double()
    assert ((R32 - ref.gram_schmidt_ref(x32.double())).abs() <= 1e-6 * cond.view(-1, 1, 1)).all()
    theta32 = ops.geodesic_distance(R32.float(), R_gt.float()).double()
    theta = ref.geodesic_distance_ref(R32.float().double(), R_gt.float().double())
    c = torch.cos(theta)
    assert ((theta32 - theta).abs() <= 1e-6 + 4 * 6e-8 / torch.sqrt((1 - c * c).clamp_min(1e-12))).all()


@needs_avx512
@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
@pytest.mark.parametrize("shape", [(1, 64, 5, 16), (2, 64, 6, 17), (3, 20, 4, 33), (17, 16, 7, 7)])
def test_avx512_mixer_matches_float64_reference(shape, downsample, threads):
    # float64 (8 lanes)
    N, C, H, W = shape
    params = [p.requires_grad_() if p is not None else None for p in mixer_params(C, downsample)]
    x = torch.randn(N, C, H, W, dtype=torch.float64, requires_grad=True)
    ours = ops.repnext_mixer(x, *params)
    want = ops.repnext_mixer_ref(x, *params)
    assert torch.allclose(ours, want, atol=1e-12)
    leaves = [x] + [p for p in params if p is not None]
    g = torch.randn_like(want)
    for a, b in zip(torch.autograd.grad(ours, leaves, g), torch.autograd.grad(want, leaves, g)):
        assert torch.allclose(a, b, atol=1e-11, rtol=1e-11)
    # float32 (16 lanes), NCHW
    ours, want, grads, want_grads = mixer_against_reference(shape, downsample, torch.float32)
    assert (ours.double() - want).abs().max() <= 2e-6 * want.abs().max()
    for a, b in zip(grads, want_grads):
        assert (a.double() - b).abs().max() <= 2e-5 * b.abs().max()


@needs_avx512
@pytest.mark.parametrize("downsample", [False, True], ids=["block", "downsample"])
def test_avx512_mixer_channels_last_matches_nchw(downsample):
    params = mixer_params(64, downsample, torch.float32)
    x = torch.randn(2, 64, 9, 17)
    with torch.no_grad():
        want = ops.repnext_mixer(x, *params)
        ours = ops.repnext_mixer(x.to(memory_format=torch.channels_last), *params)
    assert torch.allclose(ours, want, atol=1e-5, rtol=1e-5)


def test_ci_runs_avx512_where_the_cpu_has_it():
    """In CI a CPU with AVX-512F runs the tests above (they only skip without AVX-512F)."""
    if not (IN_CI and HAS_AVX512F):
        pytest.skip("not CI on an AVX-512F CPU")
    assert "avx512" in _C.build_info()["cpu_isa_compiled"]


@pytest.mark.parametrize("cap,expect", [("baseline", "sse2"), ("avx2", None)])
def test_max_isa_caps_the_chosen_table(cap, expect):
    """PYHPE_MAX_ISA picks a lower table (to time or test it on a CPU that has a higher one): the
    capped process reports that table and its ops still match the float64 references."""
    import subprocess
    import sys

    if not IS_X86_64:
        pytest.skip("the ISA levels are x86-64's")
    expect = expect or ("avx2" if _C.build_info()["cpu_isa"] in ("avx2", "avx512") else _C.build_info()["cpu_isa"])
    code = (
        "import torch, pyhpe.ops as ops; from pyhpe import _C; from pyhpe.ops import reference as ref\n"
        "x = torch.randn(37, 6, dtype=torch.float64)\n"
        "assert torch.allclose(ops.gram_schmidt(x), ref.gram_schmidt_ref(x), atol=1e-12)\n"
        "x = torch.randn(2, 8, 9, 17, dtype=torch.float64)\n"
        "w = [torch.randn(s, dtype=torch.float64) for s in [(2,1,3,3),(2,),(2,1,7,7),(2,),(2,1,1,11),(2,),(2,1,11,1),(2,)]]\n"
        "assert torch.allclose(ops.repnext_mixer(x, *w), ops.repnext_mixer_ref(x, *w), atol=1e-12)\n"
        "print(_C.build_info()['cpu_isa'])\n")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYHPE_MAX_ISA": cap})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == expect
