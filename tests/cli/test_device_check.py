"""tools/device_check.sh on a machine without a GPU: every CUDA part skips with a message and
the script exits 0, so the prepared GPU check does not rot between GPU sessions."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from support import REPO_ROOT


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the script would build")
def test_device_check_skips_cleanly_without_a_gpu(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("OUT", None)
    done = subprocess.run(["bash", str(REPO_ROOT / "tools" / "device_check.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no CUDA device: the CUDA tests and benchmarks below skip" in done.stdout
    assert "pyhpe bench cuda: skipped: no CUDA device visible to torch" in done.stdout
    assert "skipped" in (tmp_path / "cuda-tests.log").read_text()
    assert "pyhpe._C" in (tmp_path / "machine.txt").read_text()
