"""``sagebench validate CONFIG``: the plan of a benchmark and what a run would recompute, without running it."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_device, add_include, add_threads, add_weights_dir

NAME = "validate"
HELP = ("check a benchmark config and print its plan (datasets x methods x tasks) with, per cell, whether a run "
        "into -o would resume it (stored, same identity) or compute it; runs no task")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", default=None, help="benchmark config file (default: the quickstart)")
    p.add_argument("-o", "--out", default=None, help="run directory to compare with (default: work_dirs/<config name>)")
    p.add_argument("--cache-dir", default=None, help="fused-image cache (as for run)")
    p.add_argument("--data-root", default=None, help="what ${SAGEBENCH_DATA} in dataset sources means")
    p.add_argument("--cfg-options", nargs="+", default=None, metavar="KEY=VALUE", help="as for run")
    add_device(p)
    add_weights_dir(p)
    add_include(p)
    add_threads(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from sagebench.benchmark.commands.run import parse_cfg_options
    from sagebench.benchmark.runner import RunOptions, load_config, plan_status
    from sagebench.benchmark.terminal import print_table, say

    cfg = load_config(args.config, parse_cfg_options(args.cfg_options))
    out = Path(args.out) if args.out else Path("work_dirs") / cfg["_name"]
    opts = RunOptions(out_dir=out, cache_dir=Path(args.cache_dir) if args.cache_dir else None, device=args.device,
                      weights_dir=args.weights_dir, data_root=args.data_root, progress=False)
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
