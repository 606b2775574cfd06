"""The task contract: a task measures one method on one dataset and returns a :class:`TaskResult`.

Tasks are registered in :data:`TASKS` (an mmengine ``Registry``) and built from config dicts, e.g.
``dict(type="quality", metrics=["EN", "SSIM"], profile="default")``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mmengine.registry import DefaultScope, Registry

TASKS = Registry("sagebench_task", scope="sagebench", locations=["sagebench.tasks"])


class FusedImages:
    """The decoded fused images of one (dataset, method), shared by the tasks of a runner unit: each image
    is decoded at most once while the decoded images fit in ``budget_bytes`` (uint8 arrays; default 1 GiB),
    and images the runner has just fused are handed over without a decode.

    ``get(stem)`` returns the ``H x W`` (grey) or ``H x W x 3`` uint8 array of ``folder/<stem>.<ext>``.
    """

    def __init__(self, folder: Path, budget_bytes: int = 1 << 30) -> None:
        from collections import OrderedDict

        self.folder, self.budget = Path(folder), int(budget_bytes)
        self._arrays: OrderedDict[str, Any] = OrderedDict()
        self._bytes = 0
        self.decoded = 0  # how many PNGs were read (for tests and timing notes)

    def put(self, stem: str, array: Any) -> None:
        if stem in self._arrays or array.nbytes > self.budget:
            return
        while self._arrays and self._bytes + array.nbytes > self.budget:
            _, old = self._arrays.popitem(last=False)
            self._bytes -= old.nbytes
        self._arrays[stem] = array
        self._bytes += array.nbytes

    def get(self, stem: str) -> Any:
        if stem in self._arrays:
            self._arrays.move_to_end(stem)
            return self._arrays[stem]
        from sagebench.io import read_image
        from sagebench.tasks.metrics.folder import find_fused

        array = read_image(find_fused(self.folder, stem))
        self.decoded += 1
        self.put(stem, array)
        return array


@dataclass
class TaskContext:
    """Everything a task may need for one (dataset, method) cell.

    Attributes:
        method: method name as it appears in result tables.
        dataset: the evaluation dataset (``sagebench.datasets.PairedDataset``).
        fused_dir: folder of fused 8-bit PNGs ``<stem>.png`` for ``dataset`` (None for tasks that only
            need the model, e.g. throughput).
        model: the fusion model itself (for tasks with ``needs_model = True``).
        train_dataset / train_fused_dir: the training split and its fused images (downstream tasks
            that retrain per method); None when the task does not train.
        work_dir: a folder private to this (task, dataset, method) cell for caches and checkpoints.
        reference_dir: a folder shared by the task's cells of one dataset (a frozen-protocol reference
            network), keyed by what decides its content; None outside the runner.
        fused_images: the decoded images of ``fused_dir`` (:class:`FusedImages`), shared by the tasks of
            one (dataset, method); None outside the runner (tasks then read ``fused_dir``).
        device: torch device string.
        seed: random seed for anything stochastic.
    """

    method: str
    dataset: Any
    fused_dir: Path | None = None
    model: Any = None
    train_dataset: Any = None
    train_fused_dir: Path | None = None
    work_dir: Path = Path(".")
    device: str = "cpu"
    seed: int = 0
    reference_dir: Path | None = None
    fused_images: FusedImages | None = None


@dataclass
class TaskResult:
    """What a task returns.

    Attributes:
        task: task name.
        summary: metric name -> value (floats; units in ``meta['units']`` where not obvious).
        directions: metric name -> ``"higher"`` or ``"lower"`` (which is better).
        per_image: optional pandas DataFrame, one row per image (index = stem), columns = metrics.
        meta: anything worth recording (settings, units, device, timing, checkpoint hashes).
    """

    task: str
    summary: dict[str, float]
    directions: dict[str, str] = field(default_factory=dict)
    per_image: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


class Task(ABC):
    """Base class of tasks. Subclasses set ``name`` and implement :meth:`evaluate`."""

    name: ClassVar[str] = "task"
    #: True when the task needs the fusion model (e.g. throughput) rather than fused images.
    needs_model: ClassVar[bool] = False
    #: True when the task needs the training split fused too (downstream retrain protocol). A default:
    #: an instance may decide otherwise from its arguments (the runner reads the built task's value).
    needs_train_split: bool = False
    #: True when the task reads the fused images (``ctx.fused_dir``); the runner skips fusion otherwise.
    needs_fused: ClassVar[bool] = True
    #: False for tasks whose result does not depend on a dataset (throughput): the runner measures them
    #: once per method and stores them under dataset ``"-"``, with ``ctx.dataset = None``.
    per_dataset: ClassVar[bool] = True

    @abstractmethod
    def evaluate(self, ctx: TaskContext) -> TaskResult:
        """Measure ``ctx.method`` on ``ctx.dataset``."""

    def config(self) -> dict[str, Any]:
        """Settings that change the result (part of the cache key / provenance)."""
        return {}


def build_task(cfg: dict[str, Any] | str) -> Task:
    """Build a task from ``dict(type=..., **kwargs)`` or a registered name."""
    cfg = {"type": cfg} if isinstance(cfg, str) else dict(cfg)
    if TASKS.get(cfg["type"]) is None:
        raise KeyError(f"unknown task {cfg['type']!r}; registered: {', '.join(sorted(TASKS.module_dict))}")
    with DefaultScope.overwrite_default_scope(TASKS.scope):  # independent of mmdet/mmseg's global scope
        return TASKS.build(cfg)
