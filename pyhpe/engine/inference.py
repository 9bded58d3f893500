"""Run a pose model over a dataset through its task (shared by train, eval and demo)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from pyhpe.tasks import PoseTask, task_of
from pyhpe.tasks.base import to_device


@torch.inference_mode()
def predict_dataset(model: torch.nn.Module, dataset: Dataset, device: torch.device | str = "cpu",
                    batch_size: int = 64, workers: int = 0, progress: bool = False,
                    desc: str = "eval", autocast_dtype: torch.dtype | None = None,
                    task: PoseTask | None = None) -> Any:
    """The task's predictions record (``.report()`` → metrics) for every item of ``dataset``
    (dicts holding the task's batch keys). ``task`` defaults to the model's own."""
    from tqdm import tqdm

    task = task or task_of(model)
    device = torch.device(device)
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
            out = task.forward(model, batch)
        for key, value in task.gather(out, batch).items():
            parts.setdefault(key, []).append(value)
    model.train(was_training)
    if not parts:
        raise ValueError("the evaluation set is empty")
    return task.predictions({k: torch.cat(v) for k, v in parts.items()})
