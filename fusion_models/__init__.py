"""Fusion methods. Every method is an ``nn.Module`` registered in :data:`FUSION_MODELS` and follows the
:class:`FusionModel` contract (``model.fuse(ir, vis) -> fused``)."""

from sagebench.fusion_models.base import PRECISIONS, FusionModel
from sagebench.fusion_models.registry import (
    FUSION_MODELS,
    build_fusion_model,
    create_model,
    get_model_class,
    list_models,
    list_pretrained,
)

# Registration side effects: import every module that defines methods.
from sagebench.fusion_models import identity, sage  # noqa: E402,F401  isort: skip
from sagebench.fusion_models import classical, zoo  # noqa: E402,F401  isort: skip

__all__ = ["FUSION_MODELS", "PRECISIONS", "FusionModel", "build_fusion_model", "create_model",
           "get_model_class", "list_models",
           "list_pretrained"]
