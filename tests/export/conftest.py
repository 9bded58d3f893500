"""Fixtures of the export tests: a small TRGv2 with weights that exercise every part of its graph."""

from __future__ import annotations

import pytest
from support.trgv2_models import random_trgv2


@pytest.fixture
def trgv2():
    return random_trgv2
