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
