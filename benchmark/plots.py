"""Leaderboard plots (matplotlib, no pyplot state): per-metric bar charts and a radar chart.

Figures are built on :class:`matplotlib.figure.Figure` directly and rendered by the Agg canvas, so they
never touch the user's pyplot backend or open windows. Every method keeps one colour across all
charts of a page (colours follow the sorted method names).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sagebench.io import atomic_path

if TYPE_CHECKING:
    from sagebench.benchmark.leaderboard import Leaderboard

ARROWS = {"higher": "\u2191", "lower": "\u2193"}
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd"]


def method_colours(methods: Sequence[str]) -> dict[str, str]:
    """A stable colour per method name (sorted names take the palette in order, then it repeats)."""
    return {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(sorted(set(map(str, methods))))}


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """Render ``fig`` to PNG bytes with the Agg canvas."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Save ``fig`` atomically; the format follows the suffix (png, pdf, svg)."""
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi, bbox_inches="tight",
                    facecolor="white")
    return path


def bar_chart(board: Leaderboard, *, colours: dict[str, str] | None = None, ncols: int = 3) -> Figure:
    """One horizontal bar panel per metric of ``board``; methods in leaderboard order (best on top).

    Bars carry their value; the best value of a panel has a thick black edge, the second a dashed one.
    """
    metrics = board.metrics
    colours = colours or method_colours(board.methods)
    ncols = max(1, min(ncols, len(metrics)))
    nrows = math.ceil(len(metrics) / ncols)
    n = len(board.methods)
    fig = Figure(figsize=(4.2 * ncols, 0.5 + nrows * (0.9 + 0.32 * n)), layout="constrained")
    fig.suptitle(f"{board.title}", fontsize=12, fontweight="bold")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    methods = board.methods[::-1]  # barh draws bottom-up
    for k, ax in enumerate(axes.flat):
        if k >= len(metrics):
            ax.set_axis_off()
            continue
        m = metrics[k]
        vals = board.values[m].reindex(methods).to_numpy(dtype=float)
        y = np.arange(len(methods))
        finite = np.isfinite(vals)
        bars = ax.barh(y[finite], vals[finite], color=[colours[x] for x, f in zip(methods, finite) if f],
                       height=0.7)
        hl = board.highlight[m].reindex(methods).to_numpy()
        for bar, h in zip(bars, hl[finite]):
            if h == "best":
                bar.set_edgecolor("black")
                bar.set_linewidth(2.0)
            elif h == "second":
                bar.set_edgecolor("black")
                bar.set_linestyle("--")
                bar.set_linewidth(1.2)
        for yy, v in zip(y[finite], vals[finite]):
            ax.annotate(board.fmt(m, v), (v, yy), xytext=(3 if v >= 0 else -3, 0), textcoords="offset points",
                        va="center", ha="left" if v >= 0 else "right", fontsize=7.5)
        for yy in y[~finite]:
            ax.annotate("n/a", (0, yy), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7.5,
                        color="#888888")
        ax.set_yticks(y, methods, fontsize=8)
        for tick, h in zip(ax.get_yticklabels(), hl):
            if h == "best":
                tick.set_fontweight("bold")
        unit = board.units.get(m, "")
        ax.set_title(f"{m}{f' [{unit}]' if unit else ''} {ARROWS[board.directions[m]]}", fontsize=10)
        ax.tick_params(axis="x", labelsize=7.5)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        ax.margins(x=0.18)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig


def normalise(values: pd.DataFrame, directions: dict[str, str]) -> pd.DataFrame:
    """Direction-aware min-max normalisation per column: 1 = best method, 0 = worst; a column whose
    values are all equal maps to 1. NaN stays NaN."""
    out = {}
    for m in values.columns:
        col = values[m].astype(float)
        lo, hi = col.min(), col.max()
        if not np.isfinite(lo) or hi == lo:
            out[m] = col.where(col.isna(), 1.0)
            continue
        scaled = (col - lo) / (hi - lo)
        out[m] = scaled if directions[m] == "higher" else 1.0 - scaled
    return pd.DataFrame(out, index=values.index)


def radar_chart(boards: Sequence[Leaderboard], *, colours: dict[str, str] | None = None,
                min_metrics: int = 3) -> Figure | None:
    """Radar chart of the direction-aware normalised metrics of ``boards`` (normally all tasks of one
    dataset), one polygon per method.

    Only methods present on every board and metrics every such method has are used; returns None when
    fewer than ``min_metrics`` metrics or fewer than two methods remain (a radar needs a polygon).
    """
    if not boards:
        return None
    methods = [m for m in boards[0].methods if all(m in b.methods for b in boards[1:])]
    cols, directions, labels = [], {}, []
    names = [m for b in boards for m in b.metrics]
    for b in boards:
        for m in b.metrics:
            col = b.values.loc[methods, m] if methods else pd.Series(dtype=float)
            if len(col) == 0 or col.isna().any():
                continue
            label = f"{b.task}:{m}" if names.count(m) > 1 else m
            cols.append(col.rename(label))
            directions[label] = b.directions[m]
            labels.append(label)
    if len(labels) < min_metrics or len(methods) < 2:
        return None
    norm = normalise(pd.concat(cols, axis=1), directions)
    colours = colours or method_colours(methods)
    angles = np.linspace(0, 2 * np.pi, len(labels), endpoint=False)
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    closed = np.concatenate([angles, angles[:1]])
    for method in methods:
        v = norm.loc[method].to_numpy(dtype=float)
        v = np.concatenate([v, v[:1]])
        ax.plot(closed, v, color=colours[method], linewidth=1.8, label=method)
        ax.fill(closed, v, color=colours[method], alpha=0.08)
    ax.set_xticks(angles, [f"{lab} {ARROWS[directions[lab]]}" for lab in labels], fontsize=8.5)
    ax.set_ylim(-0.25, 1.05)  # r = 0 is a small polygon, not a point: a method worst everywhere stays visible
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0], ["0", "", "0.5", "", "1"], fontsize=7, color="#777777")
    where = boards[0].title if len(boards) == 1 else boards[0].dataset
    ax.set_title(f"{where}: normalised metrics (1 = best)", fontsize=11, fontweight="bold")
    ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), fontsize=8, frameon=False)
    return fig
