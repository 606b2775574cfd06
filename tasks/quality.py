"""The ``quality`` task: classic fusion-quality metrics of a method's fused images on a dataset."""

from __future__ import annotations

from typing import Any

from sagebench.tasks.base import TASKS, Task, TaskContext, TaskResult


@TASKS.register_module(name="quality")
class QualityTask(Task):
    """Per-image fusion-quality metrics and their means.

    Args:
        metrics: metric names, ``"all"``, or None for the default set (every metric but FMI).
        profile: scoring conventions (``default``, ``cddfuse``, ``ivif_zoo``).
        gray: optional grey conversion override (``bt601``, ``opencv``, ``pil``).
    """

    name = "quality"

    def __init__(self, metrics: list[str] | str | None = None, profile: str = "default",
                 gray: str | None = None) -> None:
        from sagebench.tasks.metrics import create_metric, get_profile, resolve_metric_names

        self.profile = get_profile(profile).name
        self.gray = gray
        opts = {"gray": gray} if gray else {}
        # Validate names and options now, not after fusing a whole dataset.
        self.metrics = [create_metric(n, self.profile, **opts).name for n in resolve_metric_names(metrics)]

    def _profile_warnings(self) -> dict[str, str]:
        """The profile's warnings for the metrics computed (a kit's defect the profile reproduces)."""
        from sagebench.tasks.metrics import get_profile

        warned = get_profile(self.profile).warnings
        return {m: warned[m] for m in self.metrics if m in warned}

    def config(self) -> dict[str, Any]:
        from sagebench.tasks.metrics import create_metric

        opts = {"gray": self.gray} if self.gray else {}
        return {"profile": self.profile, "metrics": list(self.metrics),
                "settings": {n: create_metric(n, self.profile, **opts).config() for n in self.metrics}}

    def evaluate(self, ctx: TaskContext) -> TaskResult:
        from sagebench.errors import ConfigError
        from sagebench.tasks.metrics import evaluate_folder, summarize

        if ctx.fused_dir is None:
            raise ConfigError("quality task: no folder of fused images (ctx.fused_dir is None)")
        opts = {"gray": self.gray} if self.gray else {}
        df = evaluate_folder(ctx.fused_dir, ctx.dataset, metrics=self.metrics, profile=self.profile,
                             device=ctx.device, images=ctx.fused_images, **opts)
        summ = summarize(df)
        undefined = undefined_values(df, self.profile, opts)
        return TaskResult(
            task=self.name,
            summary={m: float(summ.loc["mean", m]) for m in df.columns},
            directions=dict(df.attrs["directions"]),
            per_image=df,
            meta={"profile": self.profile, "units": dict(df.attrs["units"]),
                  "references": dict(df.attrs["references"]),
                  "std": {m: float(summ.loc["std", m]) for m in df.columns},
                  "native": dict(df.attrs["native"]), "n_images": len(df),
                  **({"profile_warnings": warned} if (warned := self._profile_warnings()) else {}),
                  **({"undefined": undefined} if undefined else {})},
        )


def undefined_values(df: Any, profile: str, opts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per metric, the images whose value is not finite, with the metric's documented reason. Means and
    standard deviations are over the finite values; these are the ones left out (never silently)."""
    import numpy as np

    from sagebench.tasks.metrics import create_metric

    out: dict[str, dict[str, Any]] = {}
    for m in df.columns:
        vals = df[m].to_numpy(dtype=float)
        bad = ~np.isfinite(vals)
        if bad.any():
            images = [str(i) for i in df.index[bad]]
            out[m] = {"n": int(bad.sum()), "images": images[:20] + (["..."] if len(images) > 20 else []),
                      "values": sorted({"nan" if np.isnan(v) else ("+inf" if v > 0 else "-inf") for v in vals[bad]}),
                      "reason": create_metric(m, profile, **opts).degenerate or "not finite"}
    return out
