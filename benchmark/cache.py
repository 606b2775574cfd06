"""The fused-image cache: content-addressed 8-bit PNGs, shared by every run on the machine.

An entry is found by the **method key** (a hash of :func:`sagebench.benchmark.identity.method_identity`:
config, weights sha256, preprocessing, code) and the input pair's content hash. The cache lives under
``--cache-dir`` or ``sagebench.weights.cache_home() / "fused"``::

    <root>/<method key[:20]>/key.json                  # the key's parts, for humans
    <root>/<method key[:20]>/<hash[:2]>/<hash>.ref     # "<png sha256> <bytes>" of the fused image
    <root>/objects/<sha[:2]>/<sha>.png                 # the PNG itself, named by its own sha256, read-only

Every file is written atomically (temporary file + rename), so concurrent runs that fuse the same image
at once are safe: they write the same object name, and a reader sees a whole file or none. Before use an
entry is verified (size and sha256 of the PNG's bytes); a missing or broken entry is made again, with a
message naming the cache path. A run folder gets **copies** of the cached PNGs (no hard links), so
editing a run's ``fused/`` images never reaches the cache.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagebench.benchmark.identity import FUSED_FORMAT, method_identity
from sagebench.benchmark.results import stable_hash
from sagebench.io import atomic_path, to_uint8, write_json
from sagebench.paths import check_name, inside

__all__ = ["FUSED_FORMAT", "FusionCache", "default_cache_dir", "fuse_with_cache", "method_key_parts"]

#: PNG compression level of fused images (lossless at every level; 1 is fast).
PNG_LEVEL = 1


def default_cache_dir() -> Path:
    from sagebench.weights import cache_home

    return cache_home() / "fused"


def method_key_parts(method_cfg: dict[str, Any], model: Any) -> dict[str, Any]:
    """The facts that decide a method's fused pixels (see :func:`~sagebench.benchmark.identity.method_identity`)."""
    return method_identity(method_cfg, model)


def encode_png(img: Any) -> bytes:
    """A ``C x H x W`` float tensor in [0, 1] (or a uint8 array) as 8-bit PNG bytes."""
    import numpy as np
    import torch
    from PIL import Image

    arr = to_uint8(img) if isinstance(img, torch.Tensor) else np.asarray(img)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def write_bytes(path: Path, data: bytes, *, mode: int = 0o666) -> Path:
    """Write ``data`` atomically with permissions ``mode & ~umask``."""
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(data)
    return path


class FusionCache:
    """Fused images keyed by method key and input content hash (see module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()

    def method_dir(self, parts: dict[str, Any]) -> Path:
        key = stable_hash(parts)[:20]
        d = self.root / key
        if not (d / "key.json").is_file():
            write_json(d / "key.json", parts)
        return d

    @staticmethod
    def ref_path(method_dir: Path, content_hash: str) -> Path:
        if not content_hash:
            raise ValueError("a sample without content_hash cannot be cached")
        return method_dir / content_hash[:2] / f"{content_hash}.ref"

    def object_path(self, sha: str) -> Path:
        return self.root / "objects" / sha[:2] / f"{sha}.png"

    def get(self, method_dir: Path, content_hash: str) -> bytes | None:
        """The verified PNG bytes of an entry, or None when absent. A broken entry (unreadable reference,
        missing object, wrong size or sha256) is reported on stderr, removed, and None is returned."""
        ref = self.ref_path(method_dir, content_hash)
        if not ref.is_file():
            return None
        problem, obj = None, None
        try:
            sha, size = ref.read_text(encoding="ascii").split()
            obj = self.object_path(sha)
            data = obj.read_bytes()
            if len(data) != int(size):
                problem = f"{obj} has {len(data)} bytes, expected {size}"
            elif hashlib.sha256(data).hexdigest() != sha:
                problem = f"{obj} does not match its sha256"
        except FileNotFoundError:
            problem = f"{obj or ref} is missing"
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problem = f"{ref} is unreadable ({exc})"
        if problem is None:
            return data
        print(f"[sagebench] broken cache entry {ref}: {problem}; fusing that image again", file=sys.stderr)
        doomed = [ref] + ([obj] if obj is not None and obj.is_file() else [])
        for p in doomed:  # a wrong object is wrong for every reference to it
            inside(self.root, p, what="cache file").unlink(missing_ok=True)
        return None

    def put(self, method_dir: Path, content_hash: str, data: bytes) -> None:
        """Store PNG bytes: the object (read-only, named by its sha256), then the reference to it."""
        sha = hashlib.sha256(data).hexdigest()
        obj = self.object_path(sha)
        if not (obj.is_file() and obj.stat().st_size == len(data)):
            write_bytes(obj, data, mode=0o444)
        with atomic_path(self.ref_path(method_dir, content_hash)) as tmp:
            tmp.write_text(f"{sha} {len(data)}\n", encoding="ascii")


def fuse_with_cache(model: Any, dataset: Any, cache: FusionCache, method_dir: Path, out_dir: Path, *,
                    refresh: bool = False, batch_size: int = 1, images: Any = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Make ``out_dir/<stem>.png`` for every sample of ``dataset``, fusing only cache misses.

    Args:
        model: a :class:`~sagebench.fusion_models.FusionModel`.
        dataset: a paired dataset; ``dataset.content_hash(i)`` keys the cache.
        cache: the :class:`FusionCache`; ``method_dir`` is the method's folder in it.
        out_dir: the run's fused-image folder for this (dataset, method); PNGs in it that belong to no
            sample are removed (only there).
        refresh: fuse every image again and replace the cache entries (``--no-resume``).
        batch_size: misses fused together (consecutive equal-size pairs), through
            :func:`sagebench.fusion_models.fuse.iter_fused`, the loop ``sagebench fuse`` uses.
        images: a :class:`~sagebench.tasks.base.FusedImages` that receives the images fused now, so the
            unit's tasks need not decode them again.
        progress: called with the number of samples done, as they are done.

    Returns:
        ``{"images", "cache_hits", "fused", "fuse_seconds"}`` (seconds spent in ``model.fuse``).
    """
    from sagebench.fusion_models.fuse import iter_fused

    out_dir.mkdir(parents=True, exist_ok=True)
    label = getattr(dataset, "name", "dataset")
    names = {i: check_name(stem, f"{label}: sample") + ".png" for i, stem in enumerate(dataset.names)}
    contents = {i: dataset.content_hash(i) for i in names}
    misses = []
    for i, name in names.items():
        data = None if refresh else cache.get(method_dir, contents[i])
        if data is None:
            misses.append(i)
        else:
            write_bytes(inside(out_dir, name, what="fused image"), data)
            if progress:
                progress(1)
    seconds = 0.0
    index = {stem: i for i, stem in enumerate(dataset.names)}
    for sample, img, share in iter_fused(model, dataset, misses, batch_size=batch_size):
        i = index[sample.name]
        arr = to_uint8(img)
        data = encode_png(arr)
        if images is not None:
            images.put(sample.name, arr)
        cache.put(method_dir, contents[i], data)
        write_bytes(inside(out_dir, names[i], what="fused image"), data)
        seconds += share
        if progress:
            progress(1)
    wanted = set(names.values())
    for stale in out_dir.glob("*.png"):
        if stale.name not in wanted:
            inside(out_dir, stale.name, what="stale fused image").unlink()
    return {"images": len(names), "cache_hits": len(names) - len(misses), "fused": len(misses),
            "fuse_seconds": round(seconds, 4)}
