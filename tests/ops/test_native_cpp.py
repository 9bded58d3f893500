"""Builds and runs the native C++ tests: csrc/tests/rotation_native_test.cpp (the rotation
kernels), csrc/tests/mixer_native_test.cpp (the fused RepNeXt mixer),
csrc/tests/ffn_native_test.cpp (the C++ runtime's fused channel MLP, PyhpeRepNeXtFFN),
csrc/tests/stem_native_test.cpp (the C++ runtime's fused stem, PyhpeRepNeXtStem),
csrc/tests/ffn_bf16_native_test.cpp (its bf16 kernel, AVX512-BF16),
csrc/tests/sidecar_native_test.cpp (the C++ runtime's reader of the export sidecar) and
csrc/tests/sixdof_native_test.cpp (TRGv2's 6DoF geometry, csrc/include/pyhpe/sixdof_math.h).

csrc/tests/CMakeLists.txt describes the builds; each program is built in these variants and must
report "N passed, 0 failed" each time:
  * host: -O2 (the baseline SSE2 pack path on x86-64),
  * host-avx2: -O2 -mavx2 -mfma (the AVX2 pack path; skipped on a CPU without AVX2),
  * host-avx512 (rotation, mixer, ffn, stem): -O2 -mavx512f -mavx2 -mfma (the AVX-512 paths: 16 float
    lanes); compiled on every x86-64 host (test_host_avx512_builds), run only on a CPU with
    AVX-512F (skipped with the reason elsewhere; in CI a CPU with AVX-512F runs it),
  * host-avx512bf16 (ffn_bf16): the runtime's bf16 FFN kernel (-mavx512bf16); compiled on every
    x86-64 host, run only on a CPU with AVX512-BF16 (skipped with the reason elsewhere),
  * host-wide16 (rotation, mixer): -O2 -mavx2 -mfma -DPYHPE_PACK_BYTES=64, the AVX-512 build's
    16-lane float / 8-lane double packs lowered to two AVX2 halves: the same lane logic (tails,
    transposes, lane weights) run on an AVX2 CPU (skipped on a CPU without AVX2),
  * host-sanitize: AddressSanitizer + UndefinedBehaviorSanitizer (-O1 -g, leaks checked),
  * aarch64: the aarch64 toolchain file, -O2 -static, run under qemu-aarch64 on three CPU models
    (the NEON path).
Here each variant is configured with cmake in its own build directory (host variants with g++,
aarch64 with csrc/runtime/cmake/aarch64-linux-gnu.toolchain.cmake) and built with cmake --build.

A missing compiler or emulator skips its test with the reason, except in CI (CI=true), where the
toolchain is installed on purpose and a missing tool is a failure. Builds go to a pytest
temporary directory and run concurrently, so the module takes well under a minute on 2 cores.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from support import REPO_ROOT, cpu_has

ROOT = REPO_ROOT
CMAKE_SOURCE = ROOT / "csrc" / "tests"
AARCH64_TOOLCHAIN = ROOT / "csrc" / "runtime" / "cmake" / "aarch64-linux-gnu.toolchain.cmake"
PROGRAMS = ("rotation", "mixer", "ffn", "stem", "sidecar", "sixdof")
# checks a run must make (default 1000): the 6DoF geometry test is closed-form cases, not sweeps
MIN_CHECKS = {"sixdof": 60}

# variant (csrc/tests/CMakeLists.txt) -> the compiler it needs
BUILDS = {
    "host": "g++",
    "host-avx2": "g++",
    "host-avx512": "g++",
    "host-avx512bf16": "g++",
    "host-wide16": "g++",
    "host-sanitize": "g++",
    "aarch64": "aarch64-linux-gnu-g++",
}

# Variants only some programs have a path for (the others' default is every program).
BUILD_PROGRAMS = {"host-avx512": ("rotation", "mixer", "ffn", "stem"), "host-wide16": ("rotation", "mixer"),
                  "host-avx512bf16": ("ffn_bf16",)}

IN_CI = os.environ.get("CI", "").lower() == "true"
CLOSING_LINE = re.compile(r"^(\d+) passed, (\d+) failed$")
BUILD_TIMEOUT_S = 600
RUN_TIMEOUT_S = 300


def require_tool(tool: str) -> None:
    """Skip when `tool` is not on PATH, or fail in CI, where it is installed on purpose."""
    if shutil.which(tool) is not None:
        return
    reason = f"{tool} not found on PATH"
    if IN_CI:
        pytest.fail(f"{reason}; CI=true, and CI installs it (g++-aarch64-linux-gnu, qemu-user), so this test must run")
    pytest.skip(f"{reason} (install g++-aarch64-linux-gnu and qemu-user to run the native tests)")


def host_isa() -> str | None:
    """The pack ISA a plain host build reports, or None where this test does not know it."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "sse2"
    if machine in ("aarch64", "arm64"):
        return "neon"
    return None


def cpu_has_avx2() -> bool:
    return cpu_has("avx2")


def is_x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


class NativeBuilds:
    """Configures and builds every variant whose compiler exists, all at once, on first use."""

    def __init__(self, out_dir: Path, wanted: set[str]):
        self.out_dir = out_dir
        self.pool = ThreadPoolExecutor(max_workers=len(BUILDS))  # builds, then the qemu runs
        self.futures: dict[str, Future] = {}
        if shutil.which("cmake") is None:
            return
        for name, compiler in BUILDS.items():
            if name not in wanted or shutil.which(compiler) is None:
                continue
            if name in ("host-avx2", "host-wide16") and not cpu_has_avx2():
                continue
            if name in ("host-avx512", "host-avx512bf16") and not is_x86_64():  # compiled on every x86-64 host
                continue
            if name == "aarch64" and shutil.which("qemu-aarch64") is None:
                continue
            self.futures[name] = self.pool.submit(self._build, name, compiler)

    def _build(self, name: str, compiler: str) -> subprocess.CompletedProcess:
        """cmake configure + build of one variant; the result holds both steps' output."""
        build_dir = self.out_dir / name
        configure = ["cmake", "-S", str(CMAKE_SOURCE), "-B", str(build_dir), "-G", "Unix Makefiles",
                     f"-DPYHPE_NATIVE_TEST_VARIANTS={name}"]
        if name == "aarch64":
            configure.append(f"-DCMAKE_TOOLCHAIN_FILE={AARCH64_TOOLCHAIN}")
        else:
            configure.append(f"-DCMAKE_CXX_COMPILER={compiler}")
        proc = subprocess.run(configure, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if proc.returncode == 0:
            # -k: one program's failure does not stop the others
            build = ["cmake", "--build", str(build_dir), "-j", "2", "--", "-k"]
            built = subprocess.run(build, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
            proc = subprocess.CompletedProcess(configure + ["&&"] + build, built.returncode,
                                               proc.stdout + built.stdout, proc.stderr + built.stderr)
        proc.build_dir = build_dir  # type: ignore[attr-defined]
        return proc

    def get(self, name: str, program: str) -> Path:
        """The built executable; fails the test with the build output if it was not built."""
        require_tool("cmake")
        require_tool(BUILDS[name])
        if name not in self.futures:
            pytest.fail(f"build {name!r} was not started (see BUILD_OF_TEST)")
        proc = self.futures[name].result()
        output = proc.stdout + proc.stderr
        exe = proc.build_dir / f"{program}_native_test-{name}"  # type: ignore[attr-defined]
        assert exe.is_file(), f"{' '.join(proc.args)}\nexit code {proc.returncode}\n{output[-8000:]}"
        # Warning-free in our own code (the static aarch64 link warns about glibc's dlopen in
        # libgomp, which is not ours).
        ours = [line for line in output.splitlines() if "warning:" in line and str(ROOT / "csrc") in line]
        assert not ours, "compiler warnings:\n" + "\n".join(ours)
        return exe

    def close(self) -> None:
        self.pool.shutdown(wait=True)


# The build each test needs, so that a run selecting some of them (-k) compiles only those.
BUILD_OF_TEST = {
    "test_host_baseline": "host",
    "test_host_avx2": "host-avx2",
    "test_host_avx512_builds": "host-avx512",
    "test_host_avx512": "host-avx512",
    "test_host_avx512bf16_builds": "host-avx512bf16",
    "test_host_avx512bf16": "host-avx512bf16",
    "test_host_wide16": "host-wide16",
    "test_host_sanitizers": "host-sanitize",
    "test_aarch64_neon_under_qemu": "aarch64",
}


@pytest.fixture(scope="module")
def builds(request, tmp_path_factory):
    selected = {getattr(item, "originalname", item.name) for item in request.session.items}
    wanted = {build for test, build in BUILD_OF_TEST.items() if test in selected}
    b = NativeBuilds(tmp_path_factory.mktemp("native_cpp"), wanted)
    yield b
    b.close()


def execute(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)


def check_program_output(proc: subprocess.CompletedProcess, expect_isa: str | None,
                         expect_f32_lanes: int | None = None) -> str:
    """Every check passed, the closing line is there, and the pack path is the expected ISA
    (and, where given, float packs of the expected number of lanes)."""
    cmd = proc.args
    lines = proc.stdout.strip().splitlines()
    failures = [line for line in lines if line.startswith("FAIL")]
    context = "\n".join(failures[:30]) + "\n--- end of output ---\n" + "\n".join(lines[-5:]) + "\n" + proc.stderr[-6000:]
    assert lines, f"no output from {cmd}, exit code {proc.returncode}\n{proc.stderr[-6000:]}"
    closing = CLOSING_LINE.match(lines[-1])
    assert closing, f"missing closing line 'N passed, M failed' (crashed? exit code {proc.returncode})\n{context}"
    passed, failed = int(closing.group(1)), int(closing.group(2))
    assert failed == 0 and proc.returncode == 0, f"{failed} native checks failed, exit code {proc.returncode}\n{context}"
    minimum = MIN_CHECKS.get(Path(str(cmd[-1])).name.split("_native_test")[0], 1000)
    assert passed > minimum, f"only {passed} checks ran\n{context}"
    if expect_isa is not None:
        assert lines[0].startswith(f"isa={expect_isa} "), f"pack path is not {expect_isa}: {lines[0]}"
    if expect_f32_lanes is not None:
        assert f" f32_lanes={expect_f32_lanes} " in lines[0] + " ", f"not {expect_f32_lanes} float lanes: {lines[0]}"
    return proc.stdout


QEMU_CPUS = ["cortex-a53", "cortex-a76", "max"]


@pytest.fixture(scope="module")
def qemu_runs(request):
    """The aarch64 program started under every qemu CPU model at once (they are independent)."""
    require_tool("qemu-aarch64")
    builds = request.getfixturevalue("builds")
    # qemu-aarch64 is called explicitly: binfmt_misc need not be set up.
    return {
        (program, cpu): builds.pool.submit(execute, ["qemu-aarch64", "-cpu", cpu, str(builds.get("aarch64", program))])
        for program in PROGRAMS
        for cpu in QEMU_CPUS
    }


@pytest.mark.parametrize("program", PROGRAMS)
def test_host_baseline(builds, program):
    exe = builds.get("host", program)
    check_program_output(execute([str(exe)]), host_isa())


@pytest.mark.skipif(not cpu_has_avx2(), reason="this CPU has no AVX2 (or is not x86-64)")
@pytest.mark.parametrize("program", PROGRAMS)
def test_host_avx2(builds, program):
    exe = builds.get("host-avx2", program)
    check_program_output(execute([str(exe)]), "avx2")


AVX512_PROGRAMS = BUILD_PROGRAMS["host-avx512"]
WIDE16_PROGRAMS = BUILD_PROGRAMS["host-wide16"]


@pytest.mark.skipif(not is_x86_64(), reason="not x86-64")
@pytest.mark.parametrize("program", AVX512_PROGRAMS)
def test_host_avx512_builds(builds, program):
    """The AVX-512 variant compiles warning-free on any x86-64 host (running it needs AVX-512F)."""
    builds.get("host-avx512", program)


@pytest.mark.skipif(not cpu_has("avx512f"),
                    reason="this CPU has no AVX-512F (or is not x86-64): host-avx512 is only compiled "
                           "here; host-wide16 runs its 16-lane logic")
@pytest.mark.parametrize("program", AVX512_PROGRAMS)
def test_host_avx512(builds, program):
    exe = builds.get("host-avx512", program)
    check_program_output(execute([str(exe)]), "avx512", None if program in ("ffn", "stem") else 16)


@pytest.mark.skipif(not is_x86_64(), reason="not x86-64")
def test_host_avx512bf16_builds(builds):
    """The runtime's bf16 FFN kernel compiles warning-free on any x86-64 host."""
    builds.get("host-avx512bf16", "ffn_bf16")


@pytest.mark.skipif(not cpu_has("avx512_bf16"),
                    reason="this CPU has no AVX512-BF16 (or is not x86-64): the runtime's bf16 FFN "
                           "kernel is only compiled here (its layer widens bf16 to fp32 on such CPUs)")
def test_host_avx512bf16(builds):
    exe = builds.get("host-avx512bf16", "ffn_bf16")
    check_program_output(execute([str(exe)]), "avx512bf16")


@pytest.mark.skipif(not cpu_has_avx2(), reason="this CPU has no AVX2 (or is not x86-64)")
@pytest.mark.parametrize("program", WIDE16_PROGRAMS)
def test_host_wide16(builds, program):
    """The 16-lane float (8-lane double) packs of the AVX-512 build, as two AVX2 halves."""
    exe = builds.get("host-wide16", program)
    check_program_output(execute([str(exe)]), "avx2", 16)


@pytest.mark.parametrize("program", PROGRAMS)
def test_host_sanitizers(builds, program):
    exe = builds.get("host-sanitize", program)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")
    proc = execute([str(exe)], env=env)
    check_program_output(proc, host_isa())
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr[-6000:]


@pytest.mark.parametrize("cpu", QEMU_CPUS)
@pytest.mark.parametrize("program", PROGRAMS)
def test_aarch64_neon_under_qemu(qemu_runs, program, cpu):
    check_program_output(qemu_runs[program, cpu].result(), "neon")
