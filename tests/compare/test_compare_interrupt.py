"""Ctrl-C during ``pyhpe compare``: one line, exit status 130; the same command again resumes
(the finished (model, seed) is reused, the interrupted one trains again). The signal lands in the
second run's first training step through the test-only pause points (pyhpe.engine.testhooks)."""

from __future__ import annotations

import json
import os
import signal
import time

from support import PYHPE, REPO_ROOT, start_command

# equal epochs (a deterministic number of steps): 2 steps per seed
TINY = ["models=[repnext_m0]", "seeds=[0,1]", "budget.kind=epochs", "train.epochs=1", "data.train.n=32",
        "data.train.render_size=64", "data.val.0.n=8", "data.val.0.render_size=64", "train.batch_size=16",
        "train.threads=1", "hypothesis.model=repnext_m0", "hypothesis.baseline=repnext_m0"]


def test_ctrl_c_during_compare_is_one_line_and_a_rerun_resumes(tmp_path):
    out, pauses = tmp_path / "cmp", tmp_path / "pause"
    pauses.mkdir()
    cmd = [*PYHPE, "compare", "--config", "configs/compare_synthetic.yaml", "--out", out, "--no-progress",
           "--skip-latency", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYHPE_TEST_PAUSE_DIR": str(pauses)}
    proc = start_command(cmd, env={**env, "PYHPE_TEST_PAUSE": "step:3"}, cwd=REPO_ROOT)
    marker = pauses / "step-3.rank0"
    end = time.monotonic() + 180
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < end, "the pause point was not reached"
        time.sleep(0.02)
    os.kill(int(marker.read_text()), signal.SIGINT)
    marker.unlink()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (f"pyhpe compare: interrupted; the finished stages are stored in "
                                               f"{out}; run the same command again to resume")
    folder = out / "models" / "sixdrepnet_repnext_m0"
    assert (folder / "seed0.json").is_file() and not (folder / "seed1.json").exists()
    assert not list(folder.glob("failed-*"))  # an interruption is not a failed model

    proc = start_command(cmd, env=env, cwd=REPO_ROOT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert "seed 0: training" not in stdout and "seed 1: training" in stdout
    runs = json.loads((out / "results.json").read_text())["models"]["sixdrepnet_repnext_m0"]["runs"]
    assert sorted(runs) == ["0", "1"] and all(r["train"]["steps"] == 2 for r in runs.values())
