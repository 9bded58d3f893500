"""Fixtures of the runtime tests: the C++ runtime built for the host and for aarch64."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.native_runtime import build_aarch64_runtime, build_host_runtime


@pytest.fixture(scope="module")
def host_tools() -> Path:
    return build_host_runtime()


@pytest.fixture(scope="module")
def aarch64_tools() -> Path:
    return build_aarch64_runtime()
