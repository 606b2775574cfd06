"""What is measured on fused images: fusion-quality metrics, downstream detection and segmentation,
throughput. Each task follows :class:`sagebench.tasks.base.Task`."""

from sagebench.tasks.base import TASKS, Task, TaskContext, TaskResult, build_task

__all__ = ["TASKS", "Task", "TaskContext", "TaskResult", "build_task"]
from sagebench.tasks import throughput  # noqa: E402,F401  isort: skip
from sagebench.tasks import quality  # noqa: E402,F401  isort: skip
from sagebench.tasks import detection, segmentation  # noqa: E402,F401  isort: skip
