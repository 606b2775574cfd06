"""Synthetic ``results.json`` content shared by the leaderboard tests (several methods and metrics, both
directions, a missing value, a tie and a failure). No tests here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA = "sagebench.results/1"

# dataset -> task -> metric -> (direction, unit, {method: value})
TABLES: dict[str, dict[str, dict[str, tuple[str, str, dict[str, float | None]]]]] = {
    "MSRS": {
        "quality": {
            "EN": ("higher", "", {"sage_student": 6.6152, "seafusion": 6.6803, "ifcnn": 6.0711, "ir_only": 5.3005,
                                  "vis_only": 5.9102}),
            "SSIM": ("higher", "", {"sage_student": 0.7481, "seafusion": 0.7302, "ifcnn": 0.7488, "ir_only": 0.3911,
                                    "vis_only": 0.6104}),
            "MSE": ("lower", "", {"sage_student": 0.0312, "seafusion": 0.0309, "ifcnn": 0.0411, "ir_only": 0.0802,
                                  "vis_only": 0.0506}),
            "VIF": ("higher", "", {"sage_student": 0.9721, "seafusion": 0.9833, "ifcnn": 0.7012, "ir_only": 0.3451,
                                   "vis_only": None}),
        },
        "segmentation": {
            "mIoU": ("higher", "%", {"sage_student": 54.02, "seafusion": 53.11, "ifcnn": 51.73, "ir_only": 41.2,
                                     "vis_only": 47.95}),
            "mAcc": ("higher", "%", {"sage_student": 63.4, "seafusion": 63.4, "ifcnn": 60.12, "ir_only": 50.0,
                                     "vis_only": 57.31}),
        },
    },
    "-": {
        "throughput": {
            "latency": ("lower", "ms", {"sage_student": 10.23, "seafusion": 14.87, "ifcnn": 12.05, "ir_only": 0.41,
                                        "vis_only": 0.39}),
            "params": ("lower", "M", {"sage_student": 0.136, "seafusion": 0.167, "ifcnn": 0.0838, "ir_only": 0.0,
                                      "vis_only": 0.0}),
        },
    },
}


#: per-class IoU of the segmentation board (``results_obj(per_class=True)``): person, car, road
PER_CLASS_IOU = {"sage_student": (48.5, 61.25, 90.1), "seafusion": (45.0, 63.5, 90.1), "ifcnn": (40.75, 58.0, 88.0),
                 "ir_only": (44.0, 52.5, 60.0), "vis_only": (20.5, 40.0, 91.5)}


def results_obj(failures: bool = True, per_class: bool = False) -> dict[str, Any]:
    tables = TABLES
    if per_class:
        seg = dict(TABLES["MSRS"]["segmentation"])
        for i, c in enumerate(("person", "car", "road")):
            seg[f"IoU_{c}"] = ("higher", "%", {m: v[i] for m, v in PER_CLASS_IOU.items()})
        tables = {**TABLES, "MSRS": {**TABLES["MSRS"], "segmentation": seg}}
    records, per_image = [], []
    for dataset, tasks in tables.items():
        for task, metrics in tasks.items():
            for metric, (direction, unit, values) in metrics.items():
                for method, value in values.items():
                    records.append({"dataset": dataset, "method": method, "task": task, "metric": metric,
                                    "value": value, "direction": direction, "unit": unit,
                                    "meta": {"fused_dir": f"/tmp/fused/{dataset}/{method}"}})
                    if task == "quality" and value is not None:
                        for i in range(3):
                            per_image.append({"dataset": dataset, "method": method, "task": task,
                                              "image": f"{i:05d}", "metric": metric, "value": value * (1 + 0.01 * i)})
    fails = [{"dataset": "MSRS", "method": "tardal", "task": "quality",
              "error": "DataError: /data/fused/tardal/00003.png: file not found"}] if failures else []
    return {"schema": SCHEMA,
            "provenance": {"sagebench_version": "0.1.0", "git": {"commit": "0123456789abcdef", "dirty": False},
                           "device": "cuda:0", "device_name": "NVIDIA H100", "config_hash": "c0ffee42",
                           "seed": 0, "config": {"tasks": ["quality", "segmentation", "throughput"]}},
            "records": records, "per_image": per_image, "failures": fails}


def write_results(folder: Path, **kw: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps(results_obj(**kw), indent=1), encoding="utf-8")
    return path
