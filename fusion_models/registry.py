"""The fusion-model registry: one mmengine ``Registry`` (child of mmengine's ``MODELS``) for every method."""

from __future__ import annotations

from typing import Any

from mmengine.registry import MODELS, DefaultScope, Registry

from sagebench.errors import UnknownNameError

FUSION_MODELS = Registry(
    "fusion_model", parent=MODELS, scope="sagebench", locations=["sagebench.fusion_models"])

#: Options every model accepts at build time, applied by :func:`build_fusion_model` after construction.
RUNTIME_OPTIONS = ("device", "precision", "channels_last", "fold_bn", "compile")


def build_fusion_model(cfg: str | dict[str, Any], **overrides: Any):
    """Build a fusion model from a config dict (``dict(type='sage_student', ...)``) or a registered name.

    Runtime options (``device``, ``precision`` in fp32/fp16/bf16, ``channels_last``, ``fold_bn``,
    ``compile``) may be given in the config or as keyword overrides; they are applied by
    :meth:`FusionModel.configure`. The model is returned in eval mode.
    """
    cfg = {"type": cfg} if isinstance(cfg, str) else dict(cfg)
    cfg.update(overrides)
    if "type" not in cfg:
        raise ValueError(f"fusion-model config needs a 'type' key: {cfg}")
    name = cfg["type"]
    if isinstance(name, str) and FUSION_MODELS.get(name) is None:
        raise UnknownNameError(f"unknown fusion model {name!r}{_close(name)}; registered: {', '.join(list_models())}")
    runtime = {k: cfg.pop(k) for k in RUNTIME_OPTIONS if k in cfg}
    # mmdet/mmseg runners set a global default scope ("mmdet", "mmseg"); build in ours regardless.
    with DefaultScope.overwrite_default_scope(FUSION_MODELS.scope):
        model = FUSION_MODELS.build(cfg)
    model.eval()
    model.configure(**runtime)
    return model


def _close(name: str) -> str:
    import difflib

    hit = difflib.get_close_matches(str(name), list_models(), n=1)
    return f" (did you mean {hit[0]!r}?)" if hit else ""


def create_model(name: str, **kwargs: Any):
    """timm-style shorthand: ``create_model('sage_student', device='cuda')``."""
    return build_fusion_model(dict(type=name, **kwargs))


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of registered fusion models, optionally filtered by a ``fnmatch`` pattern."""
    import fnmatch

    names = sorted(FUSION_MODELS.module_dict)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def get_model_class(name: str) -> type:
    cls = FUSION_MODELS.get(name)
    if cls is None:
        raise UnknownNameError(f"unknown fusion model {name!r}{_close(name)}; registered: {', '.join(list_models())}")
    return cls
