"""Downstream semantic segmentation on fused images: mmseg task networks, mIoU.

One class, ``segmentation``, for every protocol: ``protocol="retrain"`` (default), ``"frozen"`` or
``"eval"`` (a user ``checkpoint``), ``holdout=k`` inside one dataset; the names ``segmentation_eval``
and ``segmentation_holdout`` build the same class with those settings. Summary metrics, in percent and
higher-is-better: ``mIoU``, ``mAcc``, ``aAcc``, ``IoU_<class>`` for every class present in prediction or
ground truth, and, when ``key_classes`` is given, ``mIoU_key`` (mean IoU over those classes). Pixels
labelled 255 are ignored; class 0 counts unless ``reduce_zero_label=True``. See ``docs/downstream.md``.

Example::

    dict(type="segmentation", model="seg_tiny_fcn", protocol="retrain", max_iters=300)
"""

from __future__ import annotations

from typing import Any

from sagebench.tasks.downstream.classes import metric_suffix
from sagebench.tasks.downstream.task import DownstreamTask, register_kind


@register_kind("segmentation", classes_attr="seg_classes", default_model="seg_tiny_fcn")
class SegmentationTask(DownstreamTask):
    """mIoU of an mmseg segmenter trained/evaluated on fused images."""

    def palette_of(self, dataset: Any) -> list | None:
        pal = getattr(dataset, "seg_palette", None) or getattr(dataset, "palette", None)
        classes = self.classes_of(dataset) or []
        if isinstance(pal, (list, tuple)) and len(pal) == len(classes):
            return [list(map(int, p)) for p in pal]
        from sagebench.tasks.downstream.classes import SEG_SPECS

        tail = [c.lower() for c in classes[1:]]
        for spec in SEG_SPECS.values():  # a known label space (class 0's name varies: unlabelled/background)
            if len(spec.classes) == len(classes) and [c.lower() for c in spec.classes[1:]] == tail:
                return [list(p) for p in spec.palette]
        return None

    def summary_keys(self, metrics: dict[str, float]) -> dict[str, float]:
        out = {k: metrics.get(k, 0.0) for k in ("mIoU", "mAcc", "aAcc")}
        out.update({k: v for k, v in metrics.items() if k.startswith("IoU_")})
        if self.key_classes:
            iou = [metrics.get(f"IoU_{metric_suffix(c)}", 0.0) for c in self.key_classes]
            out["mIoU_key"] = sum(iou) / len(iou)
        return out
