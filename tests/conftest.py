"""Shared test helpers.

Independent references that come from outside the package (the official 6DRepNet code, the
aarch64 toolchain, qemu) are skipped when missing on a developer machine, but are required in
CI (CI=true), where .ci/run installs them: a missing reference there is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import os
import types
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


def load_module_from_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def official_sixdrepnet() -> types.SimpleNamespace:
    """``utils`` and ``loss`` of the official package sixdrepnet==0.1.6, loaded by file path.

    The package is installed with ``pip install --no-deps`` (its dependencies would pull
    torchvision); its ``__init__`` imports modules we do not install, so it is not imported.
    """
    spec = importlib.util.find_spec("sixdrepnet")
    require(spec is not None, "the official 6DRepNet package (pip install --no-deps sixdrepnet==0.1.6)")
    root = Path(spec.submodule_search_locations[0])
    utils = load_module_from_file("_official_6drepnet_utils", root / "utils.py")
    loss = load_module_from_file("_official_6drepnet_loss", root / "loss.py")
    return types.SimpleNamespace(utils=utils, loss=loss, root=root)


def pytest_report_header(config) -> list[str]:
    try:
        from pyhpe import _C

        info = _C.build_info()
        return [f"pyhpe._C: isa={info['cpu_isa']} cuda={info['cuda']} openmp={info['openmp']}"]
    except ImportError as exc:  # pragma: no cover
        return [f"pyhpe._C not importable: {exc}"]


