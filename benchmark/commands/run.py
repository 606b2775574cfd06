"""``sagebench run [CONFIG]``: the main job (fuse, cache, measure, store, leaderboard)."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_device, add_include, add_threads, add_weights_dir

NAME = "run"
HELP = ("run a benchmark config (datasets x methods x tasks) and write results.json and a leaderboard; "
        "without CONFIG, a quickstart on synthetic data with every method that needs nothing external")


def add_plan_arguments(p: argparse.ArgumentParser, *, out_help: str) -> None:
    """The arguments that say what a benchmark is and where it runs (``run`` and ``validate``)."""
    p.add_argument("config", nargs="?", default=None,
                   help="benchmark config file (configs/*.py; default: the quickstart)")
    p.add_argument("-o", "--out", default=None, help=out_help)
    p.add_argument("--cache-dir", default=None,
                   help="fused-image cache (default: $SAGEBENCH_HOME/fused, i.e. ~/.cache/sagebench/fused)")
    p.add_argument("--data-root", default=None,
                   help="the folder that dataset sources in configs refer to as ${SAGEBENCH_DATA} (default: that "
                        "environment variable)")
    p.add_argument("--cfg-options", nargs="+", default=None, metavar="KEY=VALUE",
                   help="override config entries, mmengine style: methods.0.type=max_abs seed=1")
    add_device(p)
    add_weights_dir(p)
    add_include(p)
    add_threads(p)


def config_and_options(args: argparse.Namespace, **options):
    """The loaded config and the :class:`RunOptions` of :func:`add_plan_arguments` (plus ``options``)."""
    from pathlib import Path

    from sagebench.benchmark.configfile import load_config
    from sagebench.benchmark.runner import RunOptions

    cfg = load_config(args.config, parse_cfg_options(args.cfg_options))
    out = Path(args.out) if args.out else Path("work_dirs") / cfg["_name"]
    return cfg, RunOptions(out_dir=out, cache_dir=Path(args.cache_dir) if args.cache_dir else None,
                           device=args.device, weights_dir=args.weights_dir, data_root=args.data_root, **options)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_plan_arguments(p, out_help="run directory (default: work_dirs/<config name>); an existing one is resumed; "
                                   "it is locked while the run writes it")
    p.add_argument("--no-resume", action="store_true",
                   help="recompute every cell and fuse every image again (a cell is otherwise resumed only when its "
                        "stored identity - configs, weights sha256, input content, code - matches)")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any cell failed")
    p.add_argument("--no-leaderboard", action="store_true", help="do not print/write the leaderboard")
    p.add_argument("--plots", action=argparse.BooleanOptionalAction, default=None,
                   help="also draw the leaderboard's PNG bar/radar plots (matplotlib, seconds per figure; default: "
                        "the config's leaderboard.plots, off; the HTML page draws its own bars either way)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show the libraries' output of tasks (mmengine, pycocotools, warnings) instead of writing "
                        "it to each cell's work/<dataset>/<method>/<task>/task.log")


def fast(args: argparse.Namespace) -> int | None:
    """Before torch is imported: the answer of a rerun with nothing to compute (see
    :mod:`sagebench.benchmark.rerun`), or None."""
    import time

    from sagebench.benchmark.rerun import try_fast_rerun

    t0 = time.perf_counter()
    cfg, opts = config_and_options(args, resume=not args.no_resume, progress=not args.no_progress,
                                   leaderboard=not args.no_leaderboard, verbose=args.verbose, plots=args.plots,
                                   includes=tuple(args.include or ()))
    return try_fast_rerun(cfg, opts, t0)


def run(args: argparse.Namespace) -> int:
    from sagebench.benchmark import distributed
    from sagebench.benchmark.runner import run_benchmark

    cfg, opts = config_and_options(args, resume=not args.no_resume, progress=not args.no_progress,
                                   leaderboard=not args.no_leaderboard, verbose=args.verbose, plots=args.plots,
                                   includes=tuple(args.include or ()))
    try:
        report = run_benchmark(cfg, opts)
    finally:
        distributed.destroy()
    return 1 if args.strict and report.failures else 0


def parse_cfg_options(items: list[str] | None) -> dict | None:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a.b": 1, "c": [1, 2]}`` with mmengine's ``DictAction`` rules
    (parsed here rather than at argument-parsing time, to keep ``sagebench --help`` light)."""
    if not items:
        return None
    from mmengine.config import DictAction

    from sagebench.errors import ConfigError

    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--cfg-options: {item!r} is not KEY=VALUE (e.g. methods.0.type=max_abs)")
        ns = argparse.Namespace()
        try:
            DictAction(option_strings=["--cfg-options"], dest="opts")(None, ns, [item])
        except (Exception, RecursionError) as exc:  # mmengine's parser asserts and recurses on bad input
            raise ConfigError(f"--cfg-options: cannot parse the value of {key!r} ({value!r}): "
                              f"{type(exc).__name__}: {str(exc)[:120]}") from None
        out.update(ns.opts)
    return out
