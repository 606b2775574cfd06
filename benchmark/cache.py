"""The fused-image cache: one 8-bit PNG per (method key, input content hash).

The **method key** hashes everything that decides the fused pixels: the method's config (type and
arguments, not its display name), the weights' sha256, and the preprocessing (colour quantisation,
compute precision, channels_last / BatchNorm folding, device type, PNG encoding). The cache lives under
``--cache-dir`` or ``sagebench.weights.cache_home() / "fused"``::

    <root>/<method key[:20]>/key.json                 # the key's parts, for humans
    <root>/<method key[:20]>/<hash[:2]>/<hash>.png    # hash = Sample content hash

A run directory gets the fused images of each (dataset, method) as ``<stem>.png`` hard links into the
cache (copies where links are impossible), so tasks read an ordinary folder.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagebench.benchmark.results import stable_hash
from sagebench.io import atomic_path, write_image, write_json

#: Bump when the way fused images are produced or stored changes (invalidates every cached image).
FUSED_FORMAT = "png8-floor(255x+0.5)/1"


def default_cache_dir() -> Path:
    from sagebench.weights import cache_home

    return cache_home() / "fused"


def method_key_parts(method_cfg: dict[str, Any], model: Any) -> dict[str, Any]:
    """The facts that decide a method's fused pixels (see module docstring)."""
    cfg = {k: v for k, v in method_cfg.items() if k != "name"}
    dtype = getattr(model, "compute_dtype", None)
    return {
        "config": cfg,
        "weights_sha256": getattr(model, "weights_sha256", None),
        "preprocessing": {
            "quantize_colour": bool(getattr(model, "quantize_colour", False)),
            "precision": str(dtype).removeprefix("torch.") if dtype is not None else None,
            "channels_last": bool(getattr(model, "channels_last", False)),
            "device_type": str(model.device.type) if hasattr(model, "device") else "cpu",
        },
        "format": FUSED_FORMAT,
    }


class FusionCache:
    """Fused images keyed by method key and input content hash."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()

    def method_dir(self, parts: dict[str, Any]) -> Path:
        key = stable_hash(parts)[:20]
        d = self.root / key
        if not (d / "key.json").is_file():
            write_json(d / "key.json", parts)
        return d

    @staticmethod
    def image_path(method_dir: Path, content_hash: str) -> Path:
        if not content_hash:
            raise ValueError("a sample without content_hash cannot be cached")
        return method_dir / content_hash[:2] / f"{content_hash}.png"


def _link_or_copy(src: Path, dst: Path) -> None:
    """Atomically place ``src`` at ``dst`` as a hard link (a copy across file systems)."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def fuse_with_cache(model: Any, dataset: Any, method_dir: Path, out_dir: Path, *,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Make ``out_dir/<stem>.png`` for every sample of ``dataset``, fusing only cache misses.

    Args:
        model: a :class:`~sagebench.fusion_models.FusionModel`.
        dataset: a ``PairedDataset``; ``dataset.content_hash(i)`` keys the cache.
        method_dir: the method's cache folder (:meth:`FusionCache.method_dir`).
        out_dir: the run's fused-image folder for this (dataset, method); stale PNGs are removed.
        progress: called with 1 after each sample.

    Returns:
        ``{"images", "cache_hits", "fused", "fuse_seconds"}`` (seconds spent in ``model.fuse``).
    """
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set()
    hits = fused = 0
    seconds = 0.0
    for i, stem in enumerate(dataset.names):
        wanted.add(f"{stem}.png")
        target = FusionCache.image_path(method_dir, dataset.content_hash(i))
        if target.is_file():
            hits += 1
        else:
            sample = dataset[i]
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = model.fuse(sample.ir.unsqueeze(0), sample.vis.unsqueeze(0))[0]
            seconds += time.perf_counter() - t0
            write_image(target, out.cpu())
            fused += 1
        _link_or_copy(target, out_dir / f"{stem}.png")
        if progress:
            progress(1)
    for stale in out_dir.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    return {"images": len(dataset.names), "cache_hits": hits, "fused": fused, "fuse_seconds": round(seconds, 4)}
