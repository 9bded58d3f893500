"""The CPU kernels are really vectorised: build the kernel tables as the package does
(pyhpe_isa_objects in csrc/cmake/pyhpe_isa.cmake, through csrc/tests/CMakeLists.txt, which
defines the same object libraries: baseline, avx2, avx512) and count packed floating-point
instructions on the level's registers (ymm for AVX2, zmm for AVX-512) in the generated code of
each kernel. Only compiled and disassembled: no AVX-512 CPU is needed."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import REPO_ROOT

ISAS = ("baseline", "avx2", "avx512")
REGISTER = {"avx2": "ymm", "avx512": "zmm"}


def packed_re(register: str) -> re.Pattern:
    return re.compile(rf"\bv(mul|add|sub|div|sqrt|fmadd\w*|fnmadd\w*|fmsub\w*)p[sd]\b.*%{register}")

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
    subprocess.run(["cmake", "--build", build, "-j", "2", "--target", *(f"pyhpe_cpu_{isa}" for isa in ISAS)],
                   check=True, capture_output=True)
    return {isa: [Path(p) for p in (build / f"pyhpe_cpu_{isa}.objects").read_text().split()]
            for isa in ISAS}


def _object(objects: list[Path], source: str) -> Path:
    return next(p for p in objects if p.name.startswith(source))


def _packed_counts(obj: Path, register: str) -> dict[str, int]:
    """Function name -> packed FP instructions on `register` registers in its disassembly."""
    objdump = shutil.which("objdump")
    if not objdump:
        pytest.skip("objdump not available")
    asm = subprocess.run([objdump, "-d", "-C", "--no-show-raw-insn", str(obj)], check=True,
                         capture_output=True, text=True).stdout
    packed = packed_re(register)
    counts: dict[str, int] = {}
    current = None
    for line in asm.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            current = m.group(1)
            continue
        if current and packed.search(line):
            counts[current] = counts.get(current, 0) + 1
    return counts


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_rotation_kernel_table_is_vectorised(kernel_objects, isa):
    register = REGISTER[isa]
    counts = _packed_counts(_object(kernel_objects[isa], "rotation_kernels.cpp"), register)
    # sixd_geodesic_distance and sixd_geodesic_loss are thin callers of the chain's loop
    for kernel in ["gram_schmidt<float", "gram_schmidt_backward<float", "geodesic_distance<float",
                   "sixd_geodesic_chain<float", "matrix_to_euler<float",
                   "gram_schmidt<double"]:
        packed = sum(n for name, n in counts.items() if kernel in name)
        assert packed >= 20, f"{isa} {kernel}: only {packed} packed {register} instructions"


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_mixer_kernel_table_is_vectorised(kernel_objects, isa):
    """The mixer's convolutions (forward and backward, float and double) run on full-width packs."""
    register = REGISTER[isa]
    counts = _packed_counts(_object(kernel_objects[isa], "mixer_kernels.cpp"), register)
    for kernel in ["mixer::isa_", "packed::isa_"]:
        for dtype in ["float", "double"]:
            packed = sum(n for name, n in counts.items() if kernel in name and dtype in name)
            assert packed >= 200, f"{isa} {kernel}*<{dtype}>: only {packed} packed {register} instructions"


def test_isa_builds_share_no_inline_kernel_symbols(kernel_objects):
    """No two builds of the kernel tables (baseline, AVX2, AVX-512) may define the same weak
    symbols: the linker would keep one copy, and one table would run another ISA's code (slower,
    or an illegal instruction on a CPU without AVX2 or AVX-512). config.h's per-ISA inline
    namespace prevents it."""
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
    for isa in ISAS:
        assert weak[isa], f"no kernel symbols found in the {isa} build"
    for i, a in enumerate(ISAS):
        for b in ISAS[i + 1:]:
            shared = sorted(weak[a] & weak[b])
            assert not shared, f"{len(shared)} kernel symbols defined by both the {a} and {b} builds: {shared[:5]}"


def test_avx512_table_objects_name_their_level(kernel_objects):
    """Each build defines its own table (kRotationKernels_avx512, kMixerKernels_avx512)."""
    nm = shutil.which("nm")
    if not nm:
        pytest.skip("nm not available")
    for source, table in (("rotation_kernels.cpp", "kRotationKernels"), ("mixer_kernels.cpp", "kMixerKernels")):
        for isa in ISAS:
            listing = subprocess.run([nm, "-C", "--defined-only", str(_object(kernel_objects[isa], source))],
                                     check=True, capture_output=True, text=True).stdout
            assert f"pyhpe::cpu::{table}_{isa}" in listing, f"{source} ({isa}) does not define {table}_{isa}"
