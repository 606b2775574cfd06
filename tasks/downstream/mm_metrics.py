"""mmdet/mmseg metrics with the numbers sagebench reports, registered in their ``METRICS`` registries.

* ``SagebenchCocoMetric`` (mmdet): mmdet's :class:`CocoMetric` collection and COCO evaluation, but it
  returns full-precision (unrounded) ``mAP`` (AP@[.5:.95]), ``mAP50``, ``mAP75`` and per-class ``AP_<c>``,
  ``AP50_<c>``, all in **percent**, and a run with no detections scores 0 (mmdet's own metric returns
  ``{}`` then). Classes without any ground-truth box in the test set are left out of the per-class keys
  (COCO gives them AP -1) and listed under ``absent_classes`` by the caller.
* ``SagebenchIoUMetric`` (mmseg): mmseg's :class:`IoUMetric` accumulation, returning ``mIoU``, ``mAcc``,
  ``aAcc`` and per-class ``IoU_<c>``, ``Acc_<c>`` in percent. Classes absent from both prediction and
  ground truth (NaN IoU) are left out of the mean, as in mmseg, and out of the per-class keys.
"""

from __future__ import annotations

import contextlib
import io
import os.path as osp
import tempfile
from collections import OrderedDict

import numpy as np
from mmdet.datasets.api_wrappers import COCOeval
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS as DET_METRICS
from mmengine.fileio import load
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS as SEG_METRICS

from sagebench.tasks.downstream.classes import metric_suffix


@DET_METRICS.register_module(force=True)
class SagebenchCocoMetric(CocoMetric):
    """COCO box AP in percent, unrounded, with per-class AP/AP50 and 0 for an empty prediction set."""

    default_prefix = "coco"

    def compute_metrics(self, results: list) -> dict[str, float]:
        gts, preds = zip(*results)
        with tempfile.TemporaryDirectory() as tmp:
            prefix = osp.join(tmp, "results")
            if self._coco_api is None:
                self._coco_api = __import__("mmdet.datasets.api_wrappers", fromlist=["COCO"]).COCO(
                    self.gt_to_coco_json(gt_dicts=gts, outfile_prefix=prefix))
            if self.cat_ids is None:
                self.cat_ids = self._coco_api.get_cat_ids(cat_names=self.dataset_meta["classes"])
            if self.img_ids is None:
                self.img_ids = self._coco_api.get_img_ids()
            files = self.results2json(preds, prefix)
            dets = load(files["bbox"]) if "bbox" in files else []
        classes = list(self.dataset_meta["classes"])
        out: dict[str, float] = OrderedDict(mAP=0.0, mAP50=0.0, mAP75=0.0)
        present = self._present_classes()
        if not dets:  # nothing detected anywhere: AP is 0 for every class that has ground truth
            for k, c in enumerate(classes):
                if k in present:
                    out[f"AP_{metric_suffix(c)}"] = 0.0
                    out[f"AP50_{metric_suffix(c)}"] = 0.0
            out["num_detections"] = 0.0
            return out
        coco_dt = self._coco_api.loadRes(dets)
        ev = COCOeval(self._coco_api, coco_dt, "bbox")
        ev.params.catIds = self.cat_ids
        ev.params.imgIds = self.img_ids
        ev.params.maxDets = list(self.proposal_nums)
        ev.params.iouThrs = self.iou_thrs
        with contextlib.redirect_stdout(io.StringIO()):
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        stats = ev.stats
        out["mAP"], out["mAP50"], out["mAP75"] = (max(0.0, float(stats[i])) * 100 for i in range(3))
        prec = ev.eval["precision"]  # [iou thr, recall, class, area, max dets]
        for k, c in enumerate(classes):
            if k not in present:
                continue
            p_all = prec[:, :, k, 0, -1]
            p_50 = prec[0, :, k, 0, -1]
            out[f"AP_{metric_suffix(c)}"] = float(p_all[p_all > -1].mean()) * 100 if (p_all > -1).any() else 0.0
            out[f"AP50_{metric_suffix(c)}"] = float(p_50[p_50 > -1].mean()) * 100 if (p_50 > -1).any() else 0.0
        out["num_detections"] = float(len(dets))
        return out

    def _present_classes(self) -> set[int]:
        """Indices (into dataset classes) of classes with at least one ground-truth box."""
        ids = set()
        for k, cat in enumerate(self.cat_ids):
            if self._coco_api.get_ann_ids(cat_ids=[cat]):
                ids.add(k)
        return ids


@SEG_METRICS.register_module(force=True)
class SagebenchIoUMetric(IoUMetric):
    """mIoU / mAcc / aAcc and per-class IoU / Acc in percent (NaN classes left out)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("iou_metrics", ["mIoU"])
        super().__init__(**kwargs)

    def compute_metrics(self, results: list) -> dict[str, float]:
        results = tuple(zip(*results))
        inter = sum(results[0])
        union = sum(results[1])
        pred = sum(results[2])
        label = sum(results[3])
        m = self.total_area_to_metrics(inter, union, pred, label, ["mIoU"], self.nan_to_num, self.beta)
        iou = np.asarray(m["IoU"], dtype=np.float64)
        acc = np.asarray(m["Acc"], dtype=np.float64)
        out: dict[str, float] = OrderedDict()
        out["mIoU"] = float(np.nanmean(iou) * 100) if np.isfinite(iou).any() else 0.0
        out["mAcc"] = float(np.nanmean(acc) * 100) if np.isfinite(acc).any() else 0.0
        out["aAcc"] = float(np.asarray(m["aAcc"]) * 100)
        for c, v, a in zip(self.dataset_meta["classes"], iou, acc):
            if np.isfinite(v):
                out[f"IoU_{metric_suffix(c)}"] = float(v * 100)
            if np.isfinite(a):
                out[f"Acc_{metric_suffix(c)}"] = float(a * 100)
        return out
