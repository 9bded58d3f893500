"""On-the-fly synthetic data as a torch Dataset of :class:`~pyhpe.data.sample.Sample`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from pyhpe.data.sample import Sample
from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.data.synthetic.mesh import topology
from pyhpe.data.synthetic.render import render_index


class SyntheticHeads(Dataset):
    """``n`` rendered heads; item ``i`` is the same image for the same (seed, config), in any worker.

    ``transform`` (optional) is applied to each Sample (e.g. a pyhpe.data.transforms pipeline).
    """

    def __init__(self, n: int, seed: int = 0, config: SynthConfig | None = None,
                 transform: Callable[[Sample], Any] | None = None):
        if int(n) < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.n = int(n)
        self.seed = int(seed)
        self.config = config or SynthConfig()
        self.transform = transform

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        if not -self.n <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} samples")
        sample = render_index(self.config, self.seed, index % self.n)
        return self.transform(sample) if self.transform is not None else sample

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) triangles of the dense vertices (the same for every sample)."""
        return topology(self.config.n_lat, self.config.n_lon).faces

    @property
    def vertex_flip_index(self) -> np.ndarray:
        """(V,) dense vertex mirrored by x -> -x (for horizontal flips)."""
        return topology(self.config.n_lat, self.config.n_lon).flip_index
