"""Plain helpers shared by the test folders (importable as ``support``: pyproject.toml's
[tool.pytest.ini_options] puts tests/ on the path). Pytest fixtures live in tests/conftest.py.

* ``support``: the repository root, CI-required references, a seeded RepNeXt model, and the one
  helper for running a subprocess;
* ``support.ops_cases``: random and adversarial inputs for the ops tests;
* ``support.data_fixtures``: writers of small dataset fixtures in each format's on-disk layout.

Independent references that come from outside the package (the official 6DRepNet code, the
aarch64 toolchain, qemu) are skipped when missing on a developer machine, but are required in
CI (CI=true), where .ci/run installs them: a missing reference there is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
PYHPE = (sys.executable, "-m", "pyhpe")  # the command line, in a fresh interpreter

__all__ = ["IN_CI", "PYHPE", "REPO_ROOT", "assert_backbone_trains", "cpu_has", "randomize_bn", "repnext_m0_eval",
           "require", "run_command", "start_command"]


def require(condition: bool, what: str) -> None:
    """Skip (developer machine) or fail (CI) when an external reference is unavailable."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not available")


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


def randomize_bn(model, seed: int = 0):
    """Random running statistics and affine parameters on every BatchNorm (in place; returns the
    model), so that BN folding is really exercised. Draws, per BN: mean, var, weight, bias."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            if m.track_running_stats:
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model


def assert_backbone_trains(name: str, side: int = 64) -> None:
    """One training step of the registered backbone ``name`` on a random (2, 3, side, side)
    batch: features of shape (2, num_features, side/32, side/32), a finite, non-zero gradient
    on every parameter."""
    import torch

    from pyhpe.models import create_model

    torch.manual_seed(0)
    model = create_model(name).train()
    out = model(torch.randn(2, 3, side, side))
    assert out.shape == (2, model.num_features, side // 32, side // 32)
    (out * torch.randn_like(out)).sum().backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent, f"no gradient reached: {silent[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def _argv(cmd: Sequence) -> list[str]:
    return [str(c) for c in cmd]


def run_command(cmd: Sequence, *, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """Runs ``cmd`` (items may be paths or numbers) to completion: text stdout and stderr
    captured, no exception on a non-zero exit (the caller asserts on ``returncode``), killed after
    ``timeout`` seconds. Further keywords (``cwd``, ``env``, ...) go to subprocess.run."""
    return subprocess.run(_argv(cmd), capture_output=True, text=True, timeout=timeout, check=False,
                          **kw)


def start_command(cmd: Sequence, **kw) -> subprocess.Popen:
    """Starts ``cmd`` without waiting, text stdout and stderr piped, so that several slow commands
    (each a fresh interpreter importing torch) run side by side; collect each with
    ``proc.communicate(timeout=...)``. Further keywords go to subprocess.Popen."""
    return subprocess.Popen(_argv(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def cpu_has(flag: str) -> bool:
    """Whether /proc/cpuinfo lists ``flag`` (x86-64 only; e.g. "avx2", "avx512f")."""
    import platform
    import re

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(rf"^flags\s*:.*\b{flag}\b", flags, re.MULTILINE) is not None
