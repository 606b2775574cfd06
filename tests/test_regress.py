"""The regression gate: tolerance rules, statuses, and the CLI on a deliberately degraded method."""

from __future__ import annotations

import pytest
from conftest import requires_shared
from test_runner import REPO, TINY, _test_components, write_config  # noqa: F401  (fixture re-exported)

from sagebench.benchmark.cli import main
from sagebench.benchmark.regress import Tolerance, Tolerances, compare, failed, format_table
from sagebench.benchmark.results import SCHEMA, ResultSet
from sagebench.errors import ConfigError


def _rs(rows):
    recs = [dict(dataset="D", method=m, task=t, metric=k, value=v, direction=d, unit="", meta={})
            for m, t, k, v, d in rows]
    return ResultSet.from_json({"schema": SCHEMA, "provenance": {}, "records": recs})


def test_tolerance_lookup_most_specific_wins():
    tol = Tolerances(dict(default=dict(abs=0.1), per_metric={"SSIM": dict(abs=0.01), "quality/SSIM": dict(rel=0.5),
                                                             "throughput/*": None, "Q*": dict(abs=2.0)}))
    assert tol.lookup("quality", "SSIM") == (Tolerance(0.0, 0.5), "quality/SSIM")
    assert tol.lookup("other", "SSIM") == (Tolerance(0.01, 0.0), "SSIM")
    assert tol.lookup("throughput", "fps") == (None, "throughput/*")
    assert tol.lookup("quality", "Qabf") == (Tolerance(2.0, 0.0), "Q*")
    assert tol.lookup("quality", "EN") == (Tolerance(0.1, 0.0), "default")
    with pytest.raises(ConfigError, match="unknown keys"):
        Tolerances(dict(defaults={}))
    with pytest.raises(ConfigError, match=r"per_metric\['x'\]"):
        Tolerances(dict(per_metric={"x": dict(absolute=1)}))


def test_statuses_follow_direction_and_tolerance():
    base = _rs([("a", "q", "EN", 5.0, "higher"), ("a", "q", "MSE", 1.0, "lower"), ("b", "q", "EN", 5.0, "higher"),
                ("c", "q", "EN", 5.0, "higher"), ("a", "throughput", "fps", 100.0, "higher"),
                ("a", "q", "NAN", None, "higher")])
    cur = _rs([("a", "q", "EN", 4.95, "higher"), ("a", "q", "MSE", 0.5, "lower"), ("b", "q", "EN", 4.0, "higher"),
               ("a", "throughput", "fps", 1.0, "higher"), ("a", "q", "NAN", None, "higher"),
               ("d", "q", "EN", 1.0, "higher")])
    tol = Tolerances(dict(default=dict(abs=0.1), per_metric={"throughput/*": None}))
    diff = compare(base, cur, tol).set_index(["method", "task", "metric"])["status"].to_dict()
    assert diff == {("a", "q", "EN"): "ok", ("a", "q", "MSE"): "improved", ("b", "q", "EN"): "regressed",
                    ("c", "q", "EN"): "missing", ("a", "throughput", "fps"): "ignored", ("a", "q", "NAN"): "ok",
                    ("d", "q", "EN"): "new"}
    full = compare(base, cur, tol)
    assert failed(full)
    table = format_table(full)
    assert "!! regressed" in table and "!! missing" in table
    allowed = compare(base, _rs([r for r in [("a", "q", "EN", 5.0, "higher")]]), tol, allow_missing=True)
    assert not failed(allowed) and "missing-allowed" in set(allowed["status"])


def test_gate_passes_on_baseline_and_fails_on_degraded_method(tmp_path, capsys):
    cfg = write_config(tmp_path / "tiny.py", dict(TINY, tasks=[dict(type="quality", metrics=["CC", "PSNR", "Qabf"])]))
    common = ["--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-leaderboard"]
    assert main(["run", str(cfg), "-o", str(tmp_path / "base"), *common]) == 0
    assert main(["run", str(cfg), "-o", str(tmp_path / "same"), *common]) == 0
    # the same method name, deliberately worse: "avg" now returns the IR image only
    assert main(["run", str(cfg), "-o", str(tmp_path / "worse"), *common,
                 "--cfg-options", "methods.0.type=ir_only"]) == 0
    capsys.readouterr()
    baseline = str(tmp_path / "base" / "results.json")
    assert main(["regress", "--baseline", baseline, "--current", str(tmp_path / "same")]) == 0
    out = capsys.readouterr().out
    assert "regression gate: PASS" in out and "regressed" not in out
    assert main(["regress", "--baseline", baseline, "--current", str(tmp_path / "worse"), "--only-changed",
                 "--report", str(tmp_path / "diff.csv")]) == 1
    out = capsys.readouterr().out
    assert "regression gate: FAIL" in out
    bad = [line for line in out.splitlines() if "!! regressed" in line]
    assert bad and all(" avg " in line for line in bad)
    assert any(" CC " in line for line in bad)  # IR alone correlates poorly with the visible image
    assert any(" Qabf " in line and "improved" in line for line in out.splitlines())  # but has stronger edges
    assert "tolerances: " + baseline + " (provenance)" in out  # read from the baseline's stored config
    assert "regressed" in (tmp_path / "diff.csv").read_text()


@pytest.mark.slow
@requires_shared
def test_ci_benchmark_reproduces_the_committed_baseline(tmp_path, shared_dir, capsys):
    """What .ci/run does: the fixed CI benchmark, gated against results/ci_baseline.json."""
    assert main(["run", str(REPO / "configs" / "ci_benchmark.py"), "--data-root", str(shared_dir / "data"),
                 "--weights-dir", str(shared_dir / "weights"), "-o", str(tmp_path / "ci"),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-leaderboard"]) == 0
    code = main(["regress", "--baseline", str(REPO / "results" / "ci_baseline.json"),
                 "--current", str(tmp_path / "ci"), "--only-changed"])
    assert code == 0, capsys.readouterr().out
