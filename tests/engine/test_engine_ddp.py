"""DDP: 2 CPU processes (torchrun, gloo) match single-process training with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from support import PYHPE, run_command

ARGS = [
    "--config", "configs/synthetic.yaml",
    "model.name=sixdrepnet_repnext_m0", "data.train.n=16", "data.train.render_size=64", "data.val=[]",
    "data.input_size=64", "data.workers=0", "train.batch_size=8", "train.epochs=1", "train.lr=1e-3",
    "train.warmup_epochs=0", "train.threads=1", "train.freeze_bn=true", "output.progress=false",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], out: Path) -> Path:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = run_command([*cmd, *ARGS, f"output.dir={out}"], timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_two_gloo_processes_match_single_process(tmp_path):
    single = _run([*PYHPE, "train"], tmp_path / "single")
    port = _free_port()
    multi = _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                  "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "pyhpe", "train"],
                 tmp_path / "ddp")
    a, b = load_file(single / "model.safetensors"), load_file(multi / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].double(), b[k].double(), atol=2e-5, rtol=1e-4), k
    init = load_file(single / "checkpoints" / "last.safetensors")
    assert init["optim.0.step"].item() == 2  # 16 images / global batch 8
    m = json.loads((multi / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["steps"] == 2
    # and training moved the weights (the comparison is not between two untouched inits)
    from pyhpe.models import create_model

    torch.manual_seed(0)
    init_state = create_model("sixdrepnet_repnext_m0").state_dict()
    assert max((a[k] - init_state[k]).abs().max().item() for k in a if a[k].is_floating_point()) > 1e-4
