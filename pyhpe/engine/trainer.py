"""The training loop: AdamW, warm-up + cosine (or step) schedule, clipping, AMP, EMA, DDP, checkpoints, logs.

``train(cfg)`` runs a validated config (pyhpe.engine.config) and returns a summary dict. The run
directory ``<output.dir>/<name>-<UTC time>/`` gets ``config.yaml``, ``log.csv`` (one row per
epoch), ``steps.csv`` (one row per step), ``metrics.json``, ``curves.png``,
``checkpoints/last.safetensors`` (full state, every epoch, atomic) and ``model.safetensors`` +
``model.json`` (the final weights as a pyhpe model file, EMA weights when EMA is on).

Interruptions (docs/training.md, "Interrupting and resuming"): Ctrl-C (SIGINT) stops at the next
step boundary, writes a checkpoint of that exact state and raises :class:`TrainingInterrupted`;
a second Ctrl-C stops at once without writing (the previous checkpoint stays). ``--resume``
continues from an epoch boundary or from inside an epoch (the sampler skips the steps already
done, the RNGs are restored after the epoch's loader starts), so an interrupted and resumed run
ends with the same bits as an uninterrupted one. Under DDP a lost peer process ends every rank
with a one-line ``ConnectionError``.
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import math
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from pyhpe.engine import checkpoint as ckpt
from pyhpe.engine import distributed as ddp
from pyhpe.engine.config import ConfigError, dump_config
from pyhpe.engine.data import Augmented, Transformed, open_samples
from pyhpe.engine.inference import predict_dataset
from pyhpe.engine.testhooks import pause_point
from pyhpe.tasks.base import to_device


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C (SIGINT). ``saved``: a checkpoint of the state at the step
    boundary ``step`` was written; otherwise (a second Ctrl-C, or one before training began) the
    run directory holds what the last checkpoint holds (``checkpoint``: its (epoch, step), or None
    when there is none). A KeyboardInterrupt, so ``except Exception`` does not swallow it."""

    def __init__(self, run_dir: Path | None, epoch: int, step: int, saved: bool,
                 checkpoint: tuple[int, int] | None, is_main: bool = True):
        super().__init__()
        self.run_dir, self.epoch, self.step, self.saved = run_dir, epoch, step, saved
        self.checkpoint, self.is_main = checkpoint, is_main

    def line(self, command: str = "pyhpe train") -> str:
        """The one line the command prints."""
        where = f"at epoch {self.epoch} step {self.step}" if self.epoch else "before training started"
        resume = f"resume with: pyhpe train --resume {self.run_dir}"
        if self.saved:
            return f"{command}: interrupted {where}; {resume}"
        if self.checkpoint is None:
            return f"{command}: interrupted {where}, before any checkpoint; nothing to resume"
        ep, st = self.checkpoint
        return (f"{command}: interrupted {where} without saving; the last checkpoint is from step {st} "
                f"(epoch {ep} done); {resume}")


class _Interrupts:
    """SIGINT while training: the first one only asks to stop at the next step boundary; a second
    one raises KeyboardInterrupt wherever the process is (a checkpoint write in progress removes
    its temporary file, so the previous checkpoint stays). Installed from the main thread only."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def install(self) -> None:
        if self._previous is None and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _worker_ignores_sigint(worker_id: int) -> None:
    """DataLoader worker init: Ctrl-C in a terminal reaches the workers too; the main process
    alone decides when to stop (a worker killed by it would break the epoch's batches)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _ResumableSampler(DistributedSampler):
    """A DistributedSampler that can start an epoch after its first ``start`` indices (a run
    resumed inside an epoch skips the batches it already trained on, without loading them)."""

    start = 0

    def __iter__(self):
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return self.num_samples - self.start


def _truncate_csv(path: Path, column: str, limit: float) -> None:
    """Keep the rows of ``path`` whose ``column`` is a number <= ``limit`` (a resumed run drops
    the rows that a killed run logged after its last checkpoint, and a half-written last row)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], list(reader)

    def keep(row: dict) -> bool:
        try:
            return float(row.get(column) or "nan") <= limit and None not in row
        except ValueError:
            return False

    kept = [r for r in rows if keep(r)]
    if len(kept) == len(rows):
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(kept)
    tmp.replace(path)


class _Terminated(Exception):
    """SIGTERM under torchrun: the launcher stops the surviving ranks when one has failed."""


def _raise_terminated(signum, frame) -> None:
    raise _Terminated("SIGTERM from torchrun: another process of the run failed or the run was cancelled")


def _lost_peer(err: BaseException, info, step: int, run_dir) -> ConnectionError:
    """The one-line error of a rank whose peers are gone (a collective failed, or torchrun
    terminated it)."""
    text = str(err).strip().splitlines()
    first = re.sub(r"^\[[^\]]*\]\s*", "", text[0] if text else type(err).__name__)  # gloo's [file:line]
    first = first.split(". ")[0][:200]
    return ConnectionError(f"rank {info.rank}: lost contact with the other processes after step {step} "
                           f"({first}); resume from the last checkpoint with: pyhpe train --resume {run_dir}")


def _is_collective_failure(err: BaseException) -> bool:
    """A failed gloo/NCCL collective: torch raises DistError, or a RuntimeError from the
    backend (DDP's gradient all-reduce) that names the closed connection or the timeout."""
    if isinstance(err, (torch.distributed.DistError, _Terminated)):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(w in text for w in ("gloo", "nccl", "connection", "timed out"))


class Callback:
    """A hook into :func:`train`; subclasses override what they need.

    ``schedule()`` may return a learning-rate factor function ``f(step)`` that replaces the
    config's warm-up + cosine (the first callback that returns one wins); ``on_step_end(step)``
    runs after every optimizer step and returns True to stop training like
    ``train.time_limit_s`` (single process only).
    """

    def schedule(self) -> Callable[[int], float] | None:
        return None

    def on_step_end(self, step: int) -> bool:
        return False


def training_step(task, net: torch.nn.Module, batch: dict, optimizer: torch.optim.Optimizer, *,
                  amp_dtype: torch.dtype | None = None, scaler=None, grad_clip: float = 0.0,
                  params=None) -> torch.Tensor:
    """One optimizer step on a batch already on the device: the task's forward (autocast with
    ``amp_dtype``) and loss, backward (through ``scaler`` when given), gradient clipping to
    ``grad_clip`` over ``params`` (when > 0), the step. Returns the loss (not detached)."""
    device_type = batch["image"].device.type
    with torch.autocast(device_type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
        out = task.forward(net, batch)
    loss = task.loss(out, batch)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return loss


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up from 1/warmup to 1 over ``warmup`` steps, then cosine from 1 to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def step_lr_factor(step: int, warmup: int, milestones: list[int], gamma: float) -> float:
    """Linear warm-up over ``warmup`` steps, then ``gamma`` to the number of ``milestones``
    (steps) passed: PyTorch's StepLR/MultiStepLR, as TRGv2 trains (×0.1 after epoch 20)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return gamma ** sum(step >= m for m in milestones)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on conv/linear weights only (not on biases, norms or other 1-D parameters)."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class EMA:
    """Exponential moving average of a model's state (float tensors averaged, others copied)."""

    def __init__(self, model: torch.nn.Module, decay: float, state: dict[str, torch.Tensor] | None = None):
        self.decay = decay
        src = state if state is not None else model.state_dict()
        self.state = {k: v.detach().clone() for k, v in src.items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            e = self.state[k]
            if v.dtype.is_floating_point:
                e.mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                e.copy_(v)

    def model_copy(self, model: torch.nn.Module) -> torch.nn.Module:
        m = copy.deepcopy(model)
        m.load_state_dict(self.state)
        return m


def build_model(mcfg: dict) -> torch.nn.Module:
    """The configured model; with ``pretrained``, its weights from any file pyhpe.models.load
    reads (official/ImageNet ``.pth``/``.tar``, pyhpe model files, training checkpoints)."""
    from pyhpe.models import create_model, load

    if mcfg["pretrained"] is None:
        return create_model(mcfg["name"], **mcfg["kwargs"])
    model, _ = load(mcfg["pretrained"], mcfg["name"], kwargs=mcfg["kwargs"])
    return model


def model_card(cfg: dict, task):
    """The card of the model a config trains: its task, name, kwargs, input size and test crop."""
    data = cfg["data"]
    return task.card(cfg["model"]["name"], cfg["model"]["kwargs"], int(data["input_size"]),
                     task.config_crop(data))


def make_run_dir(cfg: dict) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(cfg["output"]["dir"]) / f"{cfg['name']}-{stamp}"
    run, i = base, 1
    while run.exists():
        run, i = Path(f"{base}-{i}"), i + 1
    run.mkdir(parents=True)
    return run


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    fields = list(row)
    if not new:
        with path.open() as f:
            header = next(csv.reader(f), [])
        fields = header + [k for k in row if k not in header]
        if fields != header:  # a new column (e.g. first validation): rewrite with the wider header
            rows = _read_csv(path)
            with path.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        if new:
            w.writeheader()
        w.writerow(row)


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        conv = {}
        for k, v in r.items():
            try:
                conv[k] = float(v) if v not in ("", None) else None
            except ValueError:
                conv[k] = v
        out.append(conv)
    return out


def _amp(cfg: dict, device: torch.device) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    amp = cfg["train"]["amp"]
    if amp == "none":
        return None, None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError("train.amp=fp16 needs CUDA; use bf16 (or none) on the CPU")
        return torch.float16, torch.amp.GradScaler("cuda")
    return torch.bfloat16, None


def build_validation(cfg: dict, task, progress: bool, given: dict | None = None) -> list[tuple[str, object]]:
    """(name, dataset) of every validation source, through the task's test transform with the
    crop the model card will carry."""
    out = []
    given = given or {}
    card = model_card(cfg, task)
    for i, src in enumerate(cfg["data"]["val"]):
        name = src["name"] or f"{src['format']}{i if len(cfg['data']['val']) > 1 else ''}"
        samples = given[name] if name in given else open_samples(src, progress, task.needs_mesh)
        out.append((name, Transformed(samples, task.test_transform(card.crop, card.input_size, src),
                                      task.batch_keys)))
    return out


def train(cfg: dict, resume: str | None = None, stop_after: int | None = None,
          samples: dict | None = None, callbacks: Sequence[Callback] = (), task=None) -> dict:
    """Train per ``cfg``; ``resume`` is a run directory or checkpoint file to continue from;
    ``stop_after`` ends the run after that many completed epochs (to split a run). ``samples``
    optionally supplies datasets of raw Samples already in memory: ``{"train": ds, "val": {name: ds}}``
    (the demo renders once and reuses them); otherwise the config's sources are opened.

    ``task``: the pose task (pyhpe.tasks; default: the model's own). ``callbacks``: see
    :class:`Callback` (the demo's clock-driven schedule and stop, pyhpe.engine.budget)."""
    from tqdm import tqdm

    from pyhpe.models.io import save_model
    from pyhpe.tasks import task_of

    tcfg = cfg["train"]
    if tcfg["threads"]:
        torch.set_num_threads(int(tcfg["threads"]))
    info = ddp.setup(tcfg["device"])
    interrupts = _Interrupts()
    run_dir, epoch_now, step = None, 0, 0
    sigterm = None  # the SIGTERM handler this replaced, under DDP (main thread only)
    if info.enabled and threading.current_thread() is threading.main_thread():
        sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        if tcfg["batch_size"] % info.world_size:
            raise ConfigError(f"train.batch_size {tcfg['batch_size']} is not divisible by {info.world_size} processes")
        torch.manual_seed(tcfg["seed"])
        progress = bool(cfg["output"]["progress"]) and info.is_main

        resume_path = None
        if resume is not None:
            p = Path(resume)
            resume_path = p / "checkpoints" / "last.safetensors" if p.is_dir() else p
            if not resume_path.is_file():
                hint = " (the run stopped before its first checkpoint: start it again)" if p.is_dir() else ""
                raise ConfigError(f"--resume: no checkpoint at {resume_path}{hint}")
            run_dir = resume_path.parent.parent
            if info.is_main:  # what killed checkpoint writes left behind
                ckpt.remove_temp_files(resume_path.parent)
        else:
            run_dir = make_run_dir(cfg) if info.is_main else None
            if info.enabled:
                holder = [str(run_dir) if run_dir else None]
                torch.distributed.broadcast_object_list(holder, src=0)
                run_dir = Path(holder[0])
        if info.is_main:
            dump_config(cfg, run_dir / "config.yaml")

        # data
        mcfg = cfg["model"]
        task = task or task_of(mcfg["name"])
        train_src = cfg["data"]["train"]
        for where, src in [("data.train", train_src)] + [(f"data.val.{i}", v)
                                                          for i, v in enumerate(cfg["data"]["val"])]:
            task.check_source(src, where)
        samples = samples or {}
        base = (samples["train"] if "train" in samples
                else open_samples(train_src, progress, task.needs_mesh))
        train_set = Augmented(base, task.train_transform(cfg, train_src), tcfg["seed"], task.batch_keys)
        val_sets = build_validation(cfg, task, progress, samples.get("val")) if info.is_main else []
        per_rank = tcfg["batch_size"] // info.world_size
        if len(train_set) < tcfg["batch_size"]:
            raise ConfigError(f"training set has {len(train_set)} samples, fewer than one batch ({tcfg['batch_size']})")
        sampler = _ResumableSampler(train_set, num_replicas=info.world_size, rank=info.rank,
                                    shuffle=True, seed=tcfg["seed"], drop_last=True)
        workers = cfg["data"]["workers"]
        loader = DataLoader(train_set, batch_size=per_rank, sampler=sampler, drop_last=True,
                            num_workers=workers, pin_memory=info.device.type == "cuda",
                            persistent_workers=False, worker_init_fn=_worker_ignores_sigint if workers else None)
        steps_per_epoch = len(loader)
        if tcfg["max_steps_per_epoch"]:
            steps_per_epoch = min(steps_per_epoch, tcfg["max_steps_per_epoch"])
        total_steps = steps_per_epoch * tcfg["epochs"]
        warmup = round(tcfg["warmup_epochs"] * steps_per_epoch)

        # model, optimizer, schedule
        model = build_model(mcfg).to(info.device)
        layout = torch.channels_last if tcfg["channels_last"] else torch.contiguous_format
        model = model.to(memory_format=layout)
        net = ddp.wrap(model, info)
        optimizer = torch.optim.AdamW(param_groups(model, tcfg["weight_decay"]), lr=tcfg["lr"])
        min_ratio = tcfg["min_lr"] / tcfg["lr"]
        schedule = next((f for f in (cb.schedule() for cb in callbacks) if f is not None), None)
        if schedule is None and tcfg["schedule"] == "step":
            milestones = [e * steps_per_epoch for e in tcfg["lr_steps"]]
            schedule = lambda s: step_lr_factor(s, warmup, milestones, tcfg["lr_gamma"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, schedule or (lambda s: lr_factor(s, total_steps, warmup, min_ratio)))
        amp_dtype, scaler = _amp(cfg, info.device)
        ema = EMA(model, tcfg["ema"]) if tcfg["ema"] > 0 else None
        start_epoch, step = 0, 0
        position, rng_inside_epoch = None, None
        steps_log, epoch_log = run_dir / "steps.csv", run_dir / "log.csv"
        if resume_path is not None:
            meta, ema_state = ckpt.restore(resume_path, model=model, optimizer=optimizer,
                                           scheduler=scheduler, scaler=scaler)
            start_epoch, step = meta["epoch"], meta["step"]
            position = meta.get("position")
            if position:  # the loader of the resumed epoch draws its seed first, then these RNGs go on
                rng_inside_epoch = ckpt.rng_state()
            if ema is not None:
                ema = EMA(model, tcfg["ema"], ema_state)
            if info.is_main:  # rows a killed run logged after this checkpoint are done again
                _truncate_csv(steps_log, "step", step)
                _truncate_csv(epoch_log, "epoch", start_epoch)
        checkpoint_every = int(tcfg.get("checkpoint_every") or 0)

        def save(epochs_done: int, where: dict | None) -> None:
            ckpt.save_checkpoint(run_dir / "checkpoints" / "last.safetensors", model=model,
                                 optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                 ema=ema.state if ema is not None else None, epoch=epochs_done, step=step,
                                 extra={"name": cfg["name"], "model": mcfg["name"]}, position=where,
                                 rank=info.rank)

        t_start = time.perf_counter()
        stopped_early = False
        last_epoch = start_epoch
        interrupts.install()
        for epoch in range(start_epoch, tcfg["epochs"]):
            model.train()
            if tcfg["freeze_bn"]:
                for m in model.modules():
                    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                        m.eval()
            epoch_now = epoch + 1
            sampler.set_epoch(epoch)
            train_set.set_epoch(epoch)
            skip = int(position["epoch_step"]) if position else 0
            sampler.start = skip * per_rank
            loss_sum, n_img, t0 = torch.zeros((), dtype=torch.float64), 0, time.perf_counter()
            if position:
                loss_sum += float(position["loss_sum"])
                n_img = int(position["images"])
            bar = tqdm(total=steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{tcfg['epochs']}",
                       unit="step", disable=not progress, leave=False)
            batches = iter(loader)
            if rng_inside_epoch is not None:
                ckpt.set_rng_state(*rng_inside_epoch)
                rng_inside_epoch = None
            position = None
            for i, batch in enumerate(batches, start=skip):
                if i >= steps_per_epoch:
                    break
                t_step = time.perf_counter()
                batch = to_device(batch, info.device, layout)
                loss = training_step(task, net, batch, optimizer, amp_dtype=amp_dtype, scaler=scaler,
                                     grad_clip=tcfg["grad_clip"], params=model.parameters())
                pause_point("step", info.rank)
                lr = optimizer.param_groups[0]["lr"]
                scheduler.step()
                if ema is not None:
                    ema.update(model)
                step += 1
                flag = torch.tensor(float(interrupts.requested), dtype=torch.float64)
                reduced = ddp.all_reduce_mean(torch.stack([loss.detach().double(), flag]), info)
                loss_val, stop_now = float(reduced[0]), bool(reduced[1] > 0)
                if not math.isfinite(loss_val):  # every rank sees the reduced value: all stop
                    raise ConfigError(f"the training loss is {loss_val} at step {step} (epoch "
                                      f"{epoch + 1}); stopped before it reaches a checkpoint "
                                      "(lower train.lr, set train.grad_clip, or check the data)")
                loss_sum += loss_val * tcfg["batch_size"]
                n_img += tcfg["batch_size"]
                ips = tcfg["batch_size"] / max(1e-9, time.perf_counter() - t_step)
                if info.is_main:
                    _append_csv(steps_log, {"step": step, "epoch": epoch + 1, "loss": loss_val, "lr": lr,
                                            "images_per_s": ips})
                bar.set_postfix(loss=task.loss_text(loss_val), lr=f"{lr:.2e}", img_s=f"{ips:.0f}")
                bar.update()
                if any([cb.on_step_end(step) for cb in callbacks]):  # noqa: C419 — every callback sees every step
                    stopped_early = True
                    break
                if tcfg["time_limit_s"]:
                    over = torch.tensor(float(time.perf_counter() - t_start > tcfg["time_limit_s"]))
                    if ddp.all_reduce_mean(over, info).item() > 0:  # every rank stops at the same step
                        stopped_early = True
                        break
                inside = {"epoch_step": i + 1, "loss_sum": float(loss_sum), "images": n_img}
                if stop_now:  # Ctrl-C on some rank: every rank stops at this step boundary
                    bar.close()
                    if info.is_main:
                        save(epoch, inside)
                    ddp.barrier(info)
                    raise TrainingInterrupted(run_dir, epoch + 1, step, True, None, info.is_main)
                if checkpoint_every and step % checkpoint_every == 0 and i + 1 < steps_per_epoch:
                    if info.is_main:
                        save(epoch, inside)
                    ddp.barrier(info)
            bar.close()
            epoch_time = time.perf_counter() - t0
            last_epoch = epoch + 1
            row = {"epoch": last_epoch, "step": step, task.loss_label: task.loss_value(float(loss_sum) / max(1, n_img)),
                   "lr": optimizer.param_groups[0]["lr"], "images_per_s": n_img / max(1e-9, epoch_time),
                   "epoch_time_s": epoch_time}
            final = last_epoch == tcfg["epochs"] or stopped_early or (stop_after and last_epoch >= stop_after)
            if info.is_main and val_sets and (final or (tcfg["eval_every"] and last_epoch % tcfg["eval_every"] == 0)):
                eval_model = ema.model_copy(model) if ema is not None else model
                for name, ds in val_sets:
                    preds = predict_dataset(eval_model, ds, info.device, batch_size=max(1, per_rank),
                                            workers=workers, progress=progress, desc=f"val {name}", task=task)
                    row.update(task.flat_report(preds.report(), name))
            if info.is_main:
                _append_csv(epoch_log, row)
                save(last_epoch, None)
                msg = " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                tqdm.write(msg) if progress else None
            ddp.barrier(info)
            if final:
                break
            # Ctrl-C during validation or the epoch's checkpoint (on any rank): that checkpoint is it
            if ddp.all_reduce_mean(torch.tensor(float(interrupts.requested)), info).item() > 0:
                raise TrainingInterrupted(run_dir, last_epoch, step, True, None, info.is_main)

        summary: dict = {"run_dir": str(run_dir), "epochs_done": last_epoch, "steps": step,
                         "stopped_early": stopped_early, "world_size": info.world_size,
                         "train_time_s": time.perf_counter() - t_start}
        if info.is_main:
            final_model = ema.model_copy(model) if ema is not None else model
            save_model(final_model, run_dir / "model.safetensors", model_card(cfg, task),
                       extra={"run": run_dir.name, "epochs": last_epoch, "ema": ema is not None})
            epochs = _read_csv(epoch_log)
            summary["history"] = epochs
            summary["final"] = epochs[-1] if epochs else {}
            (run_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
            from pyhpe.engine.plots import training_curves

            training_curves(_read_csv(steps_log), epochs, run_dir / "curves.png")
        return summary
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the loop: nothing new saved
        last = run_dir / "checkpoints" / "last.safetensors" if run_dir is not None else None
        raise TrainingInterrupted(run_dir, epoch_now, step, False, ckpt.read_position(last) if last else None,
                                  info.is_main) from None
    except (RuntimeError, _Terminated) as err:
        if not (info.enabled and _is_collective_failure(err)):
            raise
        if sigterm is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # torchrun's SIGTERM: we are on our way out
            sigterm = None
        raise _lost_peer(err, info, step, run_dir) from err
    finally:
        interrupts.restore()
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)
        ddp.cleanup()
