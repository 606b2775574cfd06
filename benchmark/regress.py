"""The regression gate: compare a current ``results.json`` with a committed baseline.

Tolerances come from the benchmark config's ``regress`` entry::

    regress = dict(
        default=dict(abs=1e-6, rel=1e-5),          # for every metric not named below
        per_metric={
            "SSIM": dict(abs=1e-3),                 # by metric name ...
            "quality/Qabf": dict(abs=2e-3),         # ... or task/metric (more specific wins)
            "throughput/*": None,                   # fnmatch patterns; None = not gated
        })

A value is within tolerance when ``|current - baseline| <= max(abs, rel * |baseline|)``. Beyond it, the
change is a **regression** when it is in the worse direction (the record's ``direction``), else an
improvement. A record of the baseline that the current run lacks (a failed or removed cell) is
**missing** and fails the gate unless allowed. Records only in the current run are reported as new.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any

from sagebench.errors import ConfigError

DEFAULT_TOLERANCE = {"abs": 1e-9, "rel": 1e-6}
KEY = ["dataset", "method", "task", "metric"]
FAILING = ("regressed", "missing")


@dataclass(frozen=True)
class Tolerance:
    abs: float = 0.0
    rel: float = 0.0

    def allowed(self, baseline: float) -> float:
        return max(self.abs, self.rel * abs(baseline))


def _number(v: Any, where: str) -> float:
    """A finite, non-negative tolerance; bools, strings, NaN, inf and negatives are errors."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"regress: {where} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f) or f < 0:
        raise ConfigError(f"regress: {where} must be a finite number >= 0, got {v!r}")
    return f


def _tol(spec: Any, where: str) -> Tolerance | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) - {"abs", "rel"}:
        raise ConfigError(f"regress: {where} must be None or dict(abs=..., rel=...), got {spec!r}")
    return Tolerance(_number(spec.get("abs", 0.0), f"{where}.abs"), _number(spec.get("rel", 0.0), f"{where}.rel"))


class Tolerances:
    """Per-metric tolerances from a config's ``regress`` dict (see module docstring)."""

    def __init__(self, cfg: dict[str, Any] | None = None) -> None:
        if cfg is not None and not isinstance(cfg, dict):
            raise ConfigError(f"regress: must be a dict(default=..., per_metric=...), got {cfg!r}")
        cfg = dict(cfg or {})
        unknown = set(cfg) - {"default", "per_metric"}
        if unknown:
            raise ConfigError(f"regress: unknown keys {sorted(unknown)}; expected 'default' and 'per_metric'")
        self.default = _tol(cfg.get("default", DEFAULT_TOLERANCE), "default") or Tolerance()
        per_metric = cfg.get("per_metric") or {}
        if not isinstance(per_metric, dict):
            raise ConfigError(f"regress: per_metric must be a dict of metric -> tolerance, got {per_metric!r}")
        self.per_metric = {str(k): _tol(v, f"per_metric[{k!r}]") for k, v in per_metric.items()}

    def lookup(self, task: str, metric: str) -> tuple[Tolerance | None, str]:
        """The tolerance of ``task/metric`` (None = not gated) and the rule that gave it."""
        for key in (f"{task}/{metric}", metric):
            if key in self.per_metric:
                return self.per_metric[key], key
        for pattern, tol in self.per_metric.items():
            if fnmatch.fnmatchcase(f"{task}/{metric}", pattern) or fnmatch.fnmatchcase(metric, pattern):
                return tol, pattern
        return self.default, "default"


def check_values(rs: Any, what: str) -> None:
    """Every record value of a results file is a finite number or null (a stored non-finite result);
    strings, booleans and ``±inf`` are :class:`~sagebench.errors.DataError` naming the record."""
    from sagebench.errors import DataError

    raw = getattr(rs, "raw_values", None)
    if raw is None:
        return
    for i, v in enumerate(raw):
        if v is None or (isinstance(v, float) and math.isnan(v)):  # null / NaN: a stored non-finite result
            continue
        bad = isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v))
        if bad:
            r = rs.records.iloc[i]
            raise DataError(f"{what} {rs.path}: record {r['dataset']} / {r['method']} / {r['task']} / "
                            f"{r['metric']} has value {v!r}; expected a finite number or null")


def compare(baseline: Any, current: Any, tolerances: Tolerances, *, allow_missing: bool = False):
    """Diff two :class:`~sagebench.benchmark.results.ResultSet` s record by record.

    Returns a DataFrame with columns ``dataset, method, task, metric, direction, baseline, current,
    delta, tolerance, status`` where status is ``ok``, ``improved``, ``regressed``, ``missing`` (in the
    baseline only; ``missing-allowed`` with ``allow_missing``), ``new`` (current only) or ``ignored``.
    """
    import pandas as pd

    def index(df):
        dup = df.duplicated(KEY)
        if dup.any():
            raise ConfigError(f"duplicate result records: {df[dup][KEY].head(3).values.tolist()}")
        return df.set_index(KEY)

    from sagebench.errors import DataError

    check_values(baseline, "baseline")
    check_values(current, "current")
    if baseline.records.empty:
        raise DataError(f"baseline {baseline.path}: has no records; nothing to gate against")
    base, cur = index(baseline.records), index(current.records)
    if not set(base.index) & set(cur.index):
        raise DataError(f"baseline {baseline.path} and current {current.path} share no record (dataset, method, "
                        "task, metric): is it the baseline of another benchmark?")
    rows = []
    for key in list(base.index) + [k for k in cur.index if k not in base.index]:
        task, metric = key[2], key[3]
        b = base.loc[key] if key in base.index else None
        c = cur.loc[key] if key in cur.index else None
        direction = (b if b is not None else c)["direction"]
        bv = None if b is None else _num(b["value"])
        cv = None if c is None else _num(c["value"])
        tol, _rule = tolerances.lookup(task, metric)
        allowed = None
        if tol is None:
            status = "ignored"
        elif b is None:
            status = "new"
        elif c is None:
            status = "missing-allowed" if allow_missing else "missing"
        elif bv is None or cv is None:
            status = "ok" if bv is None and cv is None else ("improved" if bv is None else "regressed")
        else:
            allowed = tol.allowed(bv)
            worse = (bv - cv) if direction == "higher" else (cv - bv)
            status = "regressed" if worse > allowed else ("improved" if -worse > allowed else "ok")
        delta = cv - bv if bv is not None and cv is not None else None
        rows.append(dict(zip(KEY, key)) | {"direction": direction, "baseline": bv, "current": cv,
                                          "delta": delta, "tolerance": allowed, "status": status})
    return pd.DataFrame(rows, columns=[*KEY, "direction", "baseline", "current", "delta", "tolerance", "status"])


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def failed(diff) -> bool:
    """True when the diff has a regression or a (not allowed) missing record."""
    return bool(diff["status"].isin(FAILING).any())


def format_table(diff, *, only_changed: bool = False) -> str:
    """The diff as an aligned text table (regressions flagged with ``!!``)."""
    df = diff[diff["status"] != "ok"] if only_changed else diff
    if df.empty:
        return "(no differences)" if only_changed else "(no records)"

    def fmt(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return f"{v:+.6g}" if isinstance(v, float) and v < 0 else f"{v:.6g}"

    header = ["dataset", "method", "task", "metric", "baseline", "current", "delta", "tol", "status"]
    lines = [[str(r.dataset), str(r.method), str(r.task), str(r.metric), fmt(r.baseline), fmt(r.current),
              fmt(r.delta) if r.delta is None or (isinstance(r.delta, float) and math.isnan(r.delta))
              else f"{r.delta:+.3g}", fmt(r.tolerance),
              ("!! " if r.status in FAILING else "") + str(r.status)] for r in df.itertuples()]
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in lines]
    return "\n".join(out)


def summary_line(diff) -> str:
    counts = diff["status"].value_counts()
    parts = [f"{counts.get(s, 0)} {s}" for s in ("ok", "improved", "regressed", "missing", "missing-allowed",
                                                  "new", "ignored") if counts.get(s, 0)]
    verdict = "FAIL" if failed(diff) else "PASS"
    return f"regression gate: {verdict} ({', '.join(parts) or 'nothing compared'})"
