"""The files and folders a run's numbers were read from, and their state on disk.

Every file whose bytes enter an identity (dataset images and labels, weights, precomputed fused images, a
user's method source) is recorded here when it is hashed (:func:`record_file`); the runner adds the folders
whose *listing* matters (a dataset root: a new image is a new pair; a weights folder: ``methods="auto"``
picks up new weights) with :func:`record_tree`. :func:`file_state` and :func:`tree_state` describe them by
metadata only (size, modification and change times in ns, inode; a tree: a digest over every entry below
it), so that a later process can tell that nothing changed without reading or hashing any content (see
:mod:`sagebench.benchmark.rerun`). A change time moves on every write and cannot be set back by a user,
so the check errs only towards recomputing. Stdlib only: no torch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_FILES: set[str] = set()
_TREES: set[str] = set()


def record_file(path: str | os.PathLike) -> None:
    """Note that a result depends on the bytes of ``path``."""
    _FILES.add(os.path.abspath(path))


def record_tree(path: str | os.PathLike) -> None:
    """Note that a result depends on what lies below folder ``path`` (names and bytes of every entry)."""
    _TREES.add(os.path.abspath(path))


def recorded() -> tuple[list[str], list[str]]:
    """``(files, trees)`` recorded in this process, sorted."""
    return sorted(_FILES), sorted(_TREES)


def reset() -> None:
    """Forget what was recorded (a new run in the same process)."""
    _FILES.clear()
    _TREES.clear()


def _stat(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def file_state(path: str | os.PathLike) -> list[int] | None:
    """``[size, mtime_ns, ctime_ns, inode]`` of ``path`` (following links), None when it does not exist."""
    try:
        return _stat(os.stat(path))
    except OSError:
        return None


def tree_state(path: str | os.PathLike) -> str | None:
    """Digest over every entry below folder ``path`` (relative path, kind, :func:`file_state`; links as their
    targets' state and their own target text), None when ``path`` is not a folder."""
    root = Path(path)
    if not root.is_dir():
        return None
    h = hashlib.sha256(b"sagebench-tree-v1\0")
    h.update(repr(file_state(root)).encode())
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            link = os.readlink(p) if os.path.islink(p) else ""
            h.update(f"{rel}\0{link}\0{file_state(p)!r}\n".encode())
    return h.hexdigest()


__all__ = ["file_state", "record_file", "record_tree", "recorded", "reset", "tree_state"]
