"""The fusion-model registry: one mmengine ``Registry`` (child of mmengine's ``MODELS``) for every method."""

from __future__ import annotations

from typing import Any

from mmengine.registry import MODELS, DefaultScope, Registry, build_from_cfg

from sagebench.errors import UnknownNameError

# mmengine's plain builder: its model builder (inherited from MODELS otherwise) imports mmengine.model, and with
# it the optimisers and torch.distributed (about a second), only to wrap lists of configs in nn.Sequential
FUSION_MODELS = Registry(
    "fusion_model", parent=MODELS, scope="sagebench", locations=["sagebench.fusion_models"],
    build_func=build_from_cfg)

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
    runtime = {k: cfg.pop(k) for k in RUNTIME_OPTIONS if k in cfg}
    model = None
    if isinstance(name, str) and "." in name and name not in FUSION_MODELS.module_dict:
        if name.partition(".")[0] in FUSION_MODELS.module_dict:
            cfg = {**cfg, **resolve_pretrained(name)}  # timm-style "arch.tag" (e.g. "tardal.plus")
            name = cfg["type"]
        else:  # "module.Class": a user's FusionModel or plain nn.Module (see fusion_models.external)
            from sagebench.fusion_models.external import build_external

            model = build_external(name, {k: v for k, v in cfg.items() if k != "type"})
    if model is None:
        if isinstance(name, str) and name not in FUSION_MODELS.module_dict:
            raise UnknownNameError(f"unknown fusion model {name!r}{_close(name)}; registered: "
                                   f"{', '.join(list_models())} (or a 'module.Class' with --include)")
        # mmdet/mmseg runners set a global default scope ("mmdet", "mmseg"); build in ours regardless.
        with DefaultScope.overwrite_default_scope(FUSION_MODELS.scope):
            model = FUSION_MODELS.build(cfg)
    model.eval()
    model.configure(**runtime)
    return model


def resolve_pretrained(name: str) -> dict[str, Any]:
    """``"arch.tag"`` -> the config it stands for (``type`` and ``weights``), from the ``pretrained_tags`` the
    class registered as ``arch`` declares beside its weights entries (``tardal.plus`` -> the TarDAL+
    release). Raises :class:`UnknownNameError` listing the tags of ``arch``."""
    arch, _, tag = name.partition(".")
    cls = get_model_class(arch)
    tags = getattr(cls, "pretrained_tags", {}) or {}
    if tag not in tags:
        known = ", ".join(f"{arch}.{t}" for t in tags) or "none"
        raise UnknownNameError(f"fusion model {arch!r} has no pretrained tag {tag!r}; tags: {known}")
    return {"type": arch, **tags[tag]}


def list_pretrained(pattern: str | None = None) -> list[str]:
    """Every ``arch.tag`` name (a registered method with one of its released weights), sorted."""
    import fnmatch

    out = [f"{n}.{t}" for n in list_models() for t in (getattr(get_model_class(n), "pretrained_tags", {}) or {})]
    return [n for n in out if pattern is None or fnmatch.fnmatch(n, pattern)]


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
