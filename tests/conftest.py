"""Shared test helpers.

Independent references that come from outside the package (the official 6DRepNet code, the
aarch64 toolchain, qemu) are skipped when missing on a developer machine, but are required in
CI (CI=true), where .ci/run installs them: a missing reference there is a failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, what: str) -> None:
    """Skip (developer machine) or fail (CI) when an external reference is unavailable."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="module")
def one_thread():
    """Run a module on one torch thread (tiny convolutions run far faster on one thread, and two
    OpenMP threads stall badly when the 2 cores are shared), restoring the setting afterwards.
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def official_sixdrepnet():
    """``utils`` and ``loss`` of the official package sixdrepnet==0.1.6 (see pyhpe.official)."""
    from pyhpe.official import INSTALL_HINT, load_official_functions, official_root

    require(official_root() is not None, f"the official 6DRepNet package ({INSTALL_HINT})")
    return load_official_functions()


def pytest_report_header(config) -> list[str]:
    try:
        from pyhpe import _C

        info = _C.build_info()
        return [f"pyhpe._C: isa={info['cpu_isa']} cuda={info['cuda']} openmp={info['openmp']}"]
    except ImportError as exc:  # pragma: no cover
        return [f"pyhpe._C not importable: {exc}"]




def repnext_m0_eval(seed: int = 0):
    """sixdrepnet_repnext_m0 in eval mode with seeded random weights and randomised BatchNorm
    statistics (so that BN folding in exports and deploy forms is really exercised)."""
    import torch

    from pyhpe.models import create_model

    torch.manual_seed(seed)
    m = create_model("sixdrepnet_repnext_m0").eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    return m
