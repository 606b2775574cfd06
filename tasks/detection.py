"""Downstream detection on fused images: mmdet task networks, COCO box AP.

One class, ``detection``, for every protocol: ``protocol="retrain"`` (per method, the default),
``"frozen"`` (one reference network trained once, or a user ``checkpoint``) and ``"eval"`` (score with a
user ``checkpoint``; needs no training split); ``holdout=k`` retrains inside one labelled dataset. The
names ``detection_eval`` and ``detection_holdout`` build the same class with those settings. Summary metrics, all in
percent and higher-is-better: ``mAP`` (AP@[.5:.95]), ``mAP50``, ``mAP75``, ``AP_<class>`` and
``AP50_<class>`` for every class with ground truth in the test split, and, when ``key_classes`` is
given, ``mAP_key`` / ``mAP50_key``: the mean over those classes (e.g. the classes only infrared shows
at night). A run that detects nothing scores 0. See ``docs/downstream.md``.

Example::

    dict(type="detection", model="det_tiny_fcos", protocol="retrain", max_iters=300)
"""

from __future__ import annotations

from sagebench.tasks.downstream.classes import metric_suffix
from sagebench.tasks.downstream.task import DownstreamTask, register_kind


@register_kind("detection", classes_attr="det_classes", default_model="det_tiny_fcos")
class DetectionTask(DownstreamTask):
    """COCO-style box AP of an mmdet detector trained/evaluated on fused images."""

    def summary_keys(self, metrics: dict[str, float]) -> dict[str, float]:
        out = {k: metrics.get(k, 0.0) for k in ("mAP", "mAP50", "mAP75")}
        out.update({k: v for k, v in metrics.items() if k.startswith(("AP_", "AP50_"))})
        if self.key_classes:
            ap = [metrics.get(f"AP_{metric_suffix(c)}", 0.0) for c in self.key_classes]
            ap50 = [metrics.get(f"AP50_{metric_suffix(c)}", 0.0) for c in self.key_classes]
            out["mAP_key"] = sum(ap) / len(ap)
            out["mAP50_key"] = sum(ap50) / len(ap50)
        return out
