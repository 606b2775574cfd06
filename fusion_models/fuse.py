"""The one fusion loop: a dataset through a fusion model, batched where consecutive pairs share a size.

:func:`iter_fused` yields fused images; :func:`fuse_dataset` writes them as 8-bit PNGs (``<stem>.png``,
atomically per image) for ``sagebench fuse`` and tasks, and the runner's fused-image cache
(:func:`sagebench.benchmark.cache.fuse_with_cache`) fuses its misses through it too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from sagebench.errors import ConfigError, DataError
from sagebench.io import write_image
from sagebench.paths import check_name, inside


def _batches(dataset: Any, indices: Iterable[int], batch_size: int,
             skipped: list[tuple[str, str]] | None = None) -> Iterator[list[Any]]:
    """Group consecutive samples of equal size (and colour) into batches of at most ``batch_size``.
    With ``skipped`` given, a sample that cannot be read (:class:`DataError`) is recorded there as
    ``(file, reason)`` and left out instead of stopping the run."""
    batch: list[Any] = []
    for i in indices:
        try:
            s = dataset[i]
        except DataError as exc:
            if skipped is None:
                raise
            skipped.append((dataset.names[i], str(exc)))
            continue
        key = (tuple(s.ir.shape[-2:]), s.vis.shape[0])
        if batch and (len(batch) == batch_size or key != (tuple(batch[0].ir.shape[-2:]), batch[0].vis.shape[0])):
            yield batch
            batch = []
        batch.append(s)
    if batch:
        yield batch


def input_folders(dataset: Any) -> list[Path]:
    """The folders a dataset reads from (root, IR and visible folders), where it says."""
    out = []
    for attr in ("root", "ir_dir", "vis_dir"):
        d = getattr(dataset, attr, None)
        if d is not None:
            out.append(Path(d))
    return out


def check_output_folder(out_dir: str | Path, dataset: Any) -> None:
    """Refuse an output folder that is an input folder or lies inside one (fused PNGs would land among,
    or overwrite, the inputs). Raises :class:`ConfigError` naming both."""
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out_dir}: is a file; the output must be a folder")
    for d in input_folders(dataset):
        d = d.expanduser().resolve()
        if out == d or d in out.parents:
            raise ConfigError(f"output folder {out_dir} is {'the' if out == d else 'inside the'} input folder {d}; "
                              "choose a folder outside the dataset")


def iter_fused(model: Any, dataset: Any, indices: Iterable[int], *, batch_size: int = 1,
               skipped: list[tuple[str, str]] | None = None) -> Iterator[tuple[Any, torch.Tensor, float]]:
    """Fuse the samples ``indices`` of ``dataset`` in batches of consecutive equal-size pairs.

    Yields ``(sample, fused, seconds)``: the :class:`~sagebench.datasets.Sample`, its fused image as a
    float ``C x H x W`` CPU tensor in [0, 1], and its share of the batch's ``model.fuse`` time. Samples
    that cannot be read go to ``skipped`` when given (see :func:`_batches`), else raise.
    """
    with torch.inference_mode():
        for batch in _batches(dataset, indices, max(1, batch_size), skipped):
            ir = torch.stack([s.ir for s in batch])
            vis = torch.stack([s.vis for s in batch])
            t0 = time.perf_counter()
            fused = model.fuse(ir, vis).cpu()
            share = (time.perf_counter() - t0) / len(batch)
            for s, img in zip(batch, fused):
                yield s, img, share


def fuse_dataset(model: Any, dataset: Any, out_dir: str | Path, *, batch_size: int = 1,
                 skip_existing: bool = False, progress: bool = True, desc: str | None = None,
                 skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Fuse every sample of ``dataset`` with ``model`` into ``out_dir/<stem>.png``.

    Args:
        model: a :class:`~sagebench.fusion_models.FusionModel` (already on its device, eval mode).
        dataset: a paired dataset (``len`` and ``__getitem__`` -> sample with ``name``, ``ir``, ``vis``).
        out_dir: output folder (created); it must not be, or lie inside, an input folder.
        batch_size: samples fused together (only consecutive samples of equal size are batched).
        skip_existing: leave images that already exist (resume an interrupted fusion).
        progress: show a progress bar.
        skipped: when given, samples that cannot be decoded (e.g. truncated files) are appended here as
            ``(stem, reason)`` and skipped; otherwise they raise :class:`DataError`.

    Returns:
        The output paths written or kept, in dataset order.
    """
    from tqdm.auto import tqdm

    check_output_folder(out_dir, dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    label = getattr(dataset, "name", "dataset")
    paths = [inside(out_dir, check_name(name, f"{label}: sample") + ".png", what="fused image")
             for name in dataset.names]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{out_dir}: two samples share a file stem; fused images would overwrite each other")
    todo = [i for i, p in enumerate(paths) if not (skip_existing and p.is_file())]
    before = len(skipped) if skipped is not None else 0
    with tqdm(total=len(todo), desc=desc or f"fuse {label}".strip(), unit="img", disable=not progress) as bar:
        for s, img, _ in iter_fused(model, dataset, todo, batch_size=batch_size, skipped=skipped):
            write_image(out_dir / f"{s.name}.png", img)
            bar.update(1)
    bad = {stem for stem, _ in (skipped or [])[before:]}
    return [p for p, name in zip(paths, dataset.names) if name not in bad]
