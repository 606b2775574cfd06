"""File names from user-given names, and the check that every written or deleted path stays in its root.

* :func:`slug` is the one way a name (dataset, method, task, board) becomes a file-name part.
* :func:`check_name` rejects names that cannot be a single path component (``.``, ``..``, empty,
  path separators, absolute paths, NUL), naming the entry they came from.
* :func:`inside` resolves a path and raises :class:`~sagebench.errors.DataError` when it lies outside
  its root (symbolic links are followed, so a link cannot lead a write or a delete out of the folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sagebench.errors import DataError

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]+")


def slug(text: str) -> str:
    """``text`` as a file-name part: runs of characters other than ``A-Za-z0-9_.@+-`` become ``_``,
    leading/trailing ``_`` and ``.`` are dropped (so the result is never ``.``/``..`` or hidden);
    ``"SAGE (ours)"`` -> ``"SAGE_ours"``, ``""`` -> ``"_"``."""
    return _UNSAFE.sub("_", str(text)).strip("_.") or "_"


def check_name(name: str, what: str) -> str:
    """Return ``name`` when it can be used as one path component (a file stem), else raise DataError.

    Args:
        name: e.g. a sample stem from a ``PAIRS.tsv``.
        what: where it came from, for the message (``"PAIRS.tsv row 3 (stem)"``).
    """
    text = str(name)
    problem = None
    if text.strip() == "":
        problem = "is empty"
    elif text in (".", ".."):
        problem = "is '.' or '..'"
    elif "\0" in text:
        problem = "contains a NUL character"
    elif "/" in text or "\\" in text or (os.altsep and os.altsep in text):
        problem = "contains a path separator"
    elif Path(text).is_absolute():
        problem = "is an absolute path"
    if problem:
        raise DataError(f"{what}: name {text!r} {problem}; it must be a plain file name")
    return text


def inside(root: str | os.PathLike, path: str | os.PathLike, *, what: str = "path") -> Path:
    """``path`` (absolute, or relative to ``root``) with its folder resolved, after checking it lies inside
    ``root``. The last component is not followed: writes (atomic renames) and deletes act on the entry
    itself, so a symbolic link *named* in the folder is replaced or removed, never its target.

    Raises:
        DataError: naming the path and the root when it escapes (``..``, an absolute path elsewhere, or a
            symbolically linked folder that points out of ``root``).
    """
    base = Path(root).expanduser().resolve()
    p = Path(path).expanduser()
    p = p if p.is_absolute() else base / p
    if p.name in ("", ".", ".."):
        full = p.resolve()
    else:
        full = p.parent.resolve() / p.name
    if full != base and base not in full.parents:
        raise DataError(f"{what} {path} lies outside {base}; refusing to write or delete it")
    return full


def overlaps(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when folders ``a`` and ``b`` are the same or one contains the other (after resolving)."""
    ra, rb = Path(a).expanduser().resolve(), Path(b).expanduser().resolve()
    return ra == rb or ra in rb.parents or rb in ra.parents
