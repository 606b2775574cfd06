"""Fusion-quality metrics (torch, batched, CPU/CUDA).

Public API::

    from sagebench.tasks.metrics import create_metric, list_metrics, compute_metrics, evaluate_folder

    vif = create_metric("VIF", profile="cddfuse")       # a Metric object: direction, unit, range, reference
    vif(fused, ir, vis)                                  # B x C x H x W in [0, 1] -> float64 tensor (B,)
    compute_metrics(fused, ir, vis, metrics=["EN", "SSIM"], profile="ivif_zoo")   # {name: tensor (B,)}
    evaluate_folder("results/sage", "path/to/M3FD")      # pandas DataFrame, one row per image

Profiles (conventions as data): ``default``, ``cddfuse``, ``ivif_zoo``, ``tang``, ``vifb`` (see :mod:`.profiles`).
"""

from __future__ import annotations

from typing import Any

import torch

from sagebench.tasks.metrics import (  # noqa: F401  (registration)
    basic,
    edge,
    fmi,
    information,
    perceptual,
    phase,
    similarity,
    structural,
)
from sagebench.tasks.metrics._core import (
    METRICS,
    GreyTriple,
    Metric,
    canonical_name,
    ordered_names,
    register_metric,
)
from sagebench.tasks.metrics.profiles import PROFILES, Profile, get_profile, list_profiles

#: every metric, in display order (each metric declares its place when it registers)
ALL_METRICS: tuple[str, ...] = ordered_names()
#: what ``metrics=None`` computes: all but the two FMI variants, which cost ~10x the rest together on CPU
#: (ask for them by name, or pass ``metrics="all"``); a metric registered with ``default=False`` is left out
DEFAULT_METRICS: tuple[str, ...] = ordered_names(default_only=True)


def resolve_metric_names(metrics: list[str] | str | None) -> list[str]:
    """``None`` -> the default suite; ``"all"`` -> every registered metric (both in declared order, a user's
    registered metrics included); names -> canonical names."""
    if metrics is None:
        return list(ordered_names(default_only=True))
    if isinstance(metrics, str):
        metrics = list(ordered_names()) if metrics.lower() == "all" else [n for n in metrics.split(",") if n]
    out: list[str] = []
    for n in metrics:
        if str(n).lower() == "all":
            out += [m for m in ordered_names() if m not in out]
        elif canonical_name(n) not in out:
            out.append(canonical_name(n))
    return out


def list_metrics(profile: str | None = None) -> list[str]:
    """Names of the registered metrics (all, or the ones a profile's reference code computes)."""
    names = list(ordered_names())  # also metrics registered after import (a user's own)
    if profile is not None:
        p = get_profile(profile)
        if p.native is not None:
            names = [n for n in names if n in p.native]
    return names


def create_metric(name: str, profile: str | Profile = "default", **opts: Any) -> Metric:
    """Build metric ``name`` with the conventions of ``profile``; keyword options override the profile.

    Options common to all metrics: ``gray`` ('bt601' | 'opencv' | 'pil'), ``data_range`` (1.0 for [0, 1]
    inputs, 255.0 for 0..255 inputs), ``quantize`` (round to integer grey levels). Raises ``ConfigError`` for
    unknown names or options.
    """
    canon = canonical_name(name)
    p = get_profile(profile)
    kw: dict[str, Any] = {"gray": p.gray, **p.metrics.get(canon, {}), **opts}
    metric = METRICS[canon](**kw)
    if canon in p.warnings and all(metric.opts.get(k) == v for k, v in p.metrics.get(canon, {}).items()):
        import warnings

        warnings.warn(f"{canon} under profile {p.name!r}: {p.warnings[canon]}", ProfileWarning, stacklevel=2)
    return metric


class ProfileWarning(UserWarning):
    """A profile reproduces a reference kit's known defect for this metric (the message says which)."""


def metric_table(metrics: list[str] | None = None, profile: str | Profile = "default") -> list[dict[str, Any]]:
    """One dict per metric: name, direction, unit, range, reference, description, config, native, and
    ``kit_name`` (what the profile's reference code calls it)."""
    import warnings

    p = get_profile(profile)
    rows = []
    for n in metrics or list_metrics():
        with warnings.catch_warnings():  # listing is not computing: no defect warnings here
            warnings.simplefilter("ignore", ProfileWarning)
            m = create_metric(n, p)
        info = m.info()
        info["native"] = p.native is None or m.name in p.native
        info["kit_name"] = p.kit_name(m.name)
        rows.append(info)
    return rows


def compute_metrics(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, metrics: list[str] | str | None = None,
                    profile: str | Profile = "default", **opts: Any) -> dict[str, torch.Tensor]:
    """Evaluate several metrics on a batch, sharing the grey conversion and common intermediates.

    Args:
        fused, ir, vis: float tensors ``B x C x H x W`` (C in 1, 3; colour is converted to luminance) with
            values in [0, 1] (or [0, 255] with ``data_range=255.0``), same B, H, W; any device.
        metrics: names, ``"all"``, or None for :data:`DEFAULT_METRICS` (everything but FMI).
        profile: convention profile name.
        opts: options applied to every metric (common ones: ``gray``, ``data_range``, ``quantize``).
    Returns:
        ``{metric name: float64 tensor (B,)}`` on the inputs' device, in the order requested.

    On the CPU it runs inside :func:`sagebench.memory.reuse_large_blocks` (large temporaries come from
    glibc's heap, not fresh pages; same numbers; ``SAGEBENCH_ALLOCATOR=system`` turns it off).
    """
    objs = [create_metric(n, profile, **opts) for n in resolve_metric_names(metrics)]
    if isinstance(fused, torch.Tensor) and fused.device.type == "cpu":
        from sagebench.memory import reuse_large_blocks

        with reuse_large_blocks():
            return _compute(objs, profile, fused, ir, vis)
    return _compute(objs, profile, fused, ir, vis)


def _compute(objs: list[Metric], profile: str | Profile, fused: torch.Tensor, ir: torch.Tensor | None,
             vis: torch.Tensor | None) -> dict[str, torch.Tensor]:
    if get_profile(profile).colour == "per_channel" and fused.ndim == 4 and fused.shape[1] == 3:
        return _per_channel(objs, fused, ir, vis)
    if fused.ndim == 4 and fused.shape[0] > 1 and fused.device.type == "cpu":
        # On CPU, one image at a time: a 768x1024 image's maps and spectra stay within the caches and below
        # the allocator's mmap threshold, which batching them does not (same numbers either way).
        for nm, t in (("ir", ir), ("vis", vis)):
            if t is not None and (not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[0] != fused.shape[0]):
                raise ValueError(f"{nm}: expected a B x C x H x W tensor with B = {fused.shape[0]} like fused, "
                                 f"got {tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")

        def item(t: torch.Tensor | None, i: int) -> torch.Tensor | None:
            return None if t is None else t[i:i + 1]

        parts = [_evaluate_all(objs, fused[i:i + 1], item(ir, i), item(vis, i)) for i in range(fused.shape[0])]
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return _evaluate_all(objs, fused, ir, vis)


def _per_channel(objs: list[Metric], fused: torch.Tensor, ir: torch.Tensor | None,
                 vis: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """VIFB's scoring of a colour fused image: each metric on (fused channel k, IR channel k or the grey IR,
    visible channel k or the grey visible), averaged over the three channels; a metric declaring
    ``colour_rule = "side_by_side"`` (VIFB's SF, which indexes the M x N x 3 array as M x 3N) is computed once
    on the channels placed side by side."""
    def channel(t: torch.Tensor | None, k: int) -> torch.Tensor | None:
        return t if t is None or t.shape[1] == 1 else t[:, k:k + 1]

    side = [m for m in objs if getattr(m, "colour_rule", "") == "side_by_side"]
    rest = [m for m in objs if m not in side]
    parts = [_evaluate_all(rest, channel(fused, k), channel(ir, k), channel(vis, k)) for k in range(3)] if rest else []
    out = {m.name: sum(p[m.name] for p in parts) / 3 for m in rest}
    if side:
        wide = torch.cat([fused[:, k:k + 1] for k in range(3)], dim=-1)
        out.update(_evaluate_all(side, wide, None, None))
    return {m.name: out[m.name] for m in objs}


def _evaluate_all(objs: list[Metric], fused: torch.Tensor, ir: torch.Tensor | None,
                  vis: torch.Tensor | None) -> dict[str, torch.Tensor]:
    groups: dict[tuple, GreyTriple] = {}
    out: dict[str, torch.Tensor] = {}
    order = _evaluation_order(objs)
    last = {(_grey_key(objs[i]), term): pos for pos, i in enumerate(order) for term in objs[i].shares}
    for pos, i in enumerate(order):
        m = objs[i]
        key = _grey_key(m)
        if key not in groups:
            groups[key] = m.prepare(fused, ir, vis)
        out[m.name] = m.evaluate(groups[key])
        for term in m.shares:  # shared terms of a large image take GBs: free each after its last user
            if last[(key, term)] == pos:
                groups[key].cache.pop(term, None)
    return {m.name: out[m.name] for m in objs}


def _grey_key(m: Metric) -> tuple:
    """The grey conversion a metric's triple is prepared with (metrics with the same key share one)."""
    return (m.gray, m.data_range, m.quantize)


def _evaluation_order(objs: list[Metric]) -> list[int]:
    """Indices of ``objs`` in the order to evaluate them: as listed, except that the later users of a term
    a metric shares (``Metric.shares``) run right after it, so the term (1 GB of spectra for a 4096 x 4096
    triple) is freed before the metrics between them run. Every metric's value is a function of the triple
    alone, so the order changes no value."""
    shared = [{(_grey_key(m), t) for t in m.shares} for m in objs]
    order: list[int] = []
    for i in range(len(objs)):
        if i in order:
            continue
        order.append(i)
        terms = set(shared[i])
        for j in range(i + 1, len(objs)):
            if j not in order and terms & shared[j]:
                order.append(j)
                terms |= shared[j]
    return order


def summarize(df: Any) -> Any:
    """Rows ``mean`` and ``std`` (sample standard deviation, n - 1; NaN for one image) of a per-image table,
    over each metric's finite values (the quality task lists the others in its ``undefined`` metadata)."""
    import numpy as np

    finite = df.replace([np.inf, -np.inf], np.nan)  # +-inf (PSNR of identical images) is left out like NaN
    return finite.agg(["mean", "std"]) if len(df) > 1 else finite.agg(["mean"]).reindex(["mean", "std"])


def evaluate_folder(fused_dir: Any, dataset: Any, metrics: list[str] | None = None,
                    profile: str | Profile = "default", **kw: Any) -> Any:
    """Score a folder of fused images ``<stem>.png`` against a dataset; see :func:`.folder.evaluate_folder`."""
    from sagebench.tasks.metrics.folder import evaluate_folder as _ev

    return _ev(fused_dir, dataset, metrics=metrics, profile=profile, **kw)


__all__ = [
    "ALL_METRICS", "DEFAULT_METRICS", "METRICS", "PROFILES", "GreyTriple", "Metric", "Profile", "ProfileWarning",
    "compute_metrics",
    "create_metric", "evaluate_folder", "get_profile", "list_metrics", "list_profiles", "metric_table",
    "register_metric", "resolve_metric_names", "summarize",
]
