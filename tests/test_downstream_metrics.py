"""COCO box AP and mIoU as reported (percent, per class); no detections is a score of 0, not a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

from sagebench.tasks.downstream.mm_metrics import SagebenchCocoMetric, SagebenchIoUMetric  # noqa: E402


def _coco(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80},
                       {"id": 2, "file_name": "b.png", "width": 100, "height": 80}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 30], "area": 600,
                             "iscrowd": 0},
                            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [50, 20, 30, 20], "area": 600,
                             "iscrowd": 0}],
            "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}, {"id": 3, "name": "sign"}]}
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(coco))
    return p


def _run(metric, preds):
    for img_id, (boxes, scores, labels) in preds.items():
        metric.process({}, [{"img_id": img_id, "ori_shape": (80, 100),
                             "pred_instances": {"bboxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                                "scores": torch.tensor(scores, dtype=torch.float32),
                                                "labels": torch.tensor(labels, dtype=torch.int64)}}])
    return metric.compute_metrics(metric.results)


def _metric(tmp_path):
    m = SagebenchCocoMetric(ann_file=str(_coco(tmp_path)), metric="bbox")
    m.dataset_meta = {"classes": ("person", "car", "sign")}
    return m


def test_no_detections_scores_zero(tmp_path):
    out = _run(_metric(tmp_path), {1: ([], [], []), 2: ([], [], [])})
    assert out["mAP"] == 0.0 and out["mAP50"] == 0.0
    assert out["AP_person"] == 0.0 and out["AP_car"] == 0.0
    assert "AP_sign" not in out  # no ground truth for that class: left out, not 0 or NaN


def test_perfect_and_half_detections(tmp_path):
    perfect = _run(_metric(tmp_path), {1: ([[10, 10, 30, 40]], [0.9], [0]), 2: ([[50, 20, 80, 40]], [0.8], [1])})
    assert perfect["mAP"] == pytest.approx(100.0) and perfect["AP50_car"] == pytest.approx(100.0)
    half = _run(_metric(tmp_path), {1: ([[10, 10, 30, 40]], [0.9], [0]), 2: ([], [], [])})
    assert half["AP_person"] == pytest.approx(100.0) and half["AP_car"] == 0.0
    assert half["mAP"] == pytest.approx(50.0)


def test_iou_metric_per_class():
    m = SagebenchIoUMetric()
    m.dataset_meta = {"classes": ("bg", "person", "car")}
    gt = torch.zeros(1, 4, 4, dtype=torch.int64)
    gt[0, :2, :2] = 1
    gt[0, 3, 3] = 255
    pred = torch.zeros(1, 4, 4, dtype=torch.int64)
    pred[0, :2, :1] = 1
    m.process({}, [{"pred_sem_seg": {"data": pred}, "gt_sem_seg": {"data": gt}}])
    out = m.compute_metrics(m.results)
    # person: intersection 2, union 4; background: 11 valid pixels, intersection 11, union 13
    assert out["IoU_person"] == pytest.approx(50.0)
    assert out["IoU_bg"] == pytest.approx(100 * 11 / 13)
    assert "IoU_car" not in out  # absent from both prediction and ground truth
    assert out["mIoU"] == pytest.approx((50.0 + 100 * 11 / 13) / 2)
    assert np.isfinite(out["mAcc"]) and out["aAcc"] == pytest.approx(100 * 13 / 15)
