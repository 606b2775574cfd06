"""The C allocator settings sagebench applies: for its own command, and around its own CPU work.

glibc serves every block above its mmap threshold (dynamic, at most 32 MiB) with fresh pages from the kernel
and returns them on free, so a loop that allocates and frees large tensors (a 768x1024 float64 map is
6 MB, a 32-channel float32 activation of the same image 100 MB) pays page faults on every iteration: up to
a third of the metric suite's time on CPU, and more at larger images. Asking glibc (``mallopt``) to serve
blocks up to 1 GiB from its heap and to keep freed memory for reuse removes them. Numbers never change.

* :func:`tune_allocator` sets this for the whole process. The ``sagebench`` command calls it at start-up
  (:func:`tune_for_command`); importing the library never does.
* :func:`reuse_large_blocks` sets it for the duration of a ``with`` block. The metric suite
  (``compute_metrics``) and the SAGE student's CPU inference run inside it, so a library call gets the
  command's speed without keeping its memory. Nested and concurrent blocks share one setting; under the
  command's process-wide setting it does nothing. When the outermost block closes, the setting stays in force
  for :func:`linger_seconds` more (2 s unless ``SAGEBENCH_ALLOCATOR_LINGER`` says otherwise), so that a loop of
  library calls (one image after another) reuses the memory the previous call freed; a block opened within
  that time takes the setting over. Then a background timer restores the state glibc reaches by itself once a
  process has freed a block near 32 MiB (:data:`GLIBC_STEADY`) and gives the freed memory back to the system
  (``malloc_trim``). :func:`release_now` does that at once.

``SAGEBENCH_ALLOCATOR=system`` turns both off: the allocator is then never touched. Elsewhere than glibc
(macOS, Windows, musl) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ENV_ALLOCATOR = "SAGEBENCH_ALLOCATOR"
ENV_LINGER = "SAGEBENCH_ALLOCATOR_LINGER"
#: seconds a closed block's setting stays in force (``SAGEBENCH_ALLOCATOR_LINGER`` overrides; 0: none)
DEFAULT_LINGER_S = 2.0
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: what :func:`tune_allocator` and :func:`reuse_large_blocks` set (bytes)
TUNED = {"mmap_threshold": 1 << 30, "trim_threshold": 2 ** 31 - 1, "top_pad": 64 << 20}
#: glibc's settings in a process whose dynamic mmap threshold has reached its 64-bit ceiling (32 MiB; the
#: trim threshold follows at twice it) with the default top pad: what a :func:`reuse_large_blocks` block
#: leaves behind
GLIBC_STEADY = {"mmap_threshold": 32 << 20, "trim_threshold": 64 << 20, "top_pad": 128 << 10}
_PARAMS = {"mmap_threshold": _M_MMAP_THRESHOLD, "trim_threshold": _M_TRIM_THRESHOLD, "top_pad": _M_TOP_PAD}

_applied: dict[str, int] | None = None  # process-wide, by tune_allocator
_scoped: dict[str, int] | None = None  # inside reuse_large_blocks
_depth = 0
_lock = threading.Lock()
_release_timer: threading.Timer | None = None  # pending release of a closed block's setting
_libc: ctypes.CDLL | None | bool = False  # False: not looked up yet; None: no glibc


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is False:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            for name in ("gnu_get_libc_version", "mallopt", "malloc_trim"):  # glibc's, or AttributeError
                getattr(libc, name)
        except (OSError, AttributeError):
            libc = None
        else:
            libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        _libc = libc
    return _libc


def _mallopt(settings: dict[str, int]) -> bool:
    libc = _glibc()
    return libc is not None and all(libc.mallopt(_PARAMS[k], int(v)) == 1 for k, v in settings.items())


def opted_out() -> bool:
    """True when ``SAGEBENCH_ALLOCATOR=system``: sagebench leaves the C allocator alone."""
    return os.environ.get(ENV_ALLOCATOR, "").strip().lower() == "system"


def tune_allocator(*, mmap_threshold: int = TUNED["mmap_threshold"], trim_threshold: int = TUNED["trim_threshold"],
                   top_pad: int = TUNED["top_pad"]) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD`` and ``M_TOP_PAD`` (bytes) for this process.

    Returns True when glibc accepted all three, False where there is no glibc ``mallopt``.
    """
    global _applied
    settings = {"mmap_threshold": mmap_threshold, "trim_threshold": trim_threshold, "top_pad": top_pad}
    with _lock:
        ok = _mallopt(settings)
        if ok:
            _applied = settings
    return ok


def allocator_settings() -> dict[str, int] | None:
    """The settings sagebench has in force in this process now: :func:`tune_allocator`'s, else those of an
    open or still lingering :func:`reuse_large_blocks` block, else None (glibc as the process left it)."""
    current = _applied or _scoped
    return dict(current) if current else None


def linger_seconds() -> float:
    """How long (s) a closed :func:`reuse_large_blocks` block's setting stays in force: ``SAGEBENCH_ALLOCATOR_LINGER``
    (a number of seconds >= 0), else :data:`DEFAULT_LINGER_S`."""
    raw = os.environ.get(ENV_LINGER, "").strip()
    if not raw:
        return DEFAULT_LINGER_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{ENV_LINGER}={raw!r}: expected a number of seconds >= 0")
    return value


def _cancel_release() -> None:
    global _release_timer
    if _release_timer is not None:
        _release_timer.cancel()
        _release_timer = None


def _release() -> None:
    """Restore :data:`GLIBC_STEADY` and give freed memory back; the caller holds ``_lock``, no block is open."""
    global _scoped
    _cancel_release()
    if _scoped is not None:
        _scoped = None
        if _applied is None:  # tune_allocator meanwhile: its setting stays
            _mallopt(GLIBC_STEADY)
            _glibc().malloc_trim(0)


def _release_if_idle() -> None:
    with _lock:  # runs in the timer's own thread: still the pending one (not cancelled, nor a later block's)?
        if _depth == 0 and _release_timer is threading.current_thread():
            _release()


def release_now() -> None:
    """End a closed block's lingering setting now (see :func:`linger_seconds`): glibc's steady state is restored and
    freed memory given back. Does nothing inside an open block or where nothing was set."""
    with _lock:
        if _depth == 0:
            _release()


@contextmanager
def reuse_large_blocks() -> Iterator[dict[str, int] | None]:
    """Serve large blocks from glibc's heap and keep freed memory inside the block; after the outermost block,
    restore :data:`GLIBC_STEADY` and ``malloc_trim(0)`` once :func:`linger_seconds` have passed without another
    block. Yields the settings in force (None where nothing was set: opted out, no glibc). Values computed
    inside are the same either way; only page faults go."""
    global _scoped, _depth, _release_timer
    linger = linger_seconds()  # a bad value fails here, before anything is set
    with _lock:
        _cancel_release()  # a lingering setting is taken over as it is
        if _depth == 0 and _scoped is None and _applied is None and not opted_out() and _mallopt(TUNED):
            _scoped = dict(TUNED)
        _depth += 1
    try:
        yield allocator_settings()
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _scoped is not None:  # the last block open: its linger applies
                if linger == 0 or _applied is not None:
                    _release()
                else:
                    _release_timer = threading.Timer(linger, _release_if_idle)
                    _release_timer.daemon = True
                    _release_timer.start()


def _after_fork_in_child() -> None:
    # the timer thread does not exist in a forked child: release there at once rather than never
    global _lock
    _lock = threading.Lock()
    if _release_timer is not None and _depth == 0:
        _release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def tune_for_command() -> bool:
    """The ``sagebench`` command's start-up: :func:`tune_allocator` unless ``SAGEBENCH_ALLOCATOR=system``."""
    if opted_out():
        return False
    return tune_allocator()


__all__ = ["DEFAULT_LINGER_S", "ENV_ALLOCATOR", "ENV_LINGER", "GLIBC_STEADY", "TUNED", "allocator_settings",
           "linger_seconds", "opted_out", "release_now", "reuse_large_blocks", "tune_allocator", "tune_for_command"]
