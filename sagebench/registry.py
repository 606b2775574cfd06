"""The module mmengine imports for the ``sagebench`` registry scope (``<scope>.registry``).

mmengine looks for it whenever it builds in the ``sagebench`` scope; without it every build logs "Failed to
import `None.registry`". The registries themselves live in their layers: ``FUSION_MODELS`` in
:mod:`sagebench.fusion_models.registry` and ``TASKS`` in :mod:`sagebench.tasks.base` (reached here
lazily, so the core imports no upper layer).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {"FUSION_MODELS": "sagebench.fusion_models.registry", "TASKS": "sagebench.tasks.base"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sagebench.registry' has no attribute {name!r}")
