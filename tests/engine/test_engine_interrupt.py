"""Interrupted training resumes to the same bits: SIGKILL inside a step and inside a checkpoint
write, Ctrl-C (once: a checkpoint at the step boundary; twice: nothing written, the previous one
kept), a killed DDP worker (rank 0 fails fast with one line), a full disk (one line, status 1,
the previous checkpoint intact).

The kills land at exact places through the test-only pause points of pyhpe.engine.testhooks
(``PYHPE_TEST_PAUSE``): the process waits at the named point until the test has sent its signal
and released it. Each run is tiny (RepNeXt-M0 at 64 px, 2 steps per epoch, 3 epochs); the runs
that are interrupted are `pyhpe train` subprocesses, the last resume of each case runs in this
process (the same command through pyhpe.cli.main, bit for bit the same as a subprocess)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from support import PYHPE, start_command

from pyhpe.engine import checkpoint as ckpt

TINY = [
    "model.name=sixdrepnet_repnext_m0", "data.train.n=8", "data.train.render_size=64", "data.val=[]",
    "data.input_size=64", "data.workers=0", "train.batch_size=4", "train.epochs=3", "train.lr=1e-3",
    "train.warmup_epochs=0.5", "train.threads=1", "train.ema=0.9", "augment.jitter=0.2",
    "augment.noise=2.0", "output.progress=false",
]
CONFIG = "configs/synthetic.yaml"


def _env(pause: str | None, pause_dir: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYHPE_TEST_PAUSE_DIR": str(pause_dir)}
    env.pop("PYHPE_TEST_PAUSE", None)
    if pause:
        env["PYHPE_TEST_PAUSE"] = pause
    return env


def _train(args: list, pause: str | None, pause_dir: Path, prefix=PYHPE):
    pause_dir.mkdir(parents=True, exist_ok=True)
    return start_command([*prefix, "train", *args], env=_env(pause, pause_dir))


def _wait_for(marker: Path, proc, timeout: float = 120) -> int:
    """The pid a pause point wrote into ``marker`` once the process reached it."""
    end = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"exited with {proc.returncode} before reaching {marker.name}:\n{err[-3000:]}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"{marker.name} not reached in {timeout} s")
        time.sleep(0.02)
    return int(marker.read_text())


def _finish(proc, timeout: float = 120) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def _resume_here(run: Path) -> int:
    """``pyhpe train --resume RUN`` in this process (no interpreter start: the tests stay short)."""
    from pyhpe.cli import main

    before = torch.get_num_threads()
    try:
        return main(["train", "--resume", str(run)])
    finally:
        torch.set_num_threads(before)


def _run_dir(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def _last(run: Path) -> Path:
    return run / "checkpoints" / "last.safetensors"


def _temps(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob(".tmp-*"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same config trained straight through (in this process)."""
    from pyhpe.engine.config import load_config
    from pyhpe.engine.trainer import train

    out = tmp_path_factory.mktemp("straight")
    before = torch.get_num_threads()
    try:
        summary = train(load_config(CONFIG, [*TINY, f"output.dir={out}"]))
    finally:
        torch.set_num_threads(before)
    assert summary["steps"] == 6
    return Path(summary["run_dir"])


def _assert_same_bits(run: Path, ref: Path) -> None:
    """model.safetensors and the last checkpoint (weights, EMA, AdamW moments, step counts, torch
    RNG) equal bit for bit; the checkpoints' epoch, step, schedule and optimizer groups equal."""
    for name in ("model.safetensors", "checkpoints/last.safetensors"):
        a, b = load_file(run / name), load_file(ref / name)
        assert a.keys() == b.keys(), name
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}: {k}"
    (_, ma), (_, mb) = ckpt.read_checkpoint(_last(run)), ckpt.read_checkpoint(_last(ref))
    for key in ("epoch", "step", "optimizer", "scheduler", "position"):
        assert ma[key] == mb[key], key


def test_sigkill_in_a_step_and_in_a_checkpoint_write_resumes_bit_identical(tmp_path, uninterrupted):
    out, pauses = tmp_path / "runs", tmp_path / "pause"
    args = ["--config", CONFIG, *TINY, f"output.dir={out}"]

    # killed inside step 4 (epoch 2): the optimizer has stepped, nothing after it has run
    proc = _train(args, "step:4", pauses)
    os.kill(_wait_for(pauses / "step-4.rank0", proc), signal.SIGKILL)
    assert _finish(proc)[0] == -signal.SIGKILL
    run = _run_dir(out)
    assert ckpt.read_position(_last(run)) == (1, 2)  # epoch 1's checkpoint
    assert not (run / "model.safetensors").exists()

    # resumed, then killed half way through writing epoch 2's checkpoint
    proc = _train(["--resume", run], "checkpoint:1", pauses)
    os.kill(_wait_for(pauses / "checkpoint-1.rank0", proc), signal.SIGKILL)
    assert _finish(proc)[0] == -signal.SIGKILL
    (tmp,) = _temps(run)
    assert 0 < tmp.stat().st_size < _last(run).stat().st_size  # a half-written file
    assert ckpt.read_position(_last(run)) == (1, 2)  # the previous checkpoint is untouched

    # resumed again (here): finishes, ignores and removes the half-written file
    assert _resume_here(run) == 0
    assert not _temps(run)
    _assert_same_bits(run, uninterrupted)
    steps = (run / "steps.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in steps[1:]] == [1, 2, 3, 4, 5, 6]  # no step logged twice


def test_ctrl_c_saves_at_the_step_boundary_and_a_second_one_keeps_the_last_checkpoint(tmp_path, uninterrupted):
    out, pauses = tmp_path / "runs", tmp_path / "pause"
    args = ["--config", CONFIG, *TINY, f"output.dir={out}"]

    # Ctrl-C inside step 3 (the first of epoch 2): the step completes, its state is saved, status 130
    proc = _train(args, "step:3", pauses)
    marker = pauses / "step-3.rank0"
    os.kill(_wait_for(marker, proc), signal.SIGINT)
    marker.unlink()
    rc, err = _finish(proc)
    run = _run_dir(out)
    assert rc == 130, err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"pyhpe train: interrupted at epoch 2 step 3; resume with: pyhpe train --resume {run}"
    assert ckpt.read_position(_last(run)) == (1, 3)  # inside epoch 2, after its first step
    assert ckpt.read_checkpoint(_last(run))[1]["position"]["epoch_step"] == 1

    # resumed inside epoch 2; Ctrl-C in step 5, then again while that state is being written:
    # nothing new is saved, the checkpoint of epoch 2 (step 4) stays whole
    proc = _train(["--resume", run], "step:2,checkpoint:2", pauses)
    marker = pauses / "step-2.rank0"
    os.kill(_wait_for(marker, proc), signal.SIGINT)
    marker.unlink()
    marker = pauses / "checkpoint-2.rank0"
    os.kill(_wait_for(marker, proc), signal.SIGINT)
    marker.unlink()
    rc, err = _finish(proc)
    assert rc == 130, err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "pyhpe train: interrupted at epoch 3 step 5 without saving; the last checkpoint is from step 4 "
        f"(epoch 2 done); resume with: pyhpe train --resume {run}")
    assert ckpt.read_position(_last(run)) == (2, 4) and not _temps(run)

    assert _resume_here(run) == 0
    _assert_same_bits(run, uninterrupted)


def test_disk_full_while_writing_a_checkpoint_is_one_line_and_keeps_the_previous(tmp_path, monkeypatch, capsys):
    import errno

    from pyhpe.cli import main

    writes = {"n": 0}
    real_write_file = ckpt._write_file

    def counting_write_file(fd, data, rank):
        writes["n"] += 1
        if writes["n"] == 2:  # epoch 2's checkpoint: the disk fills after the first chunk
            os.write(fd, memoryview(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_file(fd, data, rank)

    monkeypatch.setattr(ckpt, "_write_file", counting_write_file)
    before = torch.get_num_threads()
    try:
        rc = main(["train", "--config", CONFIG, *TINY, "train.epochs=2", f"output.dir={tmp_path}"])
    finally:
        torch.set_num_threads(before)
    err = capsys.readouterr().err
    run = _run_dir(tmp_path)
    last = _last(run)
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("pyhpe train")]
    assert lines == [f"pyhpe train: error: cannot write checkpoint {last}: No space left on device"]
    assert "Traceback" not in err
    assert not _temps(run)
    tensors, meta = ckpt.read_checkpoint(last)  # epoch 1's checkpoint, whole
    assert (meta["epoch"], meta["step"]) == (1, 2) and tensors["optim.0.step"].item() == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_killed_ddp_worker_stops_the_run_fast_and_it_resumes(tmp_path):
    out, pauses = tmp_path / "runs", tmp_path / "pause"
    args = ["--config", CONFIG, *TINY, "data.train.n=16", "train.batch_size=8", "train.freeze_bn=true",
            f"output.dir={out}"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), "-m", "pyhpe"]
    proc = _train(args, "step:3@1", pauses, prefix=torchrun)
    pid = _wait_for(pauses / "step-3.rank1", proc, timeout=180)
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    rc, err = _finish(proc, timeout=90)
    elapsed = time.monotonic() - t_kill
    run = _run_dir(out)
    assert rc != 0 and elapsed < 60, (rc, elapsed)
    ours = [ln for ln in err.splitlines() if ln.startswith("pyhpe train")]
    assert len(ours) == 1 and ours[0].startswith("pyhpe train: error: rank 0: lost contact"), err[-3000:]
    # the reason is gloo's ("Connection closed/reset by peer") or torchrun's SIGTERM, whichever came first
    assert ours[0].endswith(f"resume from the last checkpoint with: pyhpe train --resume {run}"), ours[0]
    assert ckpt.read_position(_last(run)) == (1, 2)

    # resumed in one process (here; the global batch stays 8)
    assert _resume_here(run) == 0
    assert ckpt.read_position(_last(run)) == (3, 6) and (run / "model.safetensors").is_file()


def test_checkpoint_every_n_steps_resumes_a_crash_inside_an_epoch_exactly(tmp_path, monkeypatch, uninterrupted):
    """train.checkpoint_every: a crash inside epoch 2 (an exception at step 4's pause point, in this
    process) loses only the steps after the last periodic checkpoint (step 3, inside epoch 2), and
    the resumed run ends with the uninterrupted run's bits."""
    from pyhpe.engine import trainer
    from pyhpe.engine.config import load_config

    def crash_at_step_4(name, rank=0):
        crash_at_step_4.n += 1
        if crash_at_step_4.n == 4:
            raise RuntimeError("crash inside step 4")

    crash_at_step_4.n = 0
    cfg = load_config(CONFIG, [*TINY, f"output.dir={tmp_path}", "train.checkpoint_every=1"])
    monkeypatch.setattr(trainer, "pause_point", crash_at_step_4)
    before = torch.get_num_threads()
    try:
        with pytest.raises(RuntimeError, match="crash inside step 4"):
            trainer.train(cfg)
        run = _run_dir(tmp_path)
        assert ckpt.read_position(_last(run)) == (1, 3)
        assert ckpt.read_checkpoint(_last(run))[1]["position"]["epoch_step"] == 1
        monkeypatch.undo()
        summary = trainer.train(cfg, resume=str(run))
    finally:
        torch.set_num_threads(before)
    assert summary["steps"] == 6
    _assert_same_bits(run, uninterrupted)
