"""Leaderboards from a results store: CSV, Markdown, LaTeX and a standalone HTML page, plus plots.

One :class:`Leaderboard` per (dataset, task): rows are methods, columns are the task's metrics. Every
metric is ranked direction-aware (rank 1 = best; ``higher`` or ``lower`` is better as the record says);
equal values share a rank (competition ranking: 1, 1, 3). Values are compared **at the precision they
are displayed with**, so two methods that print the same number also share the rank and the highlight
(a column whose values are all equal highlights nothing).
The average rank is the mean of a method's per-metric ranks over the metrics it has a value for; rows
are sorted by it (ties by name), or kept as configured (``order="config"``), or sorted by one metric
(``order="EN"``). The best value of a column is bold and the second best (the next distinct value, shown
only when a column has at least three values) underlined.

Paper-ready tables state what their numbers mean: the metric profile the values were computed under
(``meta["profile"]``), a ``*`` on every metric that is not native to that profile (``meta["native"]``:
computed with sagebench's default convention, not by the profile's reference code), and a ``†`` on
single-modality reference rows (IR only, visible only), which are shown but not ranked unless
``rank_references=True``. The average-rank column can be left out (``avg_rank=False``) and values can be
shown as mean ± standard deviation over images (``std=True``).

Number formatting: ``record["meta"]["decimals"]`` (an int, or a dict metric -> int) wins; a column of
whole numbers gets none; otherwise the decimals follow the magnitude of the column (median of the
non-zero ``|value|``): >= 1000 -> 0, >= 100 -> 1, >= 10 -> 2, >= 0.1 -> 3, smaller -> three
significant digits.

Entry points::

    from sagebench.benchmark.leaderboard import render_all, to_markdown
    paths = render_all("runs/demo", "runs/demo/leaderboard")   # {"csv": ..., "md": ..., "html": ...}
    print(to_markdown("runs/demo/results.json"))

and the command ``sagebench leaderboard RESULTS --format csv md tex html``.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd

from sagebench.benchmark.results import NO_DATASET, ResultSet, load_results
from sagebench.errors import ConfigError, DataError
from sagebench.io import atomic_path, write_text
from sagebench.paths import slug

FORMATS = ("csv", "md", "tex", "html")
ORDERS = ("rank", "config")  # or a metric name
REFERENCE_MARK = "\u2020"  # dagger: a single-modality reference row, not ranked
NON_NATIVE_MARK = "*"  # a metric the profile's reference code does not compute
REFERENCE_KINDS = {"ir": "infrared input only", "vis": "visible input only"}
ARROWS = {"higher": "\u2191", "lower": "\u2193"}
LATEX_ARROWS = {"higher": r"$\uparrow$", "lower": r"$\downarrow$"}
MISSING = "\u2014"  # em dash for a metric a method has no value for


# ---------------------------------------------------------------------------------------------- model


@dataclass
class Leaderboard:
    """The leaderboard of one (dataset, task).

    Attributes:
        dataset, task: names as in the records.
        values: DataFrame, index = method (sorted best first), columns = metrics in record order; NaN
            where a method has no value.
        directions: metric -> ``"higher"`` or ``"lower"``.
        units: metric -> unit string ("" when none).
        decimals: metric -> number of decimals used for display and for ranking.
        ranks: same shape as ``values``: per-metric competition rank (1 = best), NaN where no value.
        average_rank: Series over methods: mean of the method's ranks.
        highlight: same shape as ``values``: ``"best"``, ``"second"`` or ``""``.
        spread: optional DataFrame like ``values``: sample standard deviation (n - 1) over the images'
            finite values (from ``per_image``; NaN for one image), as the quality task's ``meta["std"]``.
        n_images: optional DataFrame like ``values``: number of per-image values.
        settings: task settings shared by every record of the board (scalar ``meta`` entries), shown
            under the HTML table.
        references: method -> ``"ir"`` or ``"vis"`` for single-modality reference rows: marked with ``†``
            and, unless ``rank_references``, given no rank, no highlight and no average rank.
        rank_references: rank the reference rows like the methods.
        order: ``"rank"`` (by average rank, ties by name; references last), ``"config"`` (as configured)
            or a metric name (best value of that metric first; references last).
        profile: the metric profile the values were computed under (``meta["profile"]``), or None.
        native: metric -> False for metrics that are not native to ``profile`` (marked ``*``).
        avg_rank: show the average-rank column.
        std: show values as mean ± standard deviation over images, where ``spread`` has them.
    """

    dataset: str
    task: str
    values: pd.DataFrame
    directions: dict[str, str]
    units: dict[str, str]
    decimals: dict[str, int]
    spread: pd.DataFrame | None = None
    n_images: pd.DataFrame | None = None
    settings: dict[str, str] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    rank_references: bool = False
    order: str = "rank"
    profile: str | None = None
    native: dict[str, bool] = field(default_factory=dict)
    avg_rank: bool = True
    std: bool = False
    ranks: pd.DataFrame = field(init=False)
    average_rank: pd.Series = field(init=False)
    highlight: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        if self.order not in ORDERS and self.order not in self.values.columns:
            raise ConfigError(f"{self.title}: cannot order rows by {self.order!r}; choose rank, config or a "
                              f"metric of this table ({', '.join(self.metrics)})")
        self.references = {str(k): v for k, v in self.references.items() if k in self.values.index}
        unranked = [] if self.rank_references else [m for m in self.values.index if m in self.references]
        rounded = pd.DataFrame({m: self.values[m].round(self.decimals[m]) for m in self.metrics},
                               index=self.values.index)
        ranked = rounded.drop(index=unranked)
        ranks, highlight = {}, {}
        for m in self.metrics:
            col = ranked[m]
            ascending = self.directions[m] == "lower"
            ranks[m] = col.rank(method="min", ascending=ascending)
            dense = col.rank(method="dense", ascending=ascending)
            n_values = int(col.notna().sum())
            hl = pd.Series("", index=col.index, dtype=object)
            if n_values >= 2 and dense.max() >= 2:  # nothing to single out when all values are equal
                hl[dense == 1] = "best"
            if n_values >= 3:
                hl[dense == 2] = "second"
            highlight[m] = hl
        self.ranks = pd.DataFrame(ranks, columns=self.metrics).reindex(self.values.index)
        self.highlight = pd.DataFrame(highlight, columns=self.metrics).reindex(self.values.index).fillna("")
        self.average_rank = self.ranks.mean(axis=1, skipna=True)
        configured = list(self.values.index)
        if self.order == "config":
            order = configured
        else:
            def by_rank(name):
                avg = self.average_rank[name]
                return math.inf if pd.isna(avg) else float(avg), str(name)

            if self.order == "rank":
                key = by_rank
            else:
                col = rounded[self.order]
                sign = 1.0 if self.directions[self.order] == "lower" else -1.0

                def key(name):
                    v = col[name]
                    return (math.inf if pd.isna(v) else sign * float(v), *by_rank(name))

            order = sorted((m for m in configured if m not in unranked), key=key) + \
                [m for m in configured if m in unranked]
        self.values = self.values.loc[order]
        self.ranks = self.ranks.loc[order]
        self.highlight = self.highlight.loc[order]
        self.average_rank = self.average_rank.loc[order]
        if self.spread is not None:
            self.spread = self.spread.reindex(index=order, columns=self.metrics)
        if self.n_images is not None:
            self.n_images = self.n_images.reindex(index=order, columns=self.metrics)

    def is_reference(self, method: str) -> bool:
        """Whether ``method`` is a single-modality reference row (marked ``†``)."""
        return method in self.references

    def is_native(self, metric: str) -> bool:
        """False when ``metric`` is not native to the board's profile (marked ``*``)."""
        return self.native.get(metric, True)

    def label(self, method: str) -> str:
        """The method's row label: its name, with ``†`` for a single-modality reference."""
        return f"{method} {REFERENCE_MARK}" if self.is_reference(method) else method

    def notes(self) -> list[str]:
        """Plain-text notes the table needs to be read correctly: profile, ``*`` metrics, ``†`` rows, std."""
        out = []
        if self.profile:
            out.append(f"Metric profile: {self.profile}.")
        foreign = [m for m in self.metrics if not self.is_native(m)]
        if foreign:
            whose = f"the {self.profile} profile's" if self.profile else "the profile's"
            out.append(f"{NON_NATIVE_MARK} not computed by {whose} reference code ({', '.join(foreign)}): "
                       "sagebench's default convention.")
        if self.references:
            kinds = sorted({REFERENCE_KINDS.get(k, str(k)) for k in self.references.values()})
            ranked = "ranked with the methods" if self.rank_references else "not ranked"
            out.append(f"{REFERENCE_MARK} single-modality reference ({' / '.join(kinds)}), {ranked}.")
        if self.show_std:
            out.append("Values: mean \u00b1 sample standard deviation over images.")
        return out

    @property
    def show_std(self) -> bool:
        """Whether values are shown as mean ± std (asked for and per-image spreads are known)."""
        return self.std and self.spread is not None and bool(self.spread.notna().to_numpy().any())

    def cell_text(self, method: str, metric: str, pm: str = " \u00b1 ") -> str:
        """The displayed value of one cell ("" when missing), with ``pm`` and the std when shown."""
        text = self.fmt(metric, self.values.at[method, metric])
        if text and self.show_std and method in self.spread.index:
            sd = self.spread.at[method, metric]
            if not pd.isna(sd):
                text += pm + self.fmt(metric, sd)
        return text

    @property
    def metrics(self) -> list[str]:
        return [str(c) for c in self.values.columns]

    @property
    def methods(self) -> list[str]:
        return [str(i) for i in self.values.index]

    @property
    def title(self) -> str:
        if self.dataset == NO_DATASET:  # dataset-independent tasks (throughput)
            return self.task
        return f"{self.dataset} \u00b7 {self.task}"

    @property
    def slug(self) -> str:
        """File-name stem ``<dataset>__<task>`` (``all`` for dataset-independent tasks)."""
        dataset = "all" if self.dataset == NO_DATASET else slug(self.dataset)
        return f"{dataset}__{slug(self.task)}"

    def fmt(self, metric: str, value: float) -> str:
        """``value`` formatted with the decimals of ``metric`` ("" for NaN)."""
        if value is None or pd.isna(value):
            return ""
        return f"{float(value):.{self.decimals[metric]}f}"

    def header(self, metric: str, *, arrow: bool = True) -> str:
        """Plain-text column header: ``name [unit] ↑`` (``name*`` for a metric not native to the profile)."""
        unit = self.units.get(metric, "")
        name = metric if self.is_native(metric) else metric + NON_NATIVE_MARK
        text = f"{name} [{unit}]" if unit else name
        return f"{text} {ARROWS[self.directions[metric]]}" if arrow else text

    def to_frame(self) -> pd.DataFrame:
        """Wide table: index = method; columns = ``average_rank`` then per metric its value (unrounded) and rank."""
        cols: dict[str, pd.Series] = {"average_rank": self.average_rank.round(4)}
        for m in self.metrics:
            cols[m] = self.values[m]
            cols[f"rank:{m}"] = self.ranks[m].astype("Int64")
        out = pd.DataFrame(cols, index=self.values.index)
        out.index.name = "method"
        return out


# ------------------------------------------------------------------------------------------ loading


def load(results: str | os.PathLike | ResultSet | Mapping[str, Any]) -> ResultSet:
    """A :class:`ResultSet` from a path (``results.json`` or run directory), a loaded set or a dict."""
    if isinstance(results, ResultSet):
        return results
    if isinstance(results, Mapping):
        return ResultSet.from_json(dict(results))
    if isinstance(results, (str, os.PathLike)):
        return load_results(results)
    raise TypeError(f"expected a results path, ResultSet or dict, got {type(results).__name__}")


def _where(rs: ResultSet) -> str:
    return str(rs.path) if rs.path else "results"


def _select(df: pd.DataFrame, column: str, wanted: Sequence[str] | None, what: str, rs: ResultSet) -> pd.DataFrame:
    if not wanted:
        return df
    present = [str(v) for v in pd.unique(df[column])]
    unknown = [w for w in wanted if w not in present]
    if unknown:
        raise ConfigError(f"{_where(rs)}: no {what} {', '.join(map(repr, unknown))}; "
                          f"present: {', '.join(present) or 'none'}")
    return df[df[column].isin(list(wanted))]


def _auto_decimals(values: np.ndarray) -> int:
    finite = np.abs(values[np.isfinite(values)])
    if finite.size and np.all(finite == np.round(finite)):
        return 0  # counts (parameters, images, ...) and other whole numbers
    finite = finite[finite > 0]  # exact zeros (e.g. 0 parameters) say nothing about the scale
    if finite.size == 0:
        return 2
    mag = float(np.median(finite))
    if mag >= 1000:
        return 0
    if mag >= 100:
        return 1
    if mag >= 10:
        return 2
    if mag >= 0.1:
        return 3
    return min(8, 2 - int(math.floor(math.log10(mag))))


def _meta_decimals(metas: Iterable[Any], metric: str) -> int | None:
    for meta in metas:
        if isinstance(meta, Mapping) and "decimals" in meta:
            d = meta["decimals"]
            if isinstance(d, Mapping):
                d = d.get(metric)
            if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and 0 <= d <= 12:
                return int(d)
    return None


def _per_image_stats(rs: ResultSet, dataset: str, task: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    pi = getattr(rs, "per_image", None)
    if pi is None or len(pi) == 0:
        return None, None
    sel = pi[(pi["dataset"].astype(str) == dataset) & (pi["task"].astype(str) == task)]
    if len(sel) == 0:
        return None, None
    g = sel.assign(method=sel["method"].astype(str), metric=sel["metric"].astype(str)).groupby(
        ["method", "metric"])["value"]
    return g.std(ddof=1).unstack("metric"), g.count().unstack("metric")


def _common_settings(metas: Iterable[Any], max_len: int = 80) -> dict[str, str]:
    """Scalar meta entries that every record of a board shares (e.g. resolution, precision, profile)."""
    common: dict[str, Any] | None = None
    for meta in metas:
        items = {k: v for k, v in (meta.items() if isinstance(meta, Mapping) else ())
                 if isinstance(v, (str, int, float, bool)) and k not in ("decimals", "fused_dir")}
        common = items if common is None else {k: v for k, v in common.items() if k in items and items[k] == v}
    return {str(k): str(v) for k, v in (common or {}).items() if len(str(v)) <= max_len}


def _native(metas: Iterable[Any], metric: str) -> bool:
    """False when any record of ``metric`` says it is not native to its profile (``meta["native"]``)."""
    for meta in metas:
        flags = meta.get("native") if isinstance(meta, Mapping) else None
        if isinstance(flags, Mapping) and flags.get(metric) is False:
            return False
    return True


def references_of(rs: ResultSet) -> dict[str, str]:
    """Single-modality reference rows of a run: method -> ``"ir"`` / ``"vis"``, as the runner recorded
    them in the provenance (``references``, from each model's ``single_modality``)."""
    refs = (rs.provenance or {}).get("references") or {}
    return {str(k): str(v) for k, v in refs.items()} if isinstance(refs, Mapping) else {}


def build_leaderboards(results: str | os.PathLike | ResultSet | Mapping[str, Any], *,
                       datasets: Sequence[str] | None = None, tasks: Sequence[str] | None = None,
                       methods: Sequence[str] | None = None, order: str = "rank",
                       references: Mapping[str, str] | None = None, rank_references: bool = False,
                       avg_rank: bool = True, std: bool = False) -> list[Leaderboard]:
    """One :class:`Leaderboard` per (dataset, task) present in ``results``, in record order.

    ``datasets`` / ``tasks`` / ``methods`` restrict the tables; a name that is not in the results raises
    :class:`ConfigError`. Records that repeat a (dataset, method, task, metric) or disagree on a metric's
    direction raise :class:`DataError` naming the entry. ``order``, ``rank_references``, ``avg_rank`` and
    ``std`` are as in :class:`Leaderboard` (an ``order`` metric applies to the boards that have it; a
    metric no board has is a :class:`ConfigError`); ``references`` (method -> ``"ir"``/``"vis"``)
    defaults to what the run recorded (:func:`references_of`).
    """
    rs = load(results)
    refs = references_of(rs) if references is None else dict(references)
    rec = rs.records
    if rec is None or len(rec) == 0:
        raise DataError(f"{_where(rs)}: no result records (every cell failed or the run is empty)")
    for col in ("dataset", "method", "task", "metric"):
        rec = rec.assign(**{col: rec[col].astype(str)})
    rec = _select(rec, "dataset", datasets, "dataset", rs)
    rec = _select(rec, "task", tasks, "task", rs)
    rec = _select(rec, "method", methods, "method", rs)
    if len(rec) == 0:
        raise DataError(f"{_where(rs)}: no records for the chosen datasets/tasks/methods")
    key = ["dataset", "method", "task", "metric"]
    dup = rec[rec.duplicated(key, keep=False)]
    if len(dup):
        raise DataError(f"{_where(rs)}: record {dup.iloc[0][key].tolist()} appears {len(dup)} times; "
                        "merge results from different runs with one value per (dataset, method, task, metric)")
    if order not in ORDERS and order not in set(rec["metric"]):
        raise ConfigError(f"cannot order rows by {order!r}: not rank, config or a metric of the results "
                          f"({', '.join(pd.unique(rec['metric']))})")
    boards = []
    for (dataset, task), grp in rec.groupby(["dataset", "task"], sort=False):
        metrics = list(pd.unique(grp["metric"]))
        directions, units, decimals = {}, {}, {}
        for m in metrics:
            rows = grp[grp["metric"] == m]
            dirs = set(rows["direction"])
            if len(dirs) != 1:
                raise DataError(f"{_where(rs)}: {dataset}/{task} metric {m!r} has conflicting directions "
                                f"{sorted(dirs)} across methods")
            directions[m] = dirs.pop()
            unit_vals = [u for u in pd.unique(rows["unit"].fillna("").astype(str)) if u]
            units[m] = unit_vals[0] if len(unit_vals) == 1 else ""
            vals = rows["value"].to_numpy(dtype=float)
            decimals[m] = _meta_decimals(rows["meta"], m)
            if decimals[m] is None:
                decimals[m] = _auto_decimals(vals)
        wide = grp.pivot(index="method", columns="metric", values="value")
        method_order = list(pd.unique(grp["method"]))
        wide = wide.reindex(index=method_order, columns=metrics).astype(float)
        wide.index.name = "method"
        wide.columns.name = None
        spread, count = _per_image_stats(rs, str(dataset), str(task))
        settings = _common_settings(grp["meta"])
        boards.append(Leaderboard(
            str(dataset), str(task), wide, directions, units, decimals, spread=spread, n_images=count,
            settings=settings, references=refs, rank_references=rank_references,
            order=order if order in ORDERS or order in metrics else "rank", profile=settings.get("profile"),
            native={m: _native(grp.loc[grp["metric"] == m, "meta"], m) for m in metrics},
            avg_rank=avg_rank, std=std))
    return boards


# ------------------------------------------------------------------------------------------ formats


def to_csv(boards: Sequence[Leaderboard]) -> str:
    """Long ("tidy") CSV of all boards: one row per (dataset, task, method, metric) with value, unit,
    direction, rank, the method's average rank and its position in the board."""
    rows = []
    for b in boards:
        for pos, method in enumerate(b.methods, 1):
            for m in b.metrics:
                v = b.values.at[method, m]
                r = b.ranks.at[method, m]
                rows.append({"dataset": b.dataset, "task": b.task, "method": method, "metric": m,
                             "value": None if pd.isna(v) else float(v), "unit": b.units.get(m, ""),
                             "direction": b.directions[m], "rank": None if pd.isna(r) else int(r),
                             "average_rank": round(float(b.average_rank[method]), 4)
                             if not pd.isna(b.average_rank[method]) else None, "position": pos})
    df = pd.DataFrame(rows, columns=["dataset", "task", "method", "metric", "value", "unit", "direction",
                                     "rank", "average_rank", "position"])
    df["rank"] = df["rank"].astype("Int64")
    return df.to_csv(index=False, lineterminator="\n")


def _md_escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")


def _avg_fmt(v: float) -> str:
    return "" if pd.isna(v) else f"{float(v):.2f}"


def board_to_markdown(b: Leaderboard, *, heading_level: int = 3) -> str:
    """One board as a GitHub-flavoured Markdown table (best ``**bold**``, second ``<u>underlined</u>``),
    followed by its notes (profile, ``*`` metrics, ``†`` rows)."""
    head = ["Method"] + [_md_escape(b.header(m)) for m in b.metrics] + \
        ([f"Avg. rank {ARROWS['lower']}"] if b.avg_rank else [])
    lines = [f"{'#' * heading_level} {_md_escape(b.title)}", "",
             "| " + " | ".join(head) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|"]
    for method in b.methods:
        cells = [_md_escape(b.label(method))]
        for m in b.metrics:
            text = b.cell_text(method, m) or MISSING
            hl = b.highlight.at[method, m]
            cells.append(f"**{text}**" if hl == "best" else f"<u>{text}</u>" if hl == "second" else text)
        if b.avg_rank:
            cells.append(_avg_fmt(b.average_rank[method]) or MISSING)
        lines.append("| " + " | ".join(cells) + " |")
    notes = b.notes()
    if notes:
        lines += ["", _md_escape(" ".join(notes))]
    return "\n".join(lines) + "\n"


def _failures(rs: ResultSet) -> pd.DataFrame:
    f = getattr(rs, "failures", None)
    if f is None:
        return pd.DataFrame(columns=["dataset", "method", "task", "error"])
    return f


def _filter_failures(rs: ResultSet, boards: Sequence[Leaderboard], datasets, tasks, methods) -> pd.DataFrame:
    f = _failures(rs)
    for col, wanted in (("dataset", datasets), ("task", tasks), ("method", methods)):
        if wanted and len(f):
            f = f[f[col].astype(str).isin(list(wanted))]
    return f


def to_markdown(results: str | os.PathLike | ResultSet | Mapping[str, Any], *,
                datasets: Sequence[str] | None = None, tasks: Sequence[str] | None = None,
                methods: Sequence[str] | None = None, heading_level: int = 3, **style: Any) -> str:
    """All leaderboards of ``results`` as Markdown (one table per dataset/task), then the failures;
    ``style`` as in :func:`build_leaderboards`."""
    rs = load(results)
    boards = build_leaderboards(rs, datasets=datasets, tasks=tasks, methods=methods, **style)
    return _markdown(rs, boards, _filter_failures(rs, boards, datasets, tasks, methods), heading_level)


def print_terminal(results: str | os.PathLike | ResultSet | Mapping[str, Any], *,
                   datasets: Sequence[str] | None = None, tasks: Sequence[str] | None = None,
                   methods: Sequence[str] | None = None, **style: Any) -> None:
    """The leaderboards as tables that fit the terminal (the files keep the full Markdown / HTML);
    ``style``: ``order``, ``references``, ``rank_references``, ``avg_rank``, ``std`` as in
    :func:`build_leaderboards`."""
    from sagebench.benchmark.terminal import print_table, say

    rs = load(results)
    boards = build_leaderboards(rs, datasets=datasets, tasks=tasks, methods=methods, **style)
    for b in boards:
        rows = [{"method": b.label(m), **{b.header(k): b.cell_text(m, k) for k in b.metrics},
                 **({"avg rank": _avg_fmt(b.average_rank[m])} if b.avg_rank else {})} for m in b.methods]
        print_table(pd.DataFrame(rows), title=b.title)
        for note in b.notes():
            say(f"  {note}")
    failures = _filter_failures(rs, boards, datasets, tasks, methods)
    for f in failures.itertuples():
        say(f"FAILED {f.dataset} / {f.method} / {f.task}: {f.error}")
    say(f"{ARROWS['higher']} higher is better, {ARROWS['lower']} lower is better; full tables in the leaderboard "
        "files.")


def _markdown(rs: ResultSet, boards: Sequence[Leaderboard], failures: pd.DataFrame, level: int) -> str:
    parts = [board_to_markdown(b, heading_level=level) for b in boards]
    parts.append("Best per column in **bold**, second best <u>underlined</u>; "
                 f"{ARROWS['higher']} higher is better, {ARROWS['lower']} lower is better.\n")
    if len(failures):
        lines = [f"{'#' * level} Failures", "", "| Dataset | Method | Task | Error |", "|:---|:---|:---|:---|"]
        for _, r in failures.iterrows():
            err = " ".join(str(r["error"]).split())
            lines.append(f"| {_md_escape(r['dataset'])} | {_md_escape(r['method'])} | {_md_escape(r['task'])} "
                         f"| {_md_escape(err)} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "\u00b7": r"$\cdot$", "\u00b1": r"$\pm$", "\u2020": r"$^{\dagger}$", "\u00b5": r"$\mu$",
                  "\u03bc": r"$\mu$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def board_to_latex(b: Leaderboard, *, label_prefix: str = "tab:sagebench") -> str:
    """One board as a booktabs ``table`` (needs ``\\usepackage{booktabs}``); best ``\\textbf``, second
    ``\\underline``; the caption carries the board's notes (profile, ``*`` metrics, ``†`` rows)."""
    def head(m: str) -> str:
        unit = b.units.get(m, "")
        star = "" if b.is_native(m) else "$^{*}$"
        text = latex_escape(m) + star + (f" [{latex_escape(unit)}]" if unit else "")
        return f"{text} {LATEX_ARROWS[b.directions[m]]}"

    notes = " ".join(r"$^{*}$" + latex_escape(n[1:]) if n.startswith(NON_NATIVE_MARK) else latex_escape(n)
                     for n in b.notes())
    cols = "l" + "r" * (len(b.metrics) + int(b.avg_rank))
    lines = [r"\begin{table}[t]", r"\centering",
             rf"\caption{{{latex_escape(b.title)}. Best in bold, second best "
             r"underlined; $\uparrow$/$\downarrow$: higher/lower is better." + (f" {notes}" if notes else "") + "}",
             rf"\label{{{label_prefix}-{slug(b.dataset).lower()}-{slug(b.task).lower()}}}",
             rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
             " & ".join(["Method"] + [head(m) for m in b.metrics] +
                        ([r"Avg.\ rank $\downarrow$"] if b.avg_rank else [])) + r" \\",
             r"\midrule"]
    first_reference = True
    for method in b.methods:
        if b.is_reference(method) and not b.rank_references and first_reference and b.order != "config" \
                and len(b.references) < len(b.methods):
            lines.append(r"\midrule")  # the unranked reference rows under a rule
            first_reference = False
        cells = [latex_escape(method) + (r"$^{\dagger}$" if b.is_reference(method) else "")]
        for m in b.metrics:
            text = b.cell_text(method, m, pm=r" $\pm$ ") or "--"
            hl = b.highlight.at[method, m]
            cells.append(rf"\textbf{{{text}}}" if hl == "best" else rf"\underline{{{text}}}" if hl == "second"
                         else text)
        if b.avg_rank:
            cells.append(_avg_fmt(b.average_rank[method]) or "--")
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_latex(results: str | os.PathLike | ResultSet | Mapping[str, Any] | Sequence[Leaderboard], *,
             standalone: bool = False, **filters: Any) -> str:
    """All leaderboards as LaTeX ``table`` environments (booktabs). ``standalone`` wraps them in a
    compilable ``article`` document."""
    boards = _boards(results, **filters)
    from sagebench import __version__

    body = "\n".join(board_to_latex(b) for b in boards)
    header = f"% Generated by sagebench {__version__}. Needs \\usepackage{{booktabs}}.\n"
    if not standalone:
        return header + body
    return (header + "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
            "\\usepackage{booktabs}\n\\begin{document}\n" + body + "\\end{document}\n")


def _boards(results: Any, **filters: Any) -> list[Leaderboard]:
    if isinstance(results, Sequence) and not isinstance(results, (str, bytes)) and \
            all(isinstance(b, Leaderboard) for b in results):
        return list(results)
    return build_leaderboards(results, **filters)


# --------------------------------------------------------------------------------------------- HTML


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(b: Leaderboard, table_id: str) -> str:
    th = ['<th data-key="#" data-type="num" data-default="asc" title="position by average rank">#</th>',
          '<th data-key="method" data-type="text" data-default="asc">Method</th>']
    for m in b.metrics:
        d = b.directions[m]
        unit = b.units.get(m, "")
        label = _e(m).replace("_", "_<wbr>") + (f' <span class="unit">[{_e(unit)}]</span>' if unit else "")
        native = "" if b.is_native(m) else (f'<sup class="mark" title="not native to profile {_e(b.profile)}">'
                                             f"{NON_NATIVE_MARK}</sup>")
        th.append(f'<th data-key="{_e(m)}" data-type="num" data-dir="{d}" '
                  f'data-default="{"desc" if d == "higher" else "asc"}" '
                  f'title="{_e(m)}: {d} is better; click to sort">{label}{native} '
                  f'<span class="arrow">{ARROWS[d]}</span></th>')
    if b.avg_rank:
        th.append('<th data-key="avg-rank" data-type="num" data-dir="lower" data-default="asc" '
                  'title="mean of the per-metric ranks; lower is better">Avg. rank '
                  f'<span class="arrow">{ARROWS["lower"]}</span></th>')
    rows = []
    pos = 0
    for method in b.methods:
        unranked = b.is_reference(method) and not b.rank_references
        if not unranked:
            pos += 1
        mark = (f' <sup class="mark" title="single-modality reference: '
                f'{_e(REFERENCE_KINDS.get(b.references[method], b.references[method]))}">{REFERENCE_MARK}</sup>'
                if b.is_reference(method) else "")
        tds = [f'<td class="pos" data-value="{"" if unranked else pos}">{"" if unranked else pos}</td>',
               f'<td class="method" data-value="{_e(method)}">{_e(method)}{mark}</td>']
        for m in b.metrics:
            v = b.values.at[method, m]
            if pd.isna(v):
                tds.append(f'<td class="num missing" data-key="{_e(m)}" data-value="">{MISSING}</td>')
                continue
            r = b.ranks.at[method, m]
            hl = b.highlight.at[method, m]
            cls = f"num {hl}".strip()
            rank_attr = "" if pd.isna(r) else f' data-rank="{int(r)}"'
            share = _bar_share(b, m, float(v))
            if share is not None:  # an in-cell bar: direction-aware share of the column's range (HTML/CSS only)
                rank_attr += f' data-bar="{share:.3f}" style="--bar: {100 * share:.1f}%"'
            rank_sup = "" if pd.isna(r) else f'<sup class="rk">{int(r)}</sup>'
            tip = ("not ranked" if pd.isna(r) else f"rank {int(r)}") + _spread_note(b, method, m)
            tds.append(f'<td class="{cls}" data-key="{_e(m)}" data-value="{float(v)!r}"{rank_attr} '
                       f'title="{_e(tip)}">{_e(b.cell_text(method, m))}{rank_sup}</td>')
        if b.avg_rank:
            avg = b.average_rank[method]
            tds.append(f'<td class="num avg" data-value="{"" if pd.isna(avg) else f"{float(avg):.6f}"}">'
                       f'{_avg_fmt(avg)}</td>')
        cls = ' class="reference"' if b.is_reference(method) else ""
        rows.append(f'<tr data-method="{_e(method)}"{cls}>' + "".join(tds) + "</tr>")
    profile = f' data-profile="{_e(b.profile)}"' if b.profile else ""
    return (f'<table class="lb" id="{table_id}" data-dataset="{_e(b.dataset)}" data-task="{_e(b.task)}"{profile}>'
            f'<thead><tr>{"".join(th)}</tr></thead><tbody>\n' + "\n".join(rows) + "\n</tbody></table>")


def _bar_share(b: Leaderboard, metric: str, value: float) -> float | None:
    """Where ``value`` lies between the column's worst (0) and best (1) value; None for a constant column."""
    col = b.values[metric].dropna()
    lo, hi = float(col.min()), float(col.max())
    if not math.isfinite(value) or hi <= lo:
        return None
    share = (value - lo) / (hi - lo)
    return share if b.directions[metric] == "higher" else 1.0 - share


#: per-class metric prefixes drawn as bars under a board, by preference (detection, segmentation)
CLASS_BAR_PREFIXES = ("AP50_", "IoU_")


def _html_class_bars(b: Leaderboard) -> str:
    """Per-class AP50 (detection) or IoU (segmentation) of each method as horizontal HTML/CSS bars, one group
    per class (bar length: the value on 0-100 % for percentages, else a share of the class's best value; the
    class's best method highlighted). Empty for a board without per-class metrics."""
    for prefix in CLASS_BAR_PREFIXES:
        cols = [m for m in b.metrics if m.startswith(prefix)]
        if cols:
            break
    else:
        return ""
    what = prefix.rstrip("_")
    unit = b.units.get(cols[0], "")
    groups = []
    for m in cols:
        col = b.values[m]
        top = float(col.max()) if col.notna().any() else float("nan")
        scale = 100.0 if unit == "%" else (top if top > 0 else float("nan"))
        rows = []
        for method in b.methods:
            v = col.get(method)
            if v is None or pd.isna(v):
                rows.append(f'<div class="cb-row missing" data-method="{_e(method)}" data-value="">'
                            f'<span class="cb-m">{_e(method)}</span><span class="cb-track"></span>'
                            f'<span class="cb-v">{MISSING}</span></div>')
                continue
            share = min(max(float(v) / scale, 0.0), 1.0) if math.isfinite(scale) else 0.0
            best = " best" if float(v) == top else ""
            rows.append(f'<div class="cb-row{best}" data-method="{_e(method)}" data-value="{float(v)!r}">'
                        f'<span class="cb-m">{_e(method)}</span><span class="cb-track"><span class="cb-bar" '
                        f'style="width: {100 * share:.2f}%"></span></span>'
                        f'<span class="cb-v">{_e(b.fmt(m, float(v)))}</span></div>')
        name = m[len(prefix):]
        groups.append(f'<div class="cb-class" data-class="{_e(name)}"><h4>{_e(name)}</h4>{"".join(rows)}</div>')
    scale_note = "bar length 0–100 %" if unit == "%" else "bar length relative to the class's best value"
    return (f'<figure class="classbars" data-metric="{_e(what)}"><figcaption>{_e(b.title)}: per-class {_e(what)}'
            f'{" [" + _e(unit) + "]" if unit else ""} per method ({scale_note}; the best per class highlighted)'
            f'</figcaption><div class="cb-grid">{"".join(groups)}</div></figure>')


def _html_notes(b: Leaderboard) -> str:
    notes = b.notes()
    return f'<p class="notes">{" ".join(_e(n) for n in notes)}</p>' if notes else ""


def _spread_note(b: Leaderboard, method: str, metric: str) -> str:
    if b.n_images is None or method not in b.n_images.index or metric not in b.n_images.columns:
        return ""
    n = b.n_images.at[method, metric]
    if pd.isna(n) or n == 0:
        return ""
    sd = b.spread.at[method, metric] if b.spread is not None else float("nan")
    return f"; {int(n)} images, std {b.fmt(metric, sd)}" if not pd.isna(sd) else f"; {int(n)} images"


def _html_settings(b: Leaderboard) -> str:
    if not b.settings:
        return ""
    items = ", ".join(f"{_e(k)} <code>{_e(v)}</code>" for k, v in b.settings.items())
    return f'<p class="settings">Settings: {items}</p>'


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        out.append((prefix, ", ".join(map(str, obj))))
    else:
        out.append((prefix, "" if obj is None else str(obj)))
    return out


_PROV_FIRST = ("sagebench_version", "git", "device", "device_name", "type", "threads", "config_hash", "seed",
               "created", "command", "python", "torch", "cuda", "cudnn", "mmengine", "platform", "world_size")


def _html_provenance(prov: Mapping[str, Any]) -> str:
    if not prov:
        return '<p class="note">No provenance recorded.</p>'
    keys = [k for k in _PROV_FIRST if k in prov] + [k for k in prov if k not in _PROV_FIRST and k != "config"]
    rows = []
    for k in keys:
        for name, value in _flatten(prov[k], k):
            rows.append(f"<tr><th>{_e(name)}</th><td><code>{_e(value)}</code></td></tr>")
    out = '<table class="prov">' + "".join(rows) + "</table>"
    if "config" in prov:
        cfg = json.dumps(prov["config"], indent=2, sort_keys=True, default=str)
        out += f"<details><summary>Configuration</summary><pre>{_e(cfg)}</pre></details>"
    return out


def _html_failures(failures: pd.DataFrame) -> str:
    if not len(failures):
        return '<p class="note ok" id="no-failures">No failures.</p>'
    rows = "".join(f"<tr><td>{_e(r['dataset'])}</td><td>{_e(r['method'])}</td><td>{_e(r['task'])}</td>"
                   f"<td><pre>{_e(r['error'])}</pre></td></tr>" for _, r in failures.iterrows())
    return ('<table class="failures" id="failures"><thead><tr><th>Dataset</th><th>Method</th><th>Task</th>'
            f"<th>Error</th></tr></thead><tbody>{rows}</tbody></table>")


def _img(png: bytes, alt: str, cls: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def to_html(rs: ResultSet, boards: Sequence[Leaderboard], *, figures: Mapping[str, tuple[str, bytes]] | None = None,
            failures: pd.DataFrame | None = None, title: str = "sagebench leaderboard") -> str:
    """The standalone HTML page (inline CSS/JS, figures as base64 PNG, no external resources).

    ``figures`` maps a key to ``(caption, png_bytes)``; keys ``bars:<board slug>`` are shown under their
    board, the others in a "Figures" section.
    """
    from sagebench import __version__

    figures = dict(figures or {})
    failures = _failures(rs) if failures is None else failures
    nav, sections = [], []
    for i, b in enumerate(boards):
        tid = f"lb-{i}-{b.slug}"
        nav.append(f'<li><a href="#sec-{tid}">{_e(b.title)}</a></li>')
        fig = figures.pop(f"bars:{b.slug}", None)
        fig_html = (f'<figure class="plot">{_img(fig[1], fig[0], "plot bars")}<figcaption>{_e(fig[0])}'
                    "</figcaption></figure>") if fig else ""
        sections.append(f'<section class="board" id="sec-{tid}"><h2>{_e(b.title)}</h2>'
                        f'<div class="scroll">{_html_table(b, tid)}</div>{_html_notes(b)}{_html_settings(b)}'
                        f"{_html_class_bars(b)}{fig_html}</section>")
    extra = "".join(f'<figure class="plot">{_img(png, cap, "plot " + key.split(":")[0])}'
                    f"<figcaption>{_e(cap)}</figcaption></figure>" for key, (cap, png) in figures.items())
    if extra:
        nav.append('<li><a href="#figures">Figures</a></li>')
        extra = f'<section id="figures"><h2>Figures</h2><div class="figgrid">{extra}</div></section>'
    nav += ['<li><a href="#provenance">Provenance</a></li>',
            f'<li><a href="#failures-section">Failures ({len(failures)})</a></li>']
    template = Template(resources.files("sagebench.benchmark").joinpath("templates/leaderboard.html")
                        .read_text(encoding="utf-8"))
    return template.substitute(
        title=_e(title),
        source=_e(rs.path or "in-memory results"),
        generated=_e(datetime.now(timezone.utc).isoformat(timespec="seconds")),
        version=_e(__version__),
        nav="".join(nav),
        boards="\n".join(sections),
        figures=extra,
        provenance=_html_provenance(rs.provenance or {}),
        failures=_html_failures(failures),
        n_failures=str(len(failures)),
    )


# ---------------------------------------------------------------------------------------- render_all


def _write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def render_all(results: str | os.PathLike | ResultSet | Mapping[str, Any], out_dir: str | os.PathLike,
               formats: Sequence[str] = FORMATS, plots: bool = True, *, datasets: Sequence[str] | None = None,
               tasks: Sequence[str] | None = None, methods: Sequence[str] | None = None,
               **style: Any) -> dict[str, Path]:
    """Write the leaderboards of ``results`` into ``out_dir``; return what was written. ``style``:
    ``order``, ``references``, ``rank_references``, ``avg_rank``, ``std`` as in :func:`build_leaderboards`.

    Files (atomic writes): ``leaderboard.csv`` (long format) and ``tables/<dataset>__<task>.csv`` (one
    wide table per board; dataset ``all`` for dataset-independent tasks) for ``csv``; ``leaderboard.md``;
    ``leaderboard.tex`` (booktabs fragment); ``leaderboard.html`` (standalone page, plots embedded); with
    ``plots``,
    ``plots/bars_<dataset>__<task>.png`` per board and ``plots/radar_<dataset>.png`` per dataset with at
    least three metrics that every method has.

    Returns a dict: ``"csv"``, ``"md"``, ``"tex"``, ``"html"`` -> path, ``"csv:<dataset>/<task>"`` -> wide
    CSV, ``"plot:bars:<dataset>/<task>"`` and ``"plot:radar:<dataset>"`` -> PNG.
    """
    formats = list(dict.fromkeys(formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"unknown leaderboard format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    rs = load(results)
    boards = build_leaderboards(rs, datasets=datasets, tasks=tasks, methods=methods, **style)
    failures = _filter_failures(rs, boards, datasets, tasks, methods)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    figures: dict[str, tuple[str, bytes]] = {}
    if plots:
        from sagebench.benchmark import plots as plotmod

        for b in boards:
            png = plotmod.figure_png(plotmod.bar_chart(b))
            key = f"bars:{b.slug}"
            figures[key] = (f"{b.title}: value per method and metric (best highlighted)", png)
            written[f"plot:bars:{b.dataset}/{b.task}"] = _write_bytes(out / "plots" / f"bars_{b.slug}.png", png)
        for dataset in dict.fromkeys(b.dataset for b in boards):
            group = [b for b in boards if b.dataset == dataset]
            fig = plotmod.radar_chart(group)
            if fig is None:
                continue
            png = plotmod.figure_png(fig)
            where = group[0].title if len(group) == 1 else dataset
            figures[f"radar:{slug(dataset)}"] = (
                f"{where}: direction-aware normalised metrics (1 = best, 0 = worst method)", png)
            name = "all" if dataset == NO_DATASET else slug(dataset)
            written[f"plot:radar:{dataset}"] = _write_bytes(out / "plots" / f"radar_{name}.png", png)
    if "csv" in formats:
        written["csv"] = write_text(out / "leaderboard.csv", to_csv(boards))
        for b in boards:
            written[f"csv:{b.dataset}/{b.task}"] = write_text(
                out / "tables" / f"{b.slug}.csv", b.to_frame().to_csv(lineterminator="\n"))
    if "md" in formats:
        written["md"] = write_text(out / "leaderboard.md", _markdown(rs, boards, failures, 3))
    if "tex" in formats:
        written["tex"] = write_text(out / "leaderboard.tex", to_latex(boards))
    if "html" in formats:
        written["html"] = write_text(out / "leaderboard.html", to_html(rs, boards, figures=figures,
                                                                        failures=failures))
    return written
