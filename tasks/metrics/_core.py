"""Metric base class, registry, conventions profiles and input preparation.

A metric is a small object (like torchmetrics / pyiqa metrics) that declares what it measures:

* ``direction``: ``"higher"`` or ``"lower"`` is better;
* ``unit``: e.g. ``"bits"``, ``"dB"``, ``"grey levels"``, ``""`` (dimensionless);
* ``range``: ``(low, high)`` of possible values (``math.inf`` where unbounded);
* ``reference``: ``"fused"`` (no-reference) or ``"fused+sources: <rule>"`` saying how the infrared and
  visible terms are combined (sum, mean, joint weighting).

Calling a metric on float tensors ``B x C x H x W`` in ``[0, data_range]`` returns a float64 tensor ``B``.
Colour images (C = 3) are converted to grey levels first (``gray`` option, luminance by default), then the
metrics work on the 0..255 scale (the scale all reference implementations use).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from sagebench.errors import ConfigError, ImageSizeError
from sagebench.tasks.metrics._ops import GRAY_MODES, rgb_to_gray_levels

# --------------------------------------------------------------------------------------------------
# Prepared inputs
# --------------------------------------------------------------------------------------------------


@dataclass
class GreyTriple:
    """Fused, infrared and visible images as float64 ``B x H x W`` grey levels on 0..255.

    ``cache`` holds intermediates several metrics share (keyed by the producing function's name).
    """

    f: torch.Tensor
    a: torch.Tensor | None = None
    b: torch.Tensor | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]


def to_grey_levels(x: torch.Tensor, *, gray: str = "bt601", data_range: float = 1.0, quantize: bool = True,
                   name: str = "image") -> torch.Tensor:
    """``B x C x H x W``, ``C x H x W`` (C in 1, 3) or ``H x W`` in [0, data_range] -> float64 ``B x H x W`` on 0..255.

    ``quantize`` rounds to integer levels (what 8-bit files hold; needed by the histogram metrics).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch tensor, got {type(x).__name__}")
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:  # one image, C x H x W
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{name}: expected B x C x H x W with C in (1, 3), got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        x = x.double()
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    x = x.double()
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    tol = 1e-6 * data_range
    if lo < -tol or hi > data_range + tol:
        raise ValueError(f"{name}: values span [{lo:g}, {hi:g}], outside [0, {data_range:g}] "
                         f"(pass data_range=255.0 for 0..255 inputs)")
    x = x * (255.0 / data_range)
    if x.shape[1] == 3:
        return rgb_to_gray_levels(x, gray, quantize=quantize)
    x = x[:, 0]
    return torch.round(x) if quantize else x


# --------------------------------------------------------------------------------------------------
# Metric base class and registry
# --------------------------------------------------------------------------------------------------
METRICS: dict[str, type[Metric]] = {}
_ALIASES: dict[str, str] = {}


def register_metric(*aliases: str, order: int = 1000, default: bool = True) -> Callable[[type[Metric]], type[Metric]]:
    """Class decorator: register a :class:`Metric` subclass under ``cls.name`` and ``aliases``.

    Args:
        aliases: other names it answers to (case-insensitive, ``-`` = ``_``).
        order: its place in tables and in ``metrics="all"`` (lower first; ties keep registration order).
        default: whether ``metrics=None`` (the default suite) includes it (False for slow metrics).
    A user's metric registers the same way; nothing else needs editing.
    """

    def deco(cls: type[Metric]) -> type[Metric]:
        if cls.name in METRICS:
            raise KeyError(f"metric {cls.name!r} registered twice")
        cls.order, cls.in_default_suite = int(order), bool(default)
        METRICS[cls.name] = cls
        for key in (cls.name, *aliases):
            _ALIASES[key.lower().replace("-", "_")] = cls.name
        return cls

    return deco


def ordered_names(*, default_only: bool = False) -> tuple[str, ...]:
    """Registered metric names by their declared ``order`` (the default suite only, if asked)."""
    ranked = sorted(enumerate(METRICS.values()), key=lambda item: (item[1].order, item[0]))
    return tuple(cls.name for _, cls in ranked if cls.in_default_suite or not default_only)


def canonical_name(name: str) -> str:
    key = str(name).lower().replace("-", "_")
    if key not in _ALIASES:
        raise ConfigError(f"unknown metric {name!r}; available: {', '.join(METRICS)}")
    return _ALIASES[key]


class Metric:
    """Base class. Subclasses set the class attributes and implement :meth:`compute`.

    Options common to every metric: ``gray`` (``bt601`` | ``opencv`` | ``pil``: grey conversion of colour
    inputs), ``data_range`` (1.0 for [0, 1] inputs, 255.0 for 0..255 inputs), ``quantize`` (round to integer
    grey levels, default True). Metric-specific options are listed in ``options`` with their defaults.
    """

    name: ClassVar[str] = "metric"
    direction: ClassVar[str] = "higher"
    reference: ClassVar[str] = "fused"
    description: ClassVar[str] = ""
    #: metric-specific options and their defaults (the default convention of the spec, section 5).
    options: ClassVar[dict[str, Any]] = {}
    #: allowed values of options that take a fixed set of choices.
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    #: place in tables and in ``metrics="all"``, and membership of the default suite (set by
    #: :func:`register_metric`).
    order: ClassVar[int] = 1000
    in_default_suite: ClassVar[bool] = True
    #: the smallest height and width (pixels) the metric is defined for; smaller images are a clear error.
    min_size: ClassVar[int] = 1
    #: when the value is not a finite number (constant images and the like), and what it is then; "" when
    #: the metric is finite for every input of at least ``min_size``.
    degenerate: ClassVar[str] = ""
    #: "" for a metric that costs milliseconds; otherwise how slow it is (why it is not in the default suite)
    cost: ClassVar[str] = ""
    #: the :meth:`GreyTriple.cached` terms it shares with other metrics (maps, spectra, histograms):
    #: :func:`~sagebench.tasks.metrics.compute_metrics` frees each after the last metric of the call that
    #: declares it (a term used but not declared is only recomputed, never wrong; a test keeps them in sync)
    shares: ClassVar[tuple[str, ...]] = ()
    #: under a ``per_channel`` profile (VIFB): ``"per_channel"`` (averaged over the RGB channels) or
    #: ``"side_by_side"`` (computed once on the channels placed side by side)
    colour_rule: ClassVar[str] = "per_channel"

    def __init__(self, gray: str = "bt601", data_range: float = 1.0, quantize: bool = True, **opts: Any) -> None:
        if gray not in GRAY_MODES:
            raise ConfigError(f"{self.name}: unknown gray conversion {gray!r}; choose one of {', '.join(GRAY_MODES)}")
        unknown = set(opts) - set(self.options)
        if unknown:
            raise ConfigError(f"{self.name}: unknown option(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(sorted(self.options)) or 'none'}")
        self.gray = gray
        self.data_range = float(data_range)
        self.quantize = bool(quantize)
        self.opts: dict[str, Any] = {**self.options, **opts}
        for key, allowed in self.choices.items():
            if self.opts[key] not in allowed:
                raise ConfigError(f"{self.name}: option {key}={self.opts[key]!r} not in {allowed}")

    # --- declared properties (may depend on options) -------------------------------------------
    @property
    def unit(self) -> str:
        return ""

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, math.inf)

    @property
    def needs_sources(self) -> bool:
        return self.reference != "fused"

    def config(self) -> dict[str, Any]:
        """Everything that changes the value (for provenance)."""
        return {"gray": self.gray, "data_range": self.data_range, "quantize": self.quantize, **self.opts}

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction, "unit": self.unit, "range": self.range,
                "reference": self.reference, "description": self.description, "min_size": self.min_size,
                "degenerate": self.degenerate, "cost": self.cost,
                "config": self.config()}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.opts.items())
        return f"{type(self).__name__}({opts})"

    # --- evaluation ---------------------------------------------------------------------------
    def prepare(self, fused: torch.Tensor, ir: torch.Tensor | None = None,
                vis: torch.Tensor | None = None) -> GreyTriple:
        f = to_grey_levels(fused, gray=self.gray, data_range=self.data_range, quantize=self.quantize, name="fused")
        a = b = None
        if ir is not None:
            a = to_grey_levels(ir, gray=self.gray, data_range=self.data_range, quantize=self.quantize, name="ir")
        if vis is not None:
            b = to_grey_levels(vis, gray=self.gray, data_range=self.data_range, quantize=self.quantize, name="vis")
        for t, nm in ((a, "ir"), (b, "vis")):
            if t is not None and t.shape != f.shape:
                raise ValueError(f"{nm} shape {tuple(t.shape)} differs from fused shape {tuple(f.shape)}")
        return GreyTriple(f, a.to(f.device) if a is not None else None, b.to(f.device) if b is not None else None)

    def __call__(self, fused: torch.Tensor, ir: torch.Tensor | None = None,
                 vis: torch.Tensor | None = None) -> torch.Tensor:
        """Score ``fused`` (``B x C x H x W`` in [0, data_range]) against ``ir`` and ``vis`` -> float64 ``B``."""
        x = self.prepare(fused, ir, vis)
        return self.evaluate(x)

    def evaluate(self, x: GreyTriple) -> torch.Tensor:
        if self.needs_sources and (x.a is None or x.b is None):
            raise ValueError(f"{self.name} compares the fused image with both sources: pass ir and vis")
        h, w = x.f.shape[-2:]
        if min(h, w) < self.min_size:
            raise ImageSizeError(f"{self.name} needs images of at least {self.min_size} x {self.min_size} pixels "
                             f"(shorter side > {self.min_size - 1}), got {h} x {w} (H x W)")
        return self.compute(x)

    def compute(self, x: GreyTriple) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def iter_metric_classes() -> Iterable[type[Metric]]:
    return METRICS.values()
