"""Pose tasks (pyhpe.tasks.base): what a batch holds, the loss, the report, the deploy outputs.

Built in: ``sixd_rotation`` (6DRepNet). A new task is a module with a ``@register_task`` class,
imported here.
"""

from pyhpe.tasks.base import PoseTask, get_task, register_task, task_names, task_of
from pyhpe.tasks import sixd_rotation  # noqa: F401,E402  (registers the built-in task)

__all__ = ["PoseTask", "get_task", "register_task", "task_names", "task_of"]
