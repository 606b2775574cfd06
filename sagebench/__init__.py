"""sagebench: a benchmark suite for infrared-visible image fusion.

Data flows one way: dataset -> fusion model -> fused images (cached) -> tasks -> results -> leaderboard.

Public entry points (imported lazily so that ``import sagebench`` stays cheap)::

    from sagebench import create_model, list_models
    model = create_model("sage_student")          # released weights, fetched + sha256-checked
    fused = model.fuse(ir, vis)                   # float tensors in [0, 1]
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "create_model": "sagebench.fusion_models",
    "build_fusion_model": "sagebench.fusion_models",
    "list_models": "sagebench.fusion_models",
    "FUSION_MODELS": "sagebench.fusion_models",
    "FusionModel": "sagebench.fusion_models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sagebench' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
