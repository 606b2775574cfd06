"""Fuse a whole dataset with one model and write 8-bit PNGs (``<stem>.png``), atomically per image."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from sagebench.io import write_image


def _batches(dataset: Any, indices: Iterable[int], batch_size: int) -> Iterator[list[Any]]:
    """Group consecutive samples of equal size (and colour) into batches of at most ``batch_size``."""
    batch: list[Any] = []
    for i in indices:
        s = dataset[i]
        key = (tuple(s.ir.shape[-2:]), s.vis.shape[0])
        if batch and (len(batch) == batch_size or key != (tuple(batch[0].ir.shape[-2:]), batch[0].vis.shape[0])):
            yield batch
            batch = []
        batch.append(s)
    if batch:
        yield batch


def fuse_dataset(model: Any, dataset: Any, out_dir: str | Path, *, batch_size: int = 1,
                 skip_existing: bool = False, progress: bool = True, desc: str | None = None) -> list[Path]:
    """Fuse every sample of ``dataset`` with ``model`` into ``out_dir/<stem>.png``.

    Args:
        model: a :class:`~sagebench.fusion_models.FusionModel` (already on its device, eval mode).
        dataset: a paired dataset (``len`` and ``__getitem__`` -> sample with ``name``, ``ir``, ``vis``).
        out_dir: output folder (created).
        batch_size: samples fused together (only consecutive samples of equal size are batched).
        skip_existing: leave images that already exist (resume an interrupted fusion).
        progress: show a progress bar.

    Returns:
        The output paths, in dataset order.
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png" for name in dataset.names]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{out_dir}: two samples share a file stem; fused images would overwrite each other")
    todo = [i for i, p in enumerate(paths) if not (skip_existing and p.is_file())]
    with tqdm(total=len(todo), desc=desc or f"fuse {getattr(dataset, 'name', '')}".strip(), unit="img",
              disable=not progress) as bar, torch.inference_mode():
        for batch in _batches(dataset, todo, max(1, batch_size)):
            ir = torch.stack([s.ir for s in batch])
            vis = torch.stack([s.vis for s in batch])
            fused = model.fuse(ir, vis).cpu()
            for s, img in zip(batch, fused):
                write_image(out_dir / f"{s.name}.png", img)
            bar.update(len(batch))
    return paths
