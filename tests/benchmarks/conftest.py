"""Fixtures shared by the pytest-benchmark suites."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(params=[1, 2], ids=lambda t: f"{t}t")
def threads(request):
    """Runs the case with torch (and the native ops) at 1 and at 2 threads."""
    old = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(old)
