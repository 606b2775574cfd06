"""Rank awareness for ``torchrun``: init, deterministic sharding, gathering on rank 0.

Under ``torchrun --nproc-per-node N`` (or a multi-node launch) the environment carries ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init` then starts the process group through mmengine
(``nccl`` when CUDA is available, ``gloo`` otherwise). Without those variables everything is a no-op
and the run is single-process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init(backend: str | None = None) -> tuple[int, int]:
    """Initialise the process group when launched by ``torchrun``; returns ``(rank, world_size)``.

    ``backend`` defaults to ``nccl`` with CUDA and ``gloo`` without. The CPU path does not go through
    ``mmengine.dist.init_dist`` because that calls ``torch.cuda.set_device``; it starts the same default
    process group, which mmengine's ``get_rank`` / ``all_gather_object`` then use.
    """
    import torch
    import torch.distributed as td
    from mmengine import dist

    if launched_by_torchrun() and not (td.is_available() and td.is_initialized()):
        cuda = torch.cuda.is_available()
        backend = backend or ("nccl" if cuda else "gloo")
        if cuda:
            dist.init_dist("pytorch", backend=backend)
        else:
            td.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def rank_world() -> tuple[int, int]:
    from mmengine import dist

    return dist.get_rank(), dist.get_world_size()


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """Round-robin share of ``items`` for ``rank``: deterministic, order kept, sizes differ by <= 1."""
    return [x for i, x in enumerate(items) if i % world_size == rank]


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (identity when single-process)."""
    from mmengine import dist

    if dist.get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (``[obj]`` when single-process)."""
    from mmengine import dist

    if dist.get_world_size() == 1:
        return [obj]
    return dist.all_gather_object(obj)


def barrier() -> None:
    from mmengine import dist

    if dist.get_world_size() > 1:
        dist.barrier()


def destroy() -> None:
    import torch.distributed as td

    if td.is_available() and td.is_initialized():
        td.destroy_process_group()
