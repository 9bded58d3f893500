"""Pose tasks (pyhpe.tasks.base): what a batch holds, the loss, the report, the deploy outputs.

Built in: ``sixd_rotation`` (6DRepNet) and ``trgv2_6dof`` (TRGv2: rotation, translation, dense face). A new task is a module with a ``@register_task`` class,
imported here.
"""

from pyhpe.tasks.base import PoseTask, get_task, register_task, task_names, task_of
from pyhpe.tasks import sixd_rotation, trgv2_6dof  # noqa: F401,E402  (register the built-in tasks)

__all__ = ["PoseTask", "get_task", "register_task", "task_names", "task_of"]
