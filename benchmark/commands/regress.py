"""``sagebench regress``: gate a results file against a baseline; exit 1 on regression."""

from __future__ import annotations

import argparse

NAME = "regress"
HELP = ("compare results with a baseline using per-metric tolerances; print the diff table and exit 1 on "
        "a regression or a missing result, 2 on an unusable baseline, results file or tolerance, 0 otherwise")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", required=True, help="baseline results.json (e.g. results/ci_baseline.json)")
    p.add_argument("--current", required=True, help="current results.json or its run directory")
    p.add_argument("--config", default=None,
                   help="benchmark config whose `regress` entry gives the tolerances (default: the one "
                        "stored in the baseline's provenance, else abs=1e-9, rel=1e-6)")
    p.add_argument("--allow-missing", action="store_true",
                   help="records of the baseline that the current run lacks do not fail the gate")
    p.add_argument("--only-changed", action="store_true", help="print only rows whose status is not ok")
    p.add_argument("--report", default=None, help="also write the diff table to this CSV file")


def run(args: argparse.Namespace) -> int:
    import sys

    from sagebench.errors import SagebenchError

    try:
        return _gate(args)
    except SagebenchError as exc:  # not a verdict: the gate could not be evaluated
        print(f"sagebench regress: error: {exc}", file=sys.stderr)
        return 2


def _gate(args: argparse.Namespace) -> int:
    from sagebench.benchmark.regress import Tolerances, compare, failed, format_table, summary_line
    from sagebench.benchmark.results import load_results
    from sagebench.io import write_text

    base = load_results(args.baseline)
    cur = load_results(args.current)
    if args.config:
        from sagebench.benchmark.runner import load_config

        tol_cfg, source = load_config(args.config).get("regress"), args.config
    else:
        tol_cfg, source = (base.provenance.get("config") or {}).get("regress"), f"{args.baseline} (provenance)"
    tolerances = Tolerances(tol_cfg)
    diff = compare(base, cur, tolerances, allow_missing=args.allow_missing)
    print(f"baseline: {base.path}\ncurrent:  {cur.path}\ntolerances: "
          f"{source if tol_cfg is not None else 'built-in default'}")
    print(format_table(diff, only_changed=args.only_changed))
    print(summary_line(diff))
    if args.report:
        write_text(args.report, diff.to_csv(index=False))
    return 1 if failed(diff) else 0
