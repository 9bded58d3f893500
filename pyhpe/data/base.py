"""A torch Dataset over a list of on-disk items, with skip-bad-file handling and a transform."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from torch.utils.data import Dataset

from pyhpe.data.files import DataFileError
from pyhpe.data.sample import Sample

log = logging.getLogger(__name__)


class FileDataset(Dataset):
    """Base of the per-format loaders: ``items`` are whatever ``load_sample`` takes.

    Subclasses implement ``load_sample(item) -> Sample`` and optionally ``item_files(item)`` (the
    files an item needs, checked for existence at construction when ``skip_bad`` is on).
    ``skip_bad=False``: a bad file raises ``DataFileError`` naming it. ``skip_bad=True``: it is
    logged and skipped (the next good item is returned instead) and counted in ``skipped``.
    """

    def __init__(
        self,
        items: Sequence[Any],
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
    ):
        self.transform = transform
        self.skip_bad = skip_bad
        self.bad_files: list[str] = []
        self._on_bad: Callable[[DataFileError], None] | None = None
        self._bad_indices: set[int] = set()  # items found bad when read (each counted once)
        items = list(items)
        if skip_bad:
            kept = []
            for item in items:
                missing = [f for f in self.item_files(item) if not os.path.isfile(f)]
                if missing:  # counted now, reported by report_bad() (or logged below)
                    self.bad_files.append(str(missing[0]))
                else:
                    kept.append(item)
            if len(kept) < len(items):
                log.info("%s: skipped %d item(s) with missing files: %s", type(self).__name__,
                         len(items) - len(kept), ", ".join(self.bad_files[:3]))
            items = kept
        self.items = items

    # -- to implement ---------------------------------------------------------------------------
    def load_sample(self, item: Any) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def item_files(self, item: Any) -> Sequence[str]:
        return ()

    # -- Dataset protocol -----------------------------------------------------------------------
    @property
    def skipped(self) -> int:
        """How many bad files were skipped so far (in this process)."""
        return len(self.bad_files)

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, index: int) -> Sample:
        """The untransformed Sample at ``index`` (skipping bad items when ``skip_bad``)."""
        if not self.items:
            raise IndexError(f"{type(self).__name__} is empty")
        n = len(self.items)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} items")
        for step in range(n):
            i = (index + step) % n
            if i in self._bad_indices:
                continue
            try:
                return self.load_sample(self.items[i])
            except DataFileError as exc:
                if not self.skip_bad:
                    raise
                self._bad_indices.add(i)
                self.record_bad(exc)
        raise DataFileError(type(self).__name__, f"no readable item among {n}")

    def scan(self, progress: bool = True) -> list[str]:
        """Read every item once; returns the bad files (raises on the first one unless skip_bad)."""
        from tqdm import tqdm

        bad = []
        for i in tqdm(range(len(self.items)), desc=f"check {type(self).__name__}", unit="item",
                      disable=not progress):
            if i in self._bad_indices:
                continue
            try:
                self.load_sample(self.items[i])
            except DataFileError as exc:
                if not self.skip_bad:
                    raise
                self._bad_indices.add(i)
                self.record_bad(exc)
                bad.append(exc.path)
        return bad

    def __getitem__(self, index: int):
        s = self.sample(index)
        return self.transform(s) if self.transform is not None else s

    def record_bad(self, exc: DataFileError) -> None:
        """Report a bad file (logged, or to :meth:`report_bad`'s reporter) and count it in ``skipped``."""
        if self._on_bad is None:
            log.warning("skipping bad file %s", exc)
        else:
            self._on_bad(exc)
        self.bad_files.append(exc.path)

    def report_bad(self, reporter: Callable[[DataFileError], None]) -> None:
        """Send every bad file, those found so far (missing at construction) and those found later,
        to ``reporter`` instead of the log (a command's :class:`pyhpe.engine.errors.Skips`)."""
        self._on_bad = reporter
        for path in self.bad_files:
            reporter(DataFileError(path, "file not found"))

    def good_indices(self) -> list[int]:
        """The items not found bad so far (after :meth:`scan`: the readable ones)."""
        return [i for i in range(len(self.items)) if i not in self._bad_indices]

