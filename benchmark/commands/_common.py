"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse

from sagebench.devices import resolve_device
from sagebench.weights import ENV_WEIGHTS_DIR

__all__ = ["add_device", "add_include", "add_table_style", "add_threads", "add_weights_dir", "resolve_device",
           "table_style"]


def add_weights_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-dir", metavar="DIR",
                        help=f"folder with local copies of released weights (overrides ${ENV_WEIGHTS_DIR})")


def add_include(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include", action="append", default=[], metavar="PATH_OR_MODULE",
                        help="import a module or .py file first (repeatable): its registered methods, or any "
                             "class in it as 'module.Class', become usable methods")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's choice; on a busy machine fewer can be faster)")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available, else cpu)")




def add_table_style(parser: argparse.ArgumentParser) -> None:
    """Options of paper-ready tables (see ``sagebench.benchmark.leaderboard``); unset options keep the run
    config's ``leaderboard`` entry."""
    group = parser.add_argument_group("table style (default: the run config's leaderboard entry)")
    group.add_argument("--order", default=None, metavar="rank|config|METRIC",
                       help="row order: by average rank (default), as configured, or best-first by one metric")
    group.add_argument("--no-avg-rank", dest="avg_rank", action="store_false", default=None,
                       help="leave out the average-rank column")
    group.add_argument("--rank-references", action="store_true", default=None,
                       help="rank the single-modality reference rows (IR only, visible only; marked \u2020) "
                            "with the methods (default: shown, not ranked)")
    group.add_argument("--std", action="store_true", default=None,
                       help="show values as mean \u00b1 sample standard deviation over images (Markdown, LaTeX, "
                            "HTML)")


def table_style(args: argparse.Namespace, configured: dict | None = None) -> dict:
    """The table-style keywords of ``build_leaderboards``: :func:`add_table_style`'s options over the
    ``configured`` ones (a run config's ``leaderboard`` entry)."""
    out = dict(configured or {})
    for key in ("order", "avg_rank", "rank_references", "std"):
        if getattr(args, key, None) is not None:
            out[key] = getattr(args, key)
    return out
