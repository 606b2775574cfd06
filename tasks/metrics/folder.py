"""Scoring a folder of fused images against a paired dataset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sagebench.errors import DataError
from sagebench.io import IMAGE_SUFFIXES, read_image, to_tensor
from sagebench.tasks.metrics.profiles import Profile, get_profile


def find_fused(fused_dir: Path, stem: str) -> Path:
    """The fused image of ``stem``: ``<stem>.png`` (or another image suffix if no PNG exists)."""
    p = fused_dir / f"{stem}.png"
    if p.is_file():
        return p
    for suf in IMAGE_SUFFIXES:
        q = fused_dir / f"{stem}{suf}"
        if q.is_file():
            return q
    raise DataError(f"{fused_dir}: no fused image for sample {stem!r} (expected {p.name})")


def evaluate_folder(fused_dir: str | Path, dataset: Any, metrics: list[str] | str | None = None,
                    profile: str | Profile = "default", *, device: str | torch.device = "cpu",
                    progress: bool | Callable[[Any], Any] = False, images: Any = None, **opts: Any) -> Any:
    """Score every sample of ``dataset`` with the fused image ``fused_dir/<stem>.png``.

    Args:
        fused_dir: folder of fused 8-bit images named by sample stem.
        dataset: a ``PairedDataset`` or anything :func:`sagebench.datasets.open_dataset` accepts.
        metrics: metric names, ``"all"``, or None for the default set (all but FMI).
        profile: convention profile (``default``, ``cddfuse``, ``ivif_zoo``).
        device: torch device for the computation.
        progress: True for a tqdm bar, or a callable wrapping the sample iterable.
        images: optional decoded images of ``fused_dir`` (``images.get(stem)`` -> uint8 array, e.g. the
            runner's :class:`~sagebench.tasks.base.FusedImages`), used instead of reading the files.
        opts: metric options applied to all metrics (``gray``, ``quantize``).

    Returns:
        ``pandas.DataFrame`` indexed by stem (name ``image``), one float column per metric. ``df.attrs`` holds
        ``profile``, ``units``, ``directions``, ``references`` and ``configs``.

    Raises:
        DataError: the folder is missing, a fused image is missing (named), unreadable, or its size differs
            from the sources'.

    The folder is scored in one :func:`sagebench.memory.reuse_large_blocks` block (memory freed by one
    image is reused by the next; same values).
    """
    from sagebench.memory import reuse_large_blocks

    with reuse_large_blocks():
        return _evaluate_folder(fused_dir, dataset, metrics, profile, device=device, progress=progress,
                                images=images, **opts)


def _evaluate_folder(fused_dir: str | Path, dataset: Any, metrics: list[str] | str | None, profile: str | Profile,
                     *, device: str | torch.device, progress: bool | Callable[[Any], Any], images: Any,
                     **opts: Any) -> Any:
    import pandas as pd

    from sagebench.tasks.metrics import create_metric, resolve_metric_names

    fused_dir = Path(fused_dir)
    if not fused_dir.is_dir():
        raise DataError(f"{fused_dir}: fused-image folder not found")
    if isinstance(dataset, (str, Path)):
        from sagebench.datasets import open_dataset

        dataset = open_dataset(dataset)
    prof = get_profile(profile)
    names = resolve_metric_names(metrics)
    objs = [create_metric(n, prof, **opts) for n in names]
    # Fail early, naming every missing fused image.
    stems = list(dataset.names) if hasattr(dataset, "names") else [dataset[i].name for i in range(len(dataset))]
    missing = [s for s in stems if not _has_fused(fused_dir, s)]
    if missing:
        shown = ", ".join(f"{s}.png" for s in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise DataError(f"{fused_dir}: {len(missing)} of {len(stems)} fused images missing: {shown}")

    indices: Any = range(len(dataset))
    if progress is True:
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"metrics ({prof.name})", unit="img")
    elif callable(progress):
        indices = progress(indices)

    from sagebench.tasks.metrics import compute_metrics

    rows: dict[str, dict[str, float]] = {}
    for i in indices:
        sample = dataset[i]
        path = find_fused(fused_dir, sample.name)
        fused = to_tensor(images.get(sample.name) if images is not None else read_image(path))
        if tuple(fused.shape[-2:]) != tuple(sample.ir.shape[-2:]):
            raise DataError(f"{path}: fused image is {tuple(fused.shape[-2:])} (H, W) but the sources of "
                            f"{sample.name!r} are {tuple(sample.ir.shape[-2:])}")
        vals = compute_metrics(fused[None].to(device), sample.ir[None].to(device), sample.vis[None].to(device),
                               metrics=[m.name for m in objs], profile=prof, **opts)
        rows[sample.name] = {k: float(v[0]) for k, v in vals.items()}
    df = pd.DataFrame.from_dict(rows, orient="index", columns=[m.name for m in objs])
    df.index.name = "image"
    df.attrs.update({
        "profile": prof.name,
        "units": {m.name: m.unit for m in objs},
        "directions": {m.name: m.direction for m in objs},
        "references": {m.name: m.reference for m in objs},
        "configs": {m.name: m.config() for m in objs},
        "native": {m.name: prof.native is None or m.name in prof.native for m in objs},
    })
    return df


def _has_fused(fused_dir: Path, stem: str) -> bool:
    try:
        find_fused(fused_dir, stem)
        return True
    except DataError:
        return False
