"""The runner: plan, fusion cache, results store, resume after a kill, failing methods, quickstart.

A small deterministic task (``_test_stats``) and a method that always fails (``_test_broken``) are
registered only while these tests (or their subprocesses, via :func:`register`) run, so the registries
other tests see are untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sagebench.benchmark.results import NO_DATASET, load_results
from sagebench.benchmark.runner import QUICKSTART, RunOptions, auto_methods, load_config, make_plan, run_benchmark
from sagebench.errors import ConfigError
from sagebench.fusion_models import FUSION_MODELS, FusionModel
from sagebench.io import read_image, to_tensor
from sagebench.tasks import TASKS, Task, TaskContext, TaskResult

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


class StatsTask(Task):
    """Per image: mean of the fused image and its correlation with the visible / IR luminance."""

    name = "_test_stats"

    def evaluate(self, ctx: TaskContext) -> TaskResult:
        rows = {}
        for sample in ctx.dataset:
            fused = to_tensor(read_image(ctx.fused_dir / f"{sample.name}.png"))
            f = fused.mean(0).flatten().double()
            v = sample.vis.mean(0).flatten().double()
            ir = sample.ir.mean(0).flatten().double()
            rows[sample.name] = {"mean": float(f.mean()), "corr_vis": float(torch.corrcoef(torch.stack([f, v]))[0, 1]),
                                 "corr_ir": float(torch.corrcoef(torch.stack([f, ir]))[0, 1])}
        df = pd.DataFrame.from_dict(rows, orient="index")
        return TaskResult(self.name, df.mean().to_dict(), {"mean": "higher", "corr_vis": "higher",
                                                          "corr_ir": "higher"}, df, {"images": len(df)})


class BrokenMethod(FusionModel):
    card = {"paper": "test double that always fails", "requires": "nothing; never auto-selected"}

    calls = 0

    def fuse_gray(self, ir, gray):
        BrokenMethod.calls += 1
        raise RuntimeError("deliberately broken method")


def register() -> None:
    TASKS.register_module(name="_test_stats", module=StatsTask, force=True)
    FUSION_MODELS.register_module(name="_test_broken", module=BrokenMethod, force=True)


def unregister() -> None:
    TASKS.module_dict.pop("_test_stats", None)
    FUSION_MODELS.module_dict.pop("_test_broken", None)


@pytest.fixture(autouse=True)
def _test_components():
    register()
    yield
    unregister()


TINY = dict(
    datasets=[dict(name="night", source="synthetic:night", n=3, seed=0, size=(48, 64)),
              dict(name="day", source="synthetic:day", n=2, seed=1, size=(48, 64))],
    methods=[dict(name="avg", type="average"), dict(name="ir", type="ir_only"), dict(name="vis", type="vis_only")],
    tasks=[dict(type="_test_stats")],
    seed=0,
    regress=dict(default=dict(abs=1e-6, rel=1e-6), per_metric={"throughput/*": None}),
)


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text("\n".join(f"{k} = {v!r}" for k, v in cfg.items()) + "\n")
    return path


def comparable(path: Path) -> dict:
    """results.json without provenance and without throughput (timing) records."""
    obj = json.loads(Path(path).read_text())
    return {"records": [r for r in obj["records"] if r["task"] != "throughput"],
            "per_image": obj["per_image"], "failures": obj["failures"]}


def assert_same(a: dict, b: dict) -> None:
    """Equal comparables; on a difference, name the first differing row."""
    for key in a:
        assert len(a[key]) == len(b[key]), key
        for x, y in zip(a[key], b[key]):
            assert x == y, (key, x, y)


def run_cli(args: list[str], env_extra: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``sagebench ...`` in a subprocess with the test components registered."""
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_runner; test_runner.register(); "
            "from sagebench.benchmark.cli import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def _run(tmp_path: Path, cfg: dict, name: str = "out", **kw):
    opts = RunOptions(out_dir=tmp_path / name, cache_dir=tmp_path / "cache", device="cpu", progress=False,
                      leaderboard=False, **kw)
    return run_benchmark(dict(cfg, _name="tiny"), opts)


def test_run_writes_results_fused_images_and_resumes(tmp_path, capsys):
    report = _run(tmp_path, TINY)
    rs = load_results(report.results_path)
    assert report.failures == []
    assert len(rs.records) == 2 * 3 * 3  # datasets x methods x metrics
    assert set(rs.records.columns) >= {"dataset", "method", "task", "metric", "value", "direction", "unit", "meta"}
    assert list(rs.records["dataset"].unique()) == ["night", "day"]  # config order
    assert len(rs.per_image) == (3 + 2) * 3 * 3
    # reference methods have exact, known statistics
    r = rs.records.set_index(["dataset", "method", "metric"])["value"]
    assert r[("night", "ir", "corr_ir")] == pytest.approx(1.0, abs=1e-3)
    assert r[("night", "vis", "corr_vis")] == pytest.approx(1.0, abs=1e-3)
    assert r[("night", "avg", "corr_vis")] < 0.999
    # fused images: <stem>.png, 8-bit, in the visible colour space, equal to a direct fusion
    from sagebench.datasets import open_dataset
    from sagebench.fusion_models import create_model
    from sagebench.io import to_uint8

    ds = open_dataset("synthetic:night", n=3, seed=0, size=(48, 64))
    png = read_image(tmp_path / "out" / "fused" / "night" / "avg" / f"{ds.names[0]}.png")
    assert png.dtype == np.uint8 and png.shape == (48, 64, 3)
    direct = to_uint8(create_model("average").fuse(ds[0].ir[None], ds[0].vis[None])[0])
    np.testing.assert_array_equal(png, direct)
    # provenance
    p = rs.provenance
    for key in ("sagebench_version", "torch", "cuda", "device_name", "config_hash", "seed", "weights_sha256",
                "git", "config"):
        assert key in p
    assert p["seed"] == 0 and p["world_size"] == 1
    assert len(list((tmp_path / "out" / "cells").glob("*.json"))) == 6
    before = comparable(report.results_path)
    # rerun: everything resumes, nothing recomputed, same results
    report2 = _run(tmp_path, TINY)
    assert report2.resumed == 6 and report2.computed == 0
    assert comparable(report2.results_path) == before
    # a new run directory re-uses the fused-image cache
    _run(tmp_path, TINY, name="out2")
    cells = load_results(tmp_path / "out2").provenance["cells"]
    assert all(c["fusion"]["fused"] == 0 and c["fusion"]["cache_hits"] > 0 for c in cells.values())
    assert comparable(tmp_path / "out2" / "results.json") == before


def test_cache_key_changes_with_method_config_and_weights(tmp_path):
    from sagebench.benchmark.cache import FusionCache, method_key_parts
    from sagebench.fusion_models import create_model

    cache = FusionCache(tmp_path)
    m = create_model("sage_student", weights=None)
    a = cache.method_dir(method_key_parts({"name": "x", "type": "sage_student"}, m))
    b = cache.method_dir(method_key_parts({"name": "y", "type": "sage_student"}, m))
    assert a == b  # display name is not part of the key
    m.weights_sha256 = "0" * 64
    assert cache.method_dir(method_key_parts({"type": "sage_student"}, m)) != a
    m.quantize_colour = not m.quantize_colour
    assert cache.method_dir(method_key_parts({"type": "sage_student"}, m)) != a
    assert json.loads((a / "key.json").read_text())["config"] == {"type": "sage_student"}


def test_failing_method_is_reported_and_others_finish(tmp_path, capsys):
    cfg = dict(TINY, methods=[dict(name="broken", type="_test_broken"), *TINY["methods"]],
               tasks=[dict(type="_test_stats"), dict(type="_test_stats", name="again")])
    BrokenMethod.calls = 0
    report = _run(tmp_path, cfg)
    rs = load_results(report.results_path)
    assert set(rs.records["method"]) == {"avg", "ir", "vis"}
    assert len(rs.failures) == 4  # broken on both datasets, for both tasks ...
    assert BrokenMethod.calls == 2  # ... but fusion was tried once per dataset
    assert rs.failures["error"].str.contains("deliberately broken method").all()
    assert rs.failures["error"].str.contains("RuntimeError").all()
    assert "FAILED" in capsys.readouterr().err
    # the CLI: failures are printed; --strict turns them into exit status 1
    from sagebench.benchmark.cli import main

    cfg_file = write_config(tmp_path / "broken.py", cfg)
    args = ["run", str(cfg_file), "-o", str(tmp_path / "cli"), "--cache-dir", str(tmp_path / "cache"),
            "--no-progress", "--no-leaderboard"]
    assert main(args) == 0
    assert "FAILED night / broken / _test_stats" in capsys.readouterr().out
    assert main([*args, "--strict"]) == 1
    assert "12 resumed" in capsys.readouterr().out  # the good cells were not recomputed


def test_killed_run_resumes_to_the_same_results(tmp_path):
    cfg_file = write_config(tmp_path / "tiny.py", TINY)
    common = ["--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-leaderboard"]
    killed = run_cli(["run", str(cfg_file), "-o", str(tmp_path / "resumed"), *common],
                     env_extra={"SAGEBENCH_EXIT_AFTER_CELLS": "2"})
    assert killed.returncode == 17, killed.stderr
    assert len(list((tmp_path / "resumed" / "cells").glob("*.json"))) == 2
    assert not (tmp_path / "resumed" / "results.json").exists()
    again = run_cli(["run", str(cfg_file), "-o", str(tmp_path / "resumed"), *common])
    assert again.returncode == 0, again.stderr
    assert "4 cells computed, 2 resumed" in again.stdout  # resumed only after their full identity matched
    from sagebench.benchmark.cli import main

    assert main(["run", str(cfg_file), "-o", str(tmp_path / "clean"), "--cache-dir", str(tmp_path / "cache2"),
                 "--no-progress", "--no-leaderboard"]) == 0
    assert_same(comparable(tmp_path / "resumed" / "results.json"), comparable(tmp_path / "clean" / "results.json"))


def test_config_change_invalidates_only_changed_cells(tmp_path):
    _run(tmp_path, TINY)
    changed = dict(TINY, datasets=[TINY["datasets"][0], dict(TINY["datasets"][1], n=3)])
    report = _run(tmp_path, changed)
    assert report.resumed == 3 and report.computed == 3


def test_optional_dataset_skipped_and_missing_data_root_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SAGEBENCH_DATA", raising=False)
    cfg = dict(TINY, datasets=[*TINY["datasets"], dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD", optional=True)])
    report = _run(tmp_path, cfg)
    assert "skipping dataset M3FD: ${SAGEBENCH_DATA}/M3FD: environment variable SAGEBENCH_DATA is not set" \
        in capsys.readouterr().out
    assert load_results(report.results_path).provenance["skipped_datasets"]
    cfg["datasets"][-1] = dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD")
    with pytest.raises(ConfigError, match="SAGEBENCH_DATA is not set"):
        _run(tmp_path, cfg)
    monkeypatch.setenv("SAGEBENCH_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="nowhere/M3FD: dataset folder not found"):
        _run(tmp_path, cfg)


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.py")
    with pytest.raises(ConfigError, match="two methods are named 'a'"):
        make_plan(dict(TINY, methods=[dict(name="a", type="average"), dict(name="a", type="ir_only")]), device="cpu")
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        make_plan(dict(TINY, tasks=[dict(type="nope")]), device="cpu")
    with pytest.raises(ConfigError, match="needs a 'source'"):
        make_plan(dict(TINY, datasets=[dict(name="x")]), device="cpu")


def test_cfg_options_and_throughput_cells_are_per_method(tmp_path):
    cfg_file = write_config(tmp_path / "c.py", TINY)
    cfg = load_config(cfg_file, {"methods.0.type": "max_abs", "tasks": [dict(type="_test_stats"),
                                                                         dict(type="throughput")]})
    assert cfg["methods"][0] == dict(name="avg", type="max_abs")
    plan = make_plan(cfg, device="cpu")
    thr = [c for c in plan.cells if c.task == "throughput"]
    assert [c.dataset for c in thr] == [NO_DATASET] * 3
    assert len(plan.cells) == 2 * 3 + 3


def test_auto_methods_include_student_only_with_weights(tmp_path, monkeypatch):
    from sagebench.fusion_models import list_models

    monkeypatch.setenv("SAGEBENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    chosen, excluded = auto_methods()
    names = [m["name"] for m in chosen]
    assert "sage_student" not in names and any(e.startswith("sage_student") for e in excluded)
    assert {"ir_only", "vis_only"} <= set(names)
    assert "_test_broken" not in names  # its card says it needs something
    for name in {"average", "max_abs", "laplacian_pyramid"} & set(list_models()):
        assert name in names
    weights = tmp_path / "w"
    weights.mkdir()
    (weights / "sage_student_official.pt").write_bytes(b"x")
    chosen, _ = auto_methods(str(weights))
    assert "sage_student" in [m["name"] for m in chosen]


def test_quickstart_file_matches_builtin():
    from_file = load_config(REPO / "configs" / "quickstart.py")
    builtin = load_config(None)
    for key in QUICKSTART:
        assert _tuples_to_lists(from_file[key]) == _tuples_to_lists(builtin[key]), key


def _tuples_to_lists(obj):
    if isinstance(obj, (list, tuple)):
        return [_tuples_to_lists(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _tuples_to_lists(v) for k, v in obj.items()}
    return obj
