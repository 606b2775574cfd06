"""``sagebench models``: registered fusion methods with parameter counts and weight status."""

from __future__ import annotations

import argparse
import inspect

from sagebench.benchmark.commands._common import add_include, add_threads

NAME = "models"
HELP = "list registered fusion methods with parameter counts, weights and licences"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'sage_*'")
    p.add_argument("--format", choices=["table", "markdown", "csv", "json"], default="table")
    p.add_argument("--weights-dir", metavar="DIR", help="folder with local copies of released weights")
    add_include(p)
    add_threads(p)


def model_table(pattern: str | None = None, weights_dir: str | None = None):
    """One row per registered method: name, params, weights name + status, licence, paper/year/venue."""
    import pandas as pd

    from sagebench.fusion_models import FUSION_MODELS, list_models
    from sagebench.weights import MANIFEST, weight_status

    rows = []
    for name in list_models(pattern):
        cls = FUSION_MODELS.get(name)
        card = dict(getattr(cls, "card", {}) or {})
        kwargs = {"weights": None} if "weights" in inspect.signature(cls.__init__).parameters else {}
        try:
            params = sum(p.numel() for p in cls(**kwargs).parameters())
        except Exception as exc:  # a method that cannot be built without external files
            params = f"n/a ({type(exc).__name__})"
        weights = card.get("weights") or ""
        names = weights if isinstance(weights, (list, tuple)) else [weights] if weights else []
        status = ", ".join(f"{w}: {weight_status(w, weights_dir)}" for w in names if w in MANIFEST)
        rows.append({
            "model": name, "params": params, "weights": status or ("none needed" if not names else ", ".join(names)),
            "licence": card.get("licence") or "", "year": card.get("year") or "",
            "venue": card.get("venue") or "", "paper": card.get("paper") or "",
        })
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    import sys

    from sagebench.benchmark.terminal import print_table, say

    df = model_table(args.pattern, args.weights_dir)
    if df.empty:
        say(f"sagebench models: no registered method matches {args.pattern!r} (see `sagebench models`)",
            file=sys.stderr)
        return 1
    if args.format == "csv":
        print(df.to_csv(index=False), end="")
    elif args.format == "json":
        print(df.to_json(orient="records", indent=2))
    elif args.format == "markdown":
        print(df.to_markdown(index=False))  # tabulate is a dependency
    else:
        print_table(df.drop(columns=["paper"]), max_col=40)  # fits the terminal; the paper is on the card
    return 0
