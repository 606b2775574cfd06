"""``sagebench gpu-report``: the prepared GPU measurement, checked on the CPU with ``--smoke`` (same code
paths, tiny sizes). The real run needs a GPU; see ``docs/running.md`` (GPU report)."""

from __future__ import annotations

import json

import pytest
import torch

from sagebench.benchmark.gpu_report import Settings, run_report, time_calls, to_markdown


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_report")
    report = run_report(Settings.smoke_settings("cpu"), out, log=lambda *_: None)
    return out, report


def test_smoke_report_measures_every_section(smoke_report):
    out, report = smoke_report
    assert json.loads((out / "gpu_report.json").read_text())["schema"] == "sagebench.gpu_report/1"
    for section in ("student", "metrics", "training", "downstream"):
        assert "error" not in report[section], report[section]
    rows = report["student"]["rows"]
    variants = {r["variant"] for r in rows}
    assert {"plain fp32", "fp32 channels_last", "fp32 fold_bn+channels_last", "bf16 fold_bn+channels_last",
            "fp32 fold_bn+channels_last +compile", "bf16 fold_bn+channels_last +compile"} <= variants
    assert {r["batch"] for r in rows} == {1, 2}
    for r in rows:
        assert r["median_ms"] > 0 and r["images_per_s"] > 0 and r["within_tolerance"], r
        assert r["gmacs_per_image"] > 0 and r["speedup_vs_plain"] > 0
    assert report["student"]["params"] == 135_617
    m = report["metrics"]
    from sagebench.tasks.metrics import DEFAULT_METRICS

    assert m["cpu"]["images_per_s"] > 0 and m["metrics"] == list(DEFAULT_METRICS)
    t = report["training"]
    assert t["seconds_per_step"] > 0 and t["fmb_steps_per_epoch"] >= 1220 // t["batch"]
    for kind in ("detection", "segmentation"):
        assert report["downstream"][kind]["config_iters"] > 0, report["downstream"][kind]


def test_markdown_names_every_section_and_the_device(smoke_report):
    out, report = smoke_report
    md = (out / "gpu_report.md").read_text()
    for heading in ("## SAGE student", "## Metric suite", "## SAGE training", "## Downstream training"):
        assert heading in md
    assert "smoke test" in md and report["environment"]["torch"] in md


def test_a_failed_section_is_reported_not_fatal():
    report = {"smoke": True, "created": "now", "total_seconds": 1.0, "datasheet_tflops": None,
              "environment": {"device_name": "x", "device": "cpu", "driver": None, "torch": "t", "cuda": None,
                              "cudnn": None, "sagebench": "0", "tf32_matmul": False, "tf32_cudnn": False},
              "student": {"error": "RuntimeError: boom"}, "metrics": {"error": "E"}, "training": {"error": "E"},
              "downstream": {"skipped": "mmcv without CUDA ops"}}
    md = to_markdown(report)
    assert "Not measured: RuntimeError: boom" in md and "not measured (mmcv without CUDA ops)" in md


def test_time_calls_reports_median_and_spread():
    calls = []
    t = time_calls(lambda: calls.append(torch.ones(4).sum()), "cpu", warmup=2, repeats=5)
    assert len(calls) == 7 and t["n"] == 5 and t["min_ms"] <= t["median_ms"] <= t["max_ms"]
    assert t["iqr_ms"] >= 0 and t["timer"] == "perf_counter"


def test_cli_refuses_cuda_without_a_gpu(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    from sagebench.benchmark.cli import main

    assert main(["gpu-report", "--out", str(tmp_path)]) == 1
    assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_smoke_report_on_cuda(tmp_path):
    report = run_report(Settings.smoke_settings("cuda"), tmp_path, log=lambda *_: None)
    assert all("error" not in report[k] for k in ("student", "metrics", "training"))
    assert report["environment"]["device_name"]
