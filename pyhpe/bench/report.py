"""What the run directories of ``pyhpe bench`` suites share: the default folder, the machine line of
table.md (CPU model, cores, load average before and after) and a grouped bar chart of a table's
main numbers (the plot PNG of suites without a plot of their own)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def run_dir(out: str | os.PathLike | None, suite: str) -> Path:
    """``out`` (created), or runs/bench-SUITE-TIME when it is not given."""
    path = Path(out) if out else Path("runs") / time.strftime(f"bench-{suite}-%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> dict:
    """This machine now: CPU model, core count and the 1-minute load average."""
    from pyhpe.models.stats import cpu_model

    return {"cpu": cpu_model() or platform.machine(), "cpu_count": os.cpu_count(),
            "load_before": os.getloadavg()[0]}


def machine_line(env: dict) -> str:
    """``CPU: <model> (<n> cores); load average <before> → <after>`` from :func:`machine`'s dict
    (``load_after`` set by the caller at the end of the run; a partial run has none yet)."""
    after = env.get("load_after")
    load = f"{env['load_before']:.2f} → {after:.2f}" if after is not None else f"{env['load_before']:.2f} at the start"
    return f"CPU: {env['cpu']} ({env['cpu_count']} cores); load average {load}"


def bar_chart(groups: dict[str, dict[str, float]], path: str | os.PathLike, *, title: str,
              ylabel: str, log: bool = False) -> Path:
    """Grouped bars: one group per key of ``groups``, one bar per series inside it."""
    import numpy as np

    from pyhpe.engine.plots import _plt, _save

    plt = _plt()
    series = list(dict.fromkeys(s for bars in groups.values() for s in bars))
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) * max(1, len(series)) ** 0.5 + 2), 4))
    for i, name in enumerate(series):
        values = [bars.get(name, np.nan) for bars in groups.values()]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, list(groups), rotation=30 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center",
                  fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend(fontsize=7)
    return _save(plt, fig, title, path)
