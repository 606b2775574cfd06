"""Checkpoints that load with ``torch.load(..., weights_only=True)``.

Two kinds of files are involved:

* **Model weights** (what sagebench writes after training and what users hand in for the frozen protocol)
  are plain ``{"state_dict": {name: Tensor}, "meta": {str: str|int|float|bool|None}}`` dicts written by
  :func:`save_weights` and read by :func:`load_state_dict` with the safe loader. Released mmdet/mmseg
  checkpoints (``meta`` + ``state_dict``) load the same way.
* **mmengine resume checkpoints** (``iter_*.pth`` from ``CheckpointHook``): mmengine stores its
  ``MessageHub`` state there, i.e. ``HistoryBuffer`` objects whose pickled state references their
  statistics methods through ``builtins.getattr``, plus numpy arrays and scalars. The safe unpickler rejects
  them, and allow-listing ``getattr`` would re-open arbitrary code execution, so sagebench does not
  allow-list those files: :class:`SafeResumeStateHook` (added to every training run) rewrites the resume
  state into plain tensors/lists/numbers just before mmengine saves it and rebuilds the ``HistoryBuffer``
  objects right after mmengine loads it. Resume checkpoints written by sagebench therefore load with
  ``weights_only=True`` and nothing allow-listed. The only allow-list (:func:`mmengine_resume_globals`,
  scoped to a block) covers numpy's array/scalar reconstruction for third-party checkpoints whose ``meta``
  holds numpy values. The check is never switched off: no ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``, no
  ``weights_only=False``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sagebench.errors import WeightsError
from sagebench.io import atomic_path


def _numpy_globals() -> list[Any]:
    """numpy reconstruction helpers and dtype classes that a numpy array/scalar pickle references."""
    out: list[Any] = [np.ndarray, np.dtype]
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    out += [_reconstruct, scalar]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:  # numpy >= 1.25: one class per dtype, referenced by pickles of np.dtype
        for n in dir(dtypes):
            obj = getattr(dtypes, n)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                out.append(obj)
    return out


def safe_mmengine_globals() -> list[Any]:
    """The allow-list used by :func:`mmengine_resume_globals`: numpy array/scalar reconstruction only."""
    return _numpy_globals()


@contextlib.contextmanager
def mmengine_resume_globals() -> Iterator[None]:
    """Allow-list numpy's data-only reconstruction helpers for ``torch.load(weights_only=True)``, scoped.

    mmengine's own ``torch.load`` calls rely on torch's default ``weights_only=True``; inside this block they
    also accept numpy arrays/scalars (e.g. in a checkpoint's ``meta``). ``HistoryBuffer`` and ``getattr``
    are deliberately *not* allowed (see module docstring). The previous allow-list is restored on exit,
    also on error. Refuses to run when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set, because then nothing
    would be checked.
    """
    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "").strip() not in ("", "0"):
        raise WeightsError("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: sagebench refuses to load checkpoints with "
                           "the safe loader switched off; unset it")
    with torch.serialization.safe_globals(safe_mmengine_globals()):
        yield


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> str:
    """Write ``{"state_dict", "meta"}`` atomically; ``meta`` values must be plain str/int/float/bool/None.

    Returns the sha256 of the written file.
    """
    for k, v in meta.items():
        if type(v) not in (str, int, float, bool, type(None)):  # exact types: np.float64 is a float subclass
            raise TypeError(f"meta[{k!r}] must be a plain scalar for a weights-only checkpoint, got {type(v)}")
    sd = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": sd, "meta": dict(meta)}, tmp)
    return file_sha256(path)


def load_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load model weights safely (``weights_only=True``) from a sagebench or mmengine checkpoint.

    Accepts ``{"state_dict": ...}`` (sagebench, mmengine, mmdet, mmseg), ``{"model": ...}`` or a bare
    ``{name: Tensor}`` dict. Returns ``(state_dict, meta)``; ``meta`` is ``{}`` where absent.
    Raises :class:`WeightsError` naming the file when it is missing, not a checkpoint, or holds
    objects outside the allow-list.
    """
    from sagebench.weights import load_checkpoint

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint file not found")
    try:
        with mmengine_resume_globals():  # the one loader, with mmengine's data-only globals allowed
            obj, *_ = load_checkpoint(path, what="checkpoint with torch.load(weights_only=True)")
    except WeightsError as e:  # pickle errors carry the offending global's name
        text = f"{e} {e.__cause__ or ''}"
        hint = (" (an mmengine training checkpoint with its MessageHub state: keep only 'state_dict' and "
                "'meta', e.g. torch.save({'state_dict': ckpt['state_dict']}, out) where you trust the file)"
                if "getattr" in text or "HistoryBuffer" in text else "")
        raise WeightsError(f"{e}{hint}") from e.__cause__
    meta: dict[str, Any] = {}
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        sd = obj["state_dict"]
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        sd = obj["model"]
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = obj
    else:
        raise WeightsError(f"{path}: not a model checkpoint (expected a dict with 'state_dict' or tensors)")
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: state_dict entries are not tensors: {bad[:5]}")
    if any(k.startswith("module.") for k in sd):
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
    return sd, dict(meta)


# ------------------------------------------------------------------------------- safe resume state
_HB = "__sagebench_history_buffer__"


def _plain(x: Any) -> Any:
    """numpy scalars -> Python numbers, numpy arrays -> tensors, HistoryBuffer -> tagged dict; recursive."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if isinstance(x, HistoryBuffer):
        return {_HB: True, "log": torch.from_numpy(np.asarray(x._log_history, dtype=np.float64).copy()),
                "count": torch.from_numpy(np.asarray(x._count_history, dtype=np.float64).copy()),
                "max_length": int(x.max_length)}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x.copy()) if x.dtype != object else [_plain(v) for v in x.tolist()]
    if isinstance(x, dict):
        return type(x)((k, _plain(v)) for k, v in x.items()) if type(x) is not dict else \
            {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        vals = [_plain(v) for v in x]
        return vals if isinstance(x, list) else tuple(vals)
    return x


def _rebuild(x: Any) -> Any:
    from mmengine.logging.history_buffer import HistoryBuffer

    if isinstance(x, dict) and x.get(_HB) is True:
        return HistoryBuffer(x["log"].numpy(), x["count"].numpy(), x["max_length"])
    if isinstance(x, dict):
        return {k: _rebuild(v) for k, v in x.items()}
    return x


def _register_hook() -> type:
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    @HOOKS.register_module(name="SafeResumeStateHook", force=True)
    class SafeResumeStateHook(Hook):
        """Keeps mmengine resume checkpoints loadable with ``torch.load(weights_only=True)``.

        ``before_save_checkpoint``: ``message_hub`` and ``meta`` become plain tensors/lists/numbers.
        ``after_load_checkpoint``: the ``HistoryBuffer`` objects are rebuilt before the Runner hands the
        state to its ``MessageHub``.
        """

        priority = "LOWEST"

        def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
            for key in ("message_hub", "meta"):
                if key in checkpoint:
                    checkpoint[key] = _plain(checkpoint[key])

        def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
            if "message_hub" in checkpoint:
                checkpoint["message_hub"] = _rebuild(checkpoint["message_hub"])

    return SafeResumeStateHook


SafeResumeStateHook = _register_hook()
