"""Moved to tests/support/ops_cases.py (``from support.ops_cases import ...``). This shim keeps
``from ops_cases import ...`` working for tests/test_ops_bindings.py until it moves to tests/ops/;
delete it then."""

from support.ops_cases import (  # noqa: F401 (re-exported)
    adversarial_sixd,
    euler_grid,
    random_rotations,
    rotation_pairs,
    sixd_condition,
)
