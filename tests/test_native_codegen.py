"""The CPU kernels are really vectorised: compile the AVX2 kernel table as the build does and
count packed (ymm) floating-point instructions in the generated code of each kernel."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT

PACKED = re.compile(r"\bv(mul|add|sub|div|sqrt|fmadd\w*|fnmadd\w*|fmsub\w*)p[sd]\b.*%ymm")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 code generation check")
def test_avx2_kernel_table_is_vectorised(tmp_path):
    cxx = shutil.which("g++")
    objdump = shutil.which("objdump")
    if not cxx or not objdump:
        pytest.skip("g++/objdump not available")
    obj = tmp_path / "avx2.o"
    subprocess.run(
        [cxx, "-std=c++17", "-O3", "-fno-math-errno", "-mavx2", "-mfma",
         f"-I{REPO_ROOT / 'csrc/include'}", f"-I{REPO_ROOT / 'csrc'}",
         "-DPYHPE_KERNEL_TABLE=kRotationKernelsAvx2", "-c",
         str(REPO_ROOT / "csrc/cpu/rotation_kernels.cpp"), "-o", str(obj)],
        check=True,
    )
    asm = subprocess.run([objdump, "-d", "-C", "--no-show-raw-insn", str(obj)], check=True,
                         capture_output=True, text=True).stdout
    # split the disassembly into functions and count packed FP instructions per kernel
    counts: dict[str, int] = {}
    current = None
    for line in asm.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            current = m.group(1)
            continue
        if current and PACKED.search(line):
            counts[current] = counts.get(current, 0) + 1
    for kernel in ["gram_schmidt<float", "gram_schmidt_backward<float", "geodesic_distance<float",
                   "sixd_geodesic_distance<float", "matrix_to_euler<float",
                   "gram_schmidt<double"]:
        packed = sum(n for name, n in counts.items() if kernel in name)
        assert packed >= 20, f"{kernel}: only {packed} packed ymm instructions"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 per-ISA tables")
def test_isa_builds_share_no_inline_kernel_symbols(tmp_path):
    """The baseline and AVX2 builds of the kernel tables must not define the same weak symbols:
    the linker would keep one copy, and one table would run the other ISA's code (slower, or an
    illegal instruction on a CPU without AVX2). config.h's per-ISA inline namespace prevents it."""
    cxx, nm = shutil.which("g++"), shutil.which("nm")
    if not cxx or not nm:
        pytest.skip("g++/nm not available")
    weak: dict[str, set[str]] = {}
    for isa, flags in {"baseline": [], "avx2": ["-mavx2", "-mfma"]}.items():
        names: set[str] = set()
        for source in ("rotation_kernels.cpp", "mixer_kernels.cpp"):
            obj = tmp_path / f"{isa}-{source}.o"
            subprocess.run(
                [cxx, "-std=c++17", "-O3", "-fno-math-errno", "-fopenmp", *flags,
                 f"-I{REPO_ROOT / 'csrc/include'}", f"-I{REPO_ROOT / 'csrc'}", "-c",
                 str(REPO_ROOT / "csrc/cpu" / source), "-o", str(obj)],
                check=True,
            )
            listing = subprocess.run([nm, "-C", "--defined-only", str(obj)], check=True,
                                     capture_output=True, text=True).stdout
            names |= {line.split(" ", 2)[2] for line in listing.splitlines()
                      if line.split(" ")[1:2] in (["W"], ["V"], ["u"]) and "pyhpe::" in line}
        weak[isa] = names
    assert weak["avx2"], "no kernel symbols found"
    shared = sorted(weak["baseline"] & weak["avx2"])
    assert not shared, f"{len(shared)} kernel symbols defined by both ISA builds: {shared[:5]}"
