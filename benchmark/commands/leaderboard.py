"""``sagebench leaderboard``: render leaderboards (and optionally a qualitative figure) from results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sagebench.benchmark.commands._common import add_include, add_table_style, add_threads, table_style
from sagebench.errors import ConfigError
from sagebench.paths import slug

NAME = "leaderboard"
HELP = ("render leaderboards (CSV, Markdown, LaTeX, standalone HTML, bar/radar plots) from a results.json or "
        "run folder, and optionally a qualitative IR | visible | fused figure")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="RESULTS", help="a results.json or a run folder holding one")
    parser.add_argument("--format", nargs="+", choices=["csv", "md", "tex", "html"],
                        default=["csv", "md", "tex", "html"], help="formats to write (default: all)")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder (default: the run folder's leaderboard/ sub-folder)")
    parser.add_argument("--dataset", nargs="+", metavar="NAME", help="only these datasets")
    parser.add_argument("--task", nargs="+", metavar="NAME", help="only these tasks")
    parser.add_argument("--method", nargs="+", metavar="NAME", help="only these methods")
    parser.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                        help="bar and radar plots as PNG files, embedded in the HTML (default: on)")
    parser.add_argument("--print", action="store_true", dest="print_md", help="print the Markdown tables")
    add_table_style(parser)
    fig = parser.add_argument_group("qualitative figure (IR | visible | each method's fused output)")
    fig.add_argument("--figure", action="store_true", help="also write the qualitative grid figure")
    fig.add_argument("--images", nargs="+", metavar="STEM", help="image stems, one row each (required with --figure)")
    fig.add_argument("--data", metavar="SOURCE",
                     help="the dataset the images come from: a folder or synthetic[:night|:day] (default: as the "
                          "run's config describes it)")
    fig.add_argument("--figure-dataset", metavar="NAME",
                     help="which dataset's fused images to show (default: the only dataset, or --data's folder name)")
    fig.add_argument("--figure-methods", nargs="+", metavar="NAME",
                     help="the figure's method columns, in order (default: --method, else every method of the dataset)")
    fig.add_argument("--fused", nargs="+", metavar="METHOD=DIR", default=[],
                     help="a method's fused-image folder (<DIR>/<stem>.png); overrides the defaults")
    fig.add_argument("--fused-root", metavar="DIR",
                     help="folder with one sub-folder per method (default: <run folder>/fused/<dataset>)")
    fig.add_argument("--inset", nargs="+", metavar="V", default=["auto"],
                     help="zoomed region: X Y W H in pixels, 'auto' (default) or 'none'")
    fig.add_argument("--figure-out", metavar="FILE",
                     help="figure file (.png/.pdf/.svg; default: <out>/qualitative.png, or "
                          "<out>/predictions_<task>.png with one --task detection|segmentation)")
    fig.add_argument("--score-thr", type=float, default=0.3, metavar="S",
                     help="with --task detection: draw predicted boxes scoring at least S (default 0.3)")
    add_include(parser)
    add_threads(parser)


def _parse_inset(values: list[str]):
    if len(values) == 1 and values[0].lower() in ("auto", "none"):
        return None if values[0].lower() == "none" else "auto"
    try:
        box = tuple(int(v) for v in values)
    except ValueError:
        box = ()
    if len(box) != 4:
        raise ConfigError(f"--inset takes X Y W H (integers), 'auto' or 'none', got {' '.join(values)}")
    return box


def _downstream_kind(rs, task: str) -> str | None:
    """``"detection"`` / ``"segmentation"`` when the records of ``task`` come from a trained task network."""
    rec = rs.records[rs.records["task"].astype(str) == task]
    for meta in rec["meta"]:
        if isinstance(meta, dict) and meta.get("weights_file") and meta.get("model_config"):
            metrics = set(rec["metric"].astype(str))
            return "detection" if "mAP" in metrics else "segmentation" if "mIoU" in metrics else None
    return None


def _prediction_figure(args: argparse.Namespace, rs, run_dir: Path | None, out_dir: Path, name: str, task: str,
                       kind: str) -> Path:
    """Each method's task network run on its own fused test images, drawn next to the ground truth."""
    from sagebench.benchmark.figures import prediction_grid
    from sagebench.tasks.downstream.engine import predict

    rec = rs.records[(rs.records["dataset"].astype(str) == name) & (rs.records["task"].astype(str) == task)]
    methods = args.figure_methods or args.method or list(dict.fromkeys(rec["method"].astype(str)))
    panels, classes = {}, None
    for method in methods:
        metas = [m for m in rec.loc[rec["method"].astype(str) == method, "meta"] if isinstance(m, dict)]
        meta = next((m for m in metas if m.get("weights_file")), None)
        if meta is None:
            raise ConfigError(f"{name} / {task}: no trained network recorded for method {method!r} (results of "
                              "an older sagebench, or the method failed)")
        weights = Path(meta["weights_file"])
        if not weights.is_file():
            raise ConfigError(f"{weights}: the {method!r} network of {name} / {task} is gone from the run folder")
        fused = Path(meta["fused_dir"]) if meta.get("fused_dir") else None
        if fused is None and run_dir is not None:
            from sagebench.benchmark.results import RunStore

            fused = RunStore(run_dir).fused_root(name) / slug(method)
        if fused is None or not fused.is_dir():
            raise ConfigError(f"fused-image folder of {method!r} not found ({fused})")
        stats = meta.get("input_stats") or {}
        norm = {"mean": stats["mean"], "std": stats["std"]} if "mean" in stats else None
        classes = list(meta["classes"])
        preds = predict(kind, meta["model_config"], classes, weights, [fused / f"{st}.png" for st in args.images],
                        norm=norm)
        panels[method] = (fused, preds)
    out = Path(args.figure_out) if args.figure_out else out_dir / f"predictions_{slug(task)}.png"
    dataset = args.data or _run_dataset(rs, name)
    return prediction_grid(kind, dataset, panels, args.images, classes or [], out, score_thr=args.score_thr,
                           title=f"{name} · {task}")


def _figure(args: argparse.Namespace, rs, run_dir: Path | None, out_dir: Path) -> Path:
    from sagebench.benchmark.figures import qualitative_grid

    if not args.images:
        raise ConfigError("--figure needs --images STEM [STEM ...]")
    records = rs.records
    datasets = [d for d in dict.fromkeys(records["dataset"].astype(str)) if d != "-"]
    name = args.figure_dataset
    if name is None:
        guess = Path(args.data).name if args.data else None
        if len(datasets) == 1:
            name = datasets[0]
        elif guess in datasets:
            name = guess
        else:
            raise ConfigError(f"the results hold several datasets ({', '.join(datasets) or 'none'}); choose one "
                              "with --figure-dataset")
    if args.task and len(args.task) == 1:
        kind = _downstream_kind(rs, args.task[0])
        if kind is not None:
            return _prediction_figure(args, rs, run_dir, out_dir, name, args.task[0], kind)
    methods = args.figure_methods or args.method or \
        list(dict.fromkeys(records.loc[records["dataset"] == name, "method"].astype(str)))
    fused: dict[str, Path] = {}
    explicit = {}
    for item in args.fused:
        method, sep, folder = item.partition("=")
        if not sep or not method or not folder:
            raise ConfigError(f"--fused takes METHOD=DIR, got {item!r}")
        explicit[method] = Path(folder)
    from sagebench.benchmark.results import RunStore

    root = Path(args.fused_root) if args.fused_root else (RunStore(run_dir).fused_root(name) if run_dir else None)
    for method in methods:
        if method in explicit:
            fused[method] = explicit.pop(method)
        elif root is not None:
            fused[method] = root / slug(method)
    fused.update(explicit)  # --fused methods that have no record are shown too
    missing = [f"{m} ({p})" for m, p in fused.items() if not p.is_dir()]
    if missing:
        raise ConfigError(f"fused-image folder(s) not found: {', '.join(missing)}; pass --fused METHOD=DIR or "
                          "--fused-root, or choose columns with --method")
    if not fused:
        raise ConfigError("no fused-image folders: pass --fused METHOD=DIR or --fused-root DIR")
    out = Path(args.figure_out) if args.figure_out else out_dir / "qualitative.png"
    dataset = args.data or _run_dataset(rs, name)
    return qualitative_grid(dataset, fused, args.images, out, inset=_parse_inset(args.inset))


def _run_dataset(rs, name: str):
    """Reopen dataset ``name`` as the run configured it (source, synthetic parameters, limit), from the
    config stored in the results' provenance."""
    cfg = (rs.provenance or {}).get("config") or {}
    entries = cfg.get("datasets") or [] if isinstance(cfg, dict) else []
    for d in entries if isinstance(entries, list) else []:
        if isinstance(d, dict) and "source" in d and str(d.get("name", d["source"])) == name:
            from sagebench.benchmark.plan import DatasetSpec, resolve_source

            resolved, why = resolve_source(d["source"], (rs.provenance or {}).get("data_root"))
            if resolved is None:
                raise ConfigError(f"dataset {name!r} of the run: {why}; pass --data SOURCE")
            return DatasetSpec.from_config(d, resolved).open()
    raise ConfigError(f"the results do not say where dataset {name!r} comes from; pass --data SOURCE")


def run(args: argparse.Namespace) -> int:
    from sagebench.benchmark.leaderboard import load, render_all, to_markdown
    from sagebench.benchmark.plan import table_style as plan_table_style

    src = Path(args.results)
    rs = load(src)
    run_dir = rs.path.parent if rs.path else None
    out_dir = Path(args.out) if args.out else (run_dir or Path(".")) / "leaderboard"
    filters = dict(datasets=args.dataset, tasks=args.task, methods=args.method)
    cfg = (rs.provenance or {}).get("config")
    style = table_style(args, plan_table_style(cfg.get("leaderboard")) if isinstance(cfg, dict) else None)
    style.pop("plots", None)  # this command's --plots/--no-plots decides
    if args.figure and not args.images:  # check the figure's arguments before the (slower) tables
        raise ConfigError("--figure needs --images STEM [STEM ...]")
    written = render_all(rs, out_dir, formats=args.format, plots=args.plots, **filters, **style)
    if args.print_md:
        print(to_markdown(rs, **filters, **style))
    if args.figure:
        written["figure"] = _figure(args, rs, run_dir, out_dir)
    for key, path in written.items():
        if ":" not in key or key.startswith("plot:radar") or key == "figure":
            print(f"{key}: {path}")
    n_plots = sum(k.startswith("plot:") for k in written)
    n_tables = sum(k.startswith("csv:") for k in written)
    print(f"wrote {len(written)} files to {out_dir} ({n_tables} per-table CSVs, {n_plots} plots)", file=sys.stderr)
    return 0
