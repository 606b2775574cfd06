"""Helpers shared by the ported networks: checkpoint loading, 8-bit output emulation, OpenCV's
fixed-point YCrCb -> RGB."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch

#: Licence text of weights whose upstream repository states none (never mirrored: ``redistributable=False``).
NO_LICENCE = "none stated upstream (no LICENSE file; all rights reserved by default)"

# OpenCV YCrCb2RGB_i fixed-point coefficients (shift 14): Cr->R, Cr->G, Cb->G, Cb->B.
_SHIFT = 14
_C_CR_R, _C_CR_G, _C_CB_G, _C_CB_B = 22987, -11698, -5636, 29049


def load_state(weights: str | os.PathLike) -> tuple[Any, str, str]:
    """Load a checkpoint given as a manifest name or a path with ``torch.load(weights_only=True,
    map_location='cpu')``. Returns ``(object, name, sha256)``; raises :class:`WeightsError` when neither."""
    from sagebench.weights import load_checkpoint

    state, _path, name, sha = load_checkpoint(weights)
    return state, name, sha


def load_parts(model: torch.nn.Module, weights: str | os.PathLike, parts: dict[str, str], *,
               strip_prefix: str | None = None, strict: bool = True) -> tuple[str, str]:
    """Load a checkpoint holding one state_dict per sub-network (``{checkpoint key: attribute of model}``),
    each strictly into its attribute; a missing key is a :class:`WeightsError` naming the file. Returns
    ``(name, sha256)`` of the checkpoint."""
    from sagebench.errors import WeightsError
    from sagebench.weights import load_checkpoint, load_state_into

    state, path, name, sha = load_checkpoint(weights, what=f"{type(model).__name__} weights")
    if not isinstance(state, dict) or not all(k in state for k in parts):
        have = sorted(state)[:6] if isinstance(state, dict) else type(state).__name__
        raise WeightsError(f"{path}: not a {type(model).__name__} release: needs entries {sorted(parts)}, has {have}")
    for key, attr in parts.items():
        sub = state[key]
        if strip_prefix and isinstance(sub, dict):
            sub = {k.removeprefix(strip_prefix): v for k, v in sub.items()}
        load_state_into(getattr(model, attr), sub, source=f"{path} [{key}]", strict=strict)
    return name, sha


def load_each(parts: list[tuple[torch.nn.Module, str | os.PathLike]], *, strict: bool = True) -> tuple[str, str]:
    """Load one checkpoint (manifest name or path) into each sub-network, strictly. Returns ``(name, sha256)``
    for the whole model: the names joined by ``+`` and :func:`combined_sha` of the files' hashes."""
    from sagebench.weights import load_state_into

    names, shas = [], []
    for module, weights in parts:
        state, name, sha = load_state(weights)
        load_state_into(module, state, source=str(weights), strict=strict)
        names.append(name)
        shas.append(sha)
    return "+".join(names), combined_sha(*shas)


def combined_sha(*shas: str) -> str:
    """One provenance hash for a model made of several checkpoint files."""
    return hashlib.sha256("".join(shas).encode()).hexdigest()


def minmax_stretch(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Per image of ``B x C x H x W``: ``(x - min) / (max - min + eps)`` over all its channels and pixels (the
    stretch most releases' test scripts apply before saving)."""
    flat = x.flatten(1)
    lo = flat.min(1).values.view(-1, 1, 1, 1)
    hi = flat.max(1).values.view(-1, 1, 1, 1)
    return (x - lo) / (hi - lo + eps) if eps else (x - lo) / (hi - lo)


def floor_8bit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1], scale to 0..255 and **truncate** (``uint8(x * 255)``), returned as ``k / 255``.
    Writing the result with :func:`sagebench.io.to_uint8` (which rounds) gives exactly ``k``."""
    return torch.floor(x.clamp(0.0, 1.0) * 255.0) / 255.0


def levels(x: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] -> int64 8-bit levels ``round(255 x)`` (for values already on the 8-bit grid)."""
    return torch.round(x.double() * 255.0).clamp(0, 255).to(torch.int64)


def opencv_ycrcb_to_rgb_8bit(ycrcb: torch.Tensor) -> torch.Tensor:
    """OpenCV's 8-bit ``COLOR_YCrCb2RGB`` (fixed point, round-half-up, saturation) on a float
    ``B x 3 x H x W`` tensor whose values lie on the 8-bit grid (``k / 255``); returns RGB on that grid."""
    q = levels(ycrcb)
    y, cr, cb = q[:, 0:1], q[:, 1:2] - 128, q[:, 2:3] - 128
    half = 1 << (_SHIFT - 1)
    r = y + ((cr * _C_CR_R + half) >> _SHIFT)
    g = y + ((cb * _C_CB_G + cr * _C_CR_G + half) >> _SHIFT)
    b = y + ((cb * _C_CB_B + half) >> _SHIFT)
    return torch.cat([r, g, b], dim=1).clamp(0, 255).to(ycrcb.dtype) / 255.0


def require_size(model: object, x: torch.Tensor, min_hw: int = 2) -> None:
    """Raise a clear ``ValueError`` for images smaller than the network's padding allows."""
    h, w = x.shape[-2:]
    if h < min_hw or w < min_hw:
        raise ValueError(f"{type(model).__name__} needs images of at least {min_hw} x {min_hw} pixels "
                         f"(reflection padding / per-image statistics), got {h} x {w}")
