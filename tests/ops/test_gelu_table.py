"""The AVX-512 FFN's GELU table (kGeluTail in csrc/include/pyhpe/ffn_kernel.h) is what
tools/fit_gelu_table.py fits, value for value, and the kernel's float32 arithmetic on it (as the
tool models it) stays within 2e-7 * max(1, |x|) of the exact GELU (the native test, which runs
the kernel itself, asserts 1e-6 and prints 8.3e-8)."""

from __future__ import annotations

import importlib.util
import math
import re

import numpy as np
from support import REPO_ROOT


def _tool():
    spec = importlib.util.spec_from_file_location("fit_gelu_table", REPO_ROOT / "tools" / "fit_gelu_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _header_table() -> np.ndarray:
    text = (REPO_ROOT / "csrc" / "include" / "pyhpe" / "ffn_kernel.h").read_text()
    body = re.search(r"kGeluTail\[(\d+)\]\[(\d+)\] = \{(.*?)\n\};", text, re.DOTALL)
    assert body, "kGeluTail not found in ffn_kernel.h"
    rows, cols = int(body.group(1)), int(body.group(2))
    values = [float(v.rstrip("f")) for v in re.findall(r"[-+0-9.e]+f", body.group(3))]
    assert len(values) == rows * cols
    return np.asarray(values, np.float32).reshape(rows, cols)


def test_header_table_is_the_fit():
    tool = _tool()
    np.testing.assert_array_equal(_header_table(), tool.fit().T)


def test_table_gelu_error():
    tool = _tool()
    x = np.linspace(-12, 12, 48001).astype(np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    err = np.abs(tool.gelu_f32(tool.fit(), x) - exact) / np.maximum(1, np.abs(x))
    assert err.max() <= 2e-7, err.max()
