"""``sagebench validate CONFIG``: the plan of a benchmark and what a run would recompute, without running it."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands.run import add_plan_arguments, config_and_options

NAME = "validate"
HELP = ("check a benchmark config and print its plan (datasets x methods x tasks) with, per cell, whether a run "
        "into -o would resume it (stored, same identity) or compute it; runs no task")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_plan_arguments(p, out_help="run directory to compare with (default: work_dirs/<config name>)")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from sagebench.benchmark.runner import plan_status
    from sagebench.benchmark.terminal import print_table, say

    cfg, opts = config_and_options(args, progress=False)
    out = opts.out_dir
    plan, status = plan_status(cfg, opts)
    say(f"config {cfg['_name']}: {len(plan.datasets)} datasets x {len(plan.methods)} methods x {len(plan.tasks)} "
        f"tasks = {len(plan.cells)} cells; output {out}")
    for s in plan.skipped_datasets:
        say(f"  skipped dataset {s}")
    if plan.excluded_methods:
        say(f"  methods='auto' leaves out {len(plan.excluded_methods)}: {'; '.join(plan.excluded_methods[:3])}"
            + ("; ..." if len(plan.excluded_methods) > 3 else ""))
    print_table(pd.DataFrame([{"dataset": c.dataset, "method": c.method, "task": c.task, "status": st}
                              for c, st in status]))
    stored = sum(st == "stored" for _, st in status)
    failing = sum(st.startswith("would fail") for _, st in status)
    say(f"{stored} stored (would be resumed), {len(status) - stored - failing} to compute, {failing} would fail")
    return 1 if failing else 0
