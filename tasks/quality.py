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
                             device=ctx.device, **opts)
        summ = summarize(df)
        return TaskResult(
            task=self.name,
            summary={m: float(summ.loc["mean", m]) for m in df.columns},
            directions=dict(df.attrs["directions"]),
            per_image=df,
            meta={"profile": self.profile, "units": dict(df.attrs["units"]),
                  "references": dict(df.attrs["references"]),
                  "std": {m: float(summ.loc["std", m]) for m in df.columns},
                  "native": dict(df.attrs["native"]), "n_images": len(df)},
        )
