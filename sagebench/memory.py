"""The C allocator setting the ``sagebench`` command applies to its own process.

glibc serves every block above its mmap threshold (dynamic, at most 32 MB) with fresh pages from the kernel
and returns them on free, so a loop that allocates and frees large tensors (a 768x1024 float64 map is
6 MB, a batch of them more) pays page faults on every iteration: up to a third of the metric suite's time
on CPU, and more at larger images. :func:`tune_allocator` asks glibc (``mallopt``) to serve blocks up to
1 GiB from its heap and to keep freed memory for reuse. Numbers do not change; the process's resident
memory stays near its peak instead of shrinking between images.

The ``sagebench`` command calls it at start-up unless ``SAGEBENCH_ALLOCATOR=system``; importing the
library never does (a library must not change its host process's allocator): call it yourself in a script
that scores many images. Elsewhere than glibc (macOS, Windows, musl) it does nothing and returns False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ENV_ALLOCATOR = "SAGEBENCH_ALLOCATOR"
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_applied: dict[str, int] | None = None


def tune_allocator(*, mmap_threshold: int = 1 << 30, trim_threshold: int = 2 ** 31 - 1,
                   top_pad: int = 64 << 20) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD`` and ``M_TOP_PAD`` (bytes) for this process.

    Returns True when glibc accepted all three, False where there is no glibc ``mallopt``.
    """
    global _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        if not hasattr(libc, "gnu_get_libc_version"):
            return False
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = all(mallopt(param, int(value)) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, mmap_threshold), (_M_TRIM_THRESHOLD, trim_threshold), (_M_TOP_PAD, top_pad)))
    if ok:
        _applied = {"mmap_threshold": mmap_threshold, "trim_threshold": trim_threshold, "top_pad": top_pad}
    return ok


def allocator_settings() -> dict[str, int] | None:
    """What :func:`tune_allocator` set in this process (None when it has not run or did nothing)."""
    return dict(_applied) if _applied else None


def tune_for_command() -> bool:
    """The ``sagebench`` command's start-up: :func:`tune_allocator` unless ``SAGEBENCH_ALLOCATOR=system``."""
    if os.environ.get(ENV_ALLOCATOR, "").strip().lower() == "system":
        return False
    return tune_allocator()


__all__ = ["ENV_ALLOCATOR", "allocator_settings", "tune_allocator", "tune_for_command"]
