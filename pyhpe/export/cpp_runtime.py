"""Running an ncnn model through the C++ runtime's ``pyhpe-infer`` (csrc/runtime), for checks the
ncnn Python package cannot do: models with pyhpe's custom layers (``.fused.ncnn.param``).

``pyhpe-infer`` is found through ``$PYHPE_INFER``, then ``PATH``, then the source tree's
``build/runtime-host/pyhpe-infer`` (csrc/runtime's CMakeLists.txt says how to build it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

_SOURCE_BUILD = Path(__file__).resolve().parents[2] / "build" / "runtime-host" / "pyhpe-infer"


def find_pyhpe_infer() -> Path | None:
    """The pyhpe-infer executable, or None when it is not built."""
    env = os.environ.get("PYHPE_INFER")
    if env:
        return Path(env) if Path(env).is_file() else None
    found = shutil.which("pyhpe-infer")
    if found:
        return Path(found)
    return _SOURCE_BUILD if _SOURCE_BUILD.is_file() else None


class CppRuntime:
    """``run(x)`` for :func:`pyhpe.export.verify.verify`: each (3, S, S) sample of ``x`` through
    ``pyhpe-infer --tensor``; returns the graph's raw output by name, like the Python backends
    (the C runtime runs the rotation task's graphs: ``output`` is its deploy kind).

    ``pyhpe-infer`` reads the model's options from the export sidecar beside ``param``
    (``<stem>.ncnn.json``) when there is one; ``sidecar`` names another file (``--sidecar``).
    The input size and output kind are passed explicitly (they override the sidecar's), and so is
    ``precision`` (default "fp32": an export is verified in fp32 whatever precision its sidecar
    records; "fp16"/"bf16" run the runtime's low-precision paths, docs/deployment.md)."""

    TASK = "sixd_rotation"  # the task whose poses pyhpe_pose holds

    def __init__(self, param: str | os.PathLike, output: str | None = None, threads: int = 1,
                 exe: str | os.PathLike | None = None, prefix: list[str] | None = None,
                 sidecar: str | os.PathLike | None = None, precision: str = "fp32"):
        from pyhpe.tasks import get_task

        if precision not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be 'fp32', 'fp16' or 'bf16', got {precision!r}")
        self.precision = precision
        task = get_task(self.TASK)
        self.param = Path(param)
        self.output = output or task.default_deploy
        ((self.name, self.shape),) = task.deploy_outputs(self.output)
        self.threads = threads
        self.sidecar = Path(sidecar) if sidecar is not None else None
        self.exe = Path(exe) if exe else find_pyhpe_infer()
        if self.exe is None:
            raise FileNotFoundError("pyhpe-infer (the C++ runtime) is not built: see csrc/runtime/CMakeLists.txt, "
                                    "or set PYHPE_INFER")
        self.prefix = list(prefix or [])

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        x = np.asarray(x, dtype=np.float32)
        outs = []
        with tempfile.TemporaryDirectory(prefix="pyhpe-cpp-") as tmp:
            for i, sample in enumerate(x):
                path = Path(tmp) / f"x{i}.f32"
                np.ascontiguousarray(sample).tofile(path)
                cmd = [*self.prefix, str(self.exe), str(self.param), "--tensor", str(path), "--input-size",
                       str(x.shape[-1]), "--threads", str(self.threads), f"--{self.precision}"]
                if self.name == "R":  # a graph that outputs the matrix
                    cmd.append("--matrix")
                if self.sidecar is not None:
                    cmd += ["--sidecar", str(self.sidecar)]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
                if proc.returncode != 0:
                    raise RuntimeError(f"pyhpe-infer failed (exit {proc.returncode}) on {self.param.name}: "
                                       f"{proc.stderr.strip()}")
                pose = json.loads(proc.stdout.strip().splitlines()[-1])  # pyhpe_pose: sixd, R, euler_deg
                outs.append(pose[self.name])
        return {self.name: np.asarray(outs, dtype=np.float32).reshape(len(x), *self.shape)}
