"""The CPU kernels are really vectorised: build the kernel tables as the package does
(pyhpe_isa_objects in csrc/cmake/pyhpe_isa.cmake, through csrc/tests/CMakeLists.txt, which
defines the same object libraries) and count packed (ymm) floating-point instructions in the
generated code of each kernel."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import REPO_ROOT

PACKED = re.compile(r"\bv(mul|add|sub|div|sqrt|fmadd\w*|fnmadd\w*|fmsub\w*)p[sd]\b.*%ymm")

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 per-ISA tables")


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory) -> dict[str, list[Path]]:
    """ISA level -> the object files of the package's kernel table build for it."""
    if not shutil.which("cmake") or not shutil.which("g++"):
        pytest.skip("cmake/g++ not available")
    build = tmp_path_factory.mktemp("codegen")
    subprocess.run(["cmake", "-S", REPO_ROOT / "csrc" / "tests", "-B", build, "-G", "Unix Makefiles",
                    "-DCMAKE_CXX_COMPILER=g++", "-DPYHPE_NATIVE_TEST_VARIANTS=host"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", build, "-j", "2", "--target", "pyhpe_cpu_baseline", "pyhpe_cpu_avx2"],
                   check=True, capture_output=True)
    return {isa: [Path(p) for p in (build / f"pyhpe_cpu_{isa}.objects").read_text().split()]
            for isa in ("baseline", "avx2")}


def _object(objects: list[Path], source: str) -> Path:
    return next(p for p in objects if p.name.startswith(source))


def test_avx2_kernel_table_is_vectorised(kernel_objects):
    objdump = shutil.which("objdump")
    if not objdump:
        pytest.skip("objdump not available")
    obj = _object(kernel_objects["avx2"], "rotation_kernels.cpp")
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


def test_isa_builds_share_no_inline_kernel_symbols(kernel_objects):
    """The baseline and AVX2 builds of the kernel tables must not define the same weak symbols:
    the linker would keep one copy, and one table would run the other ISA's code (slower, or an
    illegal instruction on a CPU without AVX2). config.h's per-ISA inline namespace prevents it."""
    nm = shutil.which("nm")
    if not nm:
        pytest.skip("nm not available")
    weak: dict[str, set[str]] = {}
    for isa, objects in kernel_objects.items():
        names: set[str] = set()
        for source in ("rotation_kernels.cpp", "mixer_kernels.cpp"):
            listing = subprocess.run([nm, "-C", "--defined-only", str(_object(objects, source))], check=True,
                                     capture_output=True, text=True).stdout
            names |= {line.split(" ", 2)[2] for line in listing.splitlines()
                      if line.split(" ")[1:2] in (["W"], ["V"], ["u"]) and "pyhpe::" in line}
        weak[isa] = names
    assert weak["avx2"], "no kernel symbols found"
    shared = sorted(weak["baseline"] & weak["avx2"])
    assert not shared, f"{len(shared)} kernel symbols defined by both ISA builds: {shared[:5]}"
