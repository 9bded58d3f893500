"""Training against a wall-clock budget on a shared CPU: a clock-driven learning-rate schedule and
a thread-count governor (used by ``pyhpe demo`` through ``trainer.train(callbacks=[BudgetHook(...)])``).

Why: the demo must finish its cosine schedule inside a fixed time. A step-count schedule set from
a short calibration ends too early or is cut off when the machine's speed changes (other jobs);
:class:`TimeBudget` instead sets the learning rate from the fraction of the budget used, so the
schedule always ends at the budget whatever the speed. On a 2-core machine shared with other
jobs, two OpenMP threads slow down several-fold as soon as another process occupies a core (the
waiting thread spins while its partner is descheduled), while one thread only loses its share;
:class:`ThreadGovernor` watches the step time and moves between 1 and ``max_threads`` threads.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch

from pyhpe.engine.trainer import Callback


class TimeBudget:
    """Learning-rate factor: linear warm-up over ``warmup_steps`` steps, then cosine decay from 1
    to ``min_ratio`` over the elapsed fraction of ``seconds``; :meth:`done` once the budget is
    spent. The clock starts at the first call of :meth:`lr_factor` (the trainer's scheduler makes
    it just before the first step) or :meth:`start`.

    ``warmup_fraction`` > 0 warms up over that share of the time instead (models of very different
    step times under one budget, ``pyhpe compare``: a step count would be most of a slow model's
    run and a blink of a fast one's); the cosine then runs over the rest of the budget."""

    def __init__(self, seconds: float, warmup_steps: int, min_ratio: float,
                 clock: Callable[[], float] = time.perf_counter, warmup_fraction: float = 0.0):
        if seconds <= 0 or warmup_steps < 0 or not 0 <= min_ratio <= 1 or not 0 <= warmup_fraction < 1:
            raise ValueError("seconds must be > 0, warmup_steps >= 0, min_ratio in [0, 1] and "
                             "warmup_fraction in [0, 1)")
        self.seconds, self.warmup_steps, self.min_ratio, self.clock = seconds, warmup_steps, min_ratio, clock
        self.warmup_fraction = warmup_fraction
        self.t0: float | None = None

    def start(self) -> None:
        if self.t0 is None:
            self.t0 = self.clock()

    def elapsed(self) -> float:
        self.start()
        return self.clock() - self.t0

    def fraction(self) -> float:
        """Share of the budget used, in [0, 1]."""
        return min(1.0, self.elapsed() / self.seconds)

    def lr_factor(self, step: int) -> float:
        """The factor for ``step`` (0-based), as ``torch.optim.lr_scheduler.LambdaLR`` asks for it."""
        progress = self.fraction()
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.warmup_fraction:
            if progress < self.warmup_fraction:
                return max(progress / self.warmup_fraction, 1.0 / 64)  # never exactly 0 at the start
            progress = (progress - self.warmup_fraction) / (1 - self.warmup_fraction)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def done(self) -> bool:
        return self.elapsed() >= self.seconds


class ThreadGovernor:
    """Keeps the faster of 1 and ``max_threads`` torch threads while training runs.

    Fed the wall time of every step (:meth:`observe`). With ``max_threads`` threads, when the
    median of the last ``window`` steps is slower than ``slack`` × the last known 1-thread step time,
    it drops to 1 thread. With 1 thread, every ``probe_every`` steps it tries ``max_threads`` for
    ``probe_steps`` steps (cut short by a step slower than 2× the 1-thread median) and keeps them if
    their median beats ``gain`` × the 1-thread median. Each change is logged in :attr:`events`.
    """

    def __init__(self, max_threads: int, threads: int, seconds_per_step: dict[int, float],
                 window: int = 20, slack: float = 1.1, gain: float = 0.9, probe_every: int = 300,
                 probe_steps: int = 5, set_threads: Callable[[int], None] = torch.set_num_threads):
        self.max_threads, self.threads = max_threads, threads
        self.ref = dict(seconds_per_step)  # latest typical step time per thread count
        self.window, self.slack, self.gain = window, slack, gain
        self.probe_every, self.probe_steps = probe_every, probe_steps
        self.set_threads = set_threads
        self.times: list[float] = []
        self.probe: list[float] | None = None
        self.steps_since_probe = 0
        self.step = 0
        self.events: list[dict] = []
        self.steps_with: dict[int, int] = {}

    def _switch(self, threads: int, why: str) -> None:
        self.events.append({"step": self.step, "threads": threads, "why": why})
        self.threads = threads
        self.set_threads(threads)
        self.times = []

    def count(self) -> None:
        """Count a step whose time is unknown (the first one)."""
        self.step += 1
        self.steps_with[self.threads] = self.steps_with.get(self.threads, 0) + 1

    def observe(self, seconds: float) -> None:
        """Record one step's wall time and adjust the thread count."""
        self.count()
        if self.max_threads <= 1:
            return
        if self.probe is not None:
            self._observe_probe(seconds)
            return
        self.times.append(seconds)
        self.times = self.times[-self.window:]
        typical = statistics.median(self.times)
        if len(self.times) >= min(5, self.window):
            self.ref[self.threads] = typical
        one = self.ref.get(1)
        if self.threads > 1:
            if len(self.times) >= self.window and one is not None and typical > self.slack * one:
                self._switch(1, f"{self.threads} threads {typical:.3f} s/step > {self.slack} x 1 thread {one:.3f}")
            return
        self.steps_since_probe += 1
        if self.steps_since_probe >= self.probe_every and len(self.times) >= min(5, self.window):
            self.steps_since_probe = 0
            self.probe = []
            self.threads = self.max_threads
            self.set_threads(self.max_threads)

    def _observe_probe(self, seconds: float) -> None:
        one = self.ref[1]
        self.probe.append(seconds)
        # the first probe step pays for waking the thread pool; judge on the rest
        judged = self.probe[1:] if len(self.probe) > 1 else self.probe
        if seconds > 2 * one or len(self.probe) >= self.probe_steps:
            typical = statistics.median(judged)
            keep = len(self.probe) >= self.probe_steps and typical < self.gain * one
            self.probe = None
            if keep:
                self.ref[self.max_threads] = typical
                self._switch(self.max_threads, f"probe: {typical:.3f} s/step < {self.gain} x 1 thread {one:.3f}")
            else:
                self.threads = 1
                self.set_threads(1)

    def summary(self) -> dict:
        return {"final_threads": self.threads, "steps_with": {str(k): v for k, v in self.steps_with.items()},
                "events": self.events}


class BudgetHook(Callback):
    """A trainer callback: the budget's clock-driven learning-rate schedule; after each step it
    times the step (wall clock between calls, data loading included) for the governor and stops
    once the budget is spent."""

    def __init__(self, budget: TimeBudget, governor: ThreadGovernor | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.budget, self.governor, self.clock = budget, governor, clock
        self.last: float | None = None

    def schedule(self) -> Callable[[int], float]:
        return self.budget.lr_factor

    def on_step_end(self, step: int) -> bool:
        return self(step)

    def __call__(self, step: int) -> bool:
        now = self.clock()
        if self.governor is not None:
            self.governor.observe(now - self.last) if self.last is not None else self.governor.count()
        self.last = now
        return self.budget.done()
