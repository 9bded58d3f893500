"""Datasets for the engine: config sources → Sample datasets → augmented tensors.

Augmentation is deterministic per (seed, epoch, index): each item gets its own seeded pipeline, so
the images a step sees do not depend on the number of DataLoader workers, the DDP rank layout or
whether the run was resumed. That is what makes ``--resume`` and the DDP test exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from pyhpe.data.sample import Sample
from pyhpe.engine.config import ConfigError
from pyhpe.engine.errors import Skips


def _slim(sample: Sample) -> Sample:
    """Drop what 3DoF training never reads (mesh, masks) so cached samples stay small and flips cheap;
    a rendered image keeps its ``factors`` (a few numbers: what made it hard, for robustness slices)."""
    extra = {"factors": sample.extra["factors"]} if "factors" in sample.extra else {}
    return dataclasses.replace(sample, vertices=None, faces=None, extra=extra)


class SampleList(Dataset):
    """Samples held in memory (a rendered synthetic set)."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]


def render_synthetic(n: int, seed: int, size: int, progress: bool = True, desc: str = "render",
                     keep_mesh: bool = False, depth: tuple[float, float] | None = None,
                     synth: dict | None = None) -> SampleList:
    """Render ``n`` synthetic heads of stream ``seed`` at ``size`` px into memory.

    ``keep_mesh``: keep the dense vertices (6DoF tasks); ``depth``: the stream's (near, far) head
    distance in metres; ``synth``: other SynthConfig fields of the stream (e.g. ``yaw: [-60, 60]``)."""
    from tqdm import tqdm

    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    fields = dict(synth or {})
    if depth is not None:
        fields["depth"] = tuple(depth)
    try:
        config = SynthConfig(size=size, **fields)
    except TypeError as err:
        raise ConfigError(f"synthetic source: unknown renderer setting ({err})") from err
    except ValueError as err:
        raise ConfigError(f"synthetic source: {err}") from err
    ds = SyntheticHeads(n=n, seed=seed, config=config)
    it = tqdm(range(n), desc=desc, unit="img", disable=not progress, leave=False)
    keep = (lambda s: dataclasses.replace(s, faces=None, extra={})) if keep_mesh else _slim
    return SampleList([keep(ds[i]) for i in it])


class Subset(Dataset):
    """Items ``indices`` of ``base``."""

    def __init__(self, base: Dataset, indices: list[int]):
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.base[self.indices[index]]


def open_samples(src: dict, progress: bool = True, keep_mesh: bool = False,
                 skips: Skips | None = None) -> Dataset:
    """A dataset of raw Samples for a config source (see pyhpe.engine.config.SOURCE_DEFAULTS);
    ``keep_mesh``: keep dense vertices of rendered samples (a task's ``needs_mesh``). With
    ``skips`` (a command's bad-item reporter), every file is read once first and the unreadable
    samples are reported and left out (evaluation must not score a substitute in their place)."""
    from pyhpe.metrics import within_99

    good: list[int] | None = None  # the readable items, when bad ones are skipped
    if src["format"] == "synthetic":
        ds: Dataset = render_synthetic(src["n"], src["seed"], src["render_size"], progress,
                                       desc=f"render {src.get('name') or 'synthetic'}",
                                       keep_mesh=keep_mesh, depth=src.get("depth"),
                                       synth=src.get("synth"))
    else:
        path = Path(str(src["path"]))
        if not path.exists():
            raise ConfigError(f"data path not found: {path}")
        if src["format"] == "biwi-npz":
            from pyhpe.data.biwi import BIWINpz

            ds = BIWINpz(path, keep_bgr=bool(src["keep_bgr"]))
        else:
            from pyhpe.data.sources import open_source

            skip = skips is not None and not skips.strict
            ds = open_source(path, src["format"], split=src.get("split"), skip_bad=skip)
            if skip:
                ds.report_bad(skips)
                ds.scan(progress)
                good = ds.good_indices()
                ds.skip_bad = False  # the bad ones are left out below; one going bad now is an error
    n = len(ds)
    indices = list(range(n)) if good is None else good
    if not indices:
        raise ConfigError(f"data source {src.get('name') or src['format']} has no "
                          + ("readable samples" if n else "samples"))
    frac = src.get("split_fraction")
    if frac is not None:
        m = len(indices)
        indices = indices[round(frac[0] * m):round(frac[1] * m)]
    if src.get("filter99"):
        euler = _labels(ds, indices)
        keep = within_99(euler).tolist()
        indices = [i for i, k in zip(indices, keep) if k]
    if not indices:
        raise ConfigError(f"data source {src.get('name') or src['format']} has no samples")
    return ds if len(indices) == n else Subset(ds, indices)


def _labels(ds: Dataset, indices: list[int]) -> np.ndarray:
    """(N, 3) Euler labels of ``indices``; reads label arrays directly where a loader has them."""
    poses = getattr(ds, "poses", None)
    if poses is not None:  # BIWI npz: FSA (yaw, pitch, roll)
        from pyhpe.data.biwi import euler_from_fsa_label

        return np.stack([euler_from_fsa_label(poses[i]) for i in indices])
    return np.stack([np.asarray(ds[i].euler, dtype=np.float64) for i in indices])


class Augmented(Dataset):
    """``base`` Samples through ``make(seed)`` pipelines; item i of epoch e uses seed (seed, e, i).
    Items keep ``keys`` (a task's batch keys)."""

    def __init__(self, base: Dataset, make: Callable[[int | None], Callable[[Sample], dict]], seed: int,
                 keys: tuple[str, ...] = ("image", "R", "euler")):
        self.base, self.make, self.seed, self.epoch, self.keys = base, make, int(seed), 0, tuple(keys)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seed = int(np.random.SeedSequence([self.seed, self.epoch, int(index)]).generate_state(1)[0])
        out = self.make(seed)(self.base[index])
        return {k: out[k] for k in self.keys}


class Transformed(Dataset):
    """``base`` Samples through a fixed (test) transform, keeping ``keys`` (a task's batch keys)."""

    def __init__(self, base: Dataset, transform: Callable[[Sample], dict],
                 keys: tuple[str, ...] = ("image", "R", "euler")):
        self.base, self.transform, self.keys = base, transform, tuple(keys)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        out = self.transform(self.base[index])
        return {k: out[k] for k in self.keys}
