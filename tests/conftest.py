"""Pytest fixtures shared by the test folders, and the session report header.

Plain helpers live in the ``support`` package (tests/support/: ``from support import require``);
test modules import them from there, never from a conftest or another test module.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings
from support import IN_CI, require

# Subprocesses (`python -m pyhpe`, torchrun workers, `python -c`) import the pyhpe this process
# imports, the installed one: without this, Python puts the working directory (the repository
# root) first on their sys.path, and in CI, where pyhpe is installed with `pip install .`, they
# would run the source tree without its compiled pyhpe._C (the pure-PyTorch fallbacks), not the
# kernels the tests in this process use (Python >= 3.11 reads it; 3.10 ignores it).
os.environ.setdefault("PYTHONSAFEPATH", "1")

# CI draws the same hypothesis examples on every run (a red CI is reproducible from its log); a
# developer's run explores new ones (`pytest --hypothesis-profile=ci` reproduces CI's).
settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


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


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    """Run a test at 1 and at 2 torch threads (the kernels split large batches over threads)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(old)


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
