"""``sagebench eval``: fusion-quality metrics of a folder of fused images against a dataset."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_include, add_threads

NAME = "eval"
HELP = "score fused images with fusion-quality metrics (EN, SD, SF, AG, MI, FMI, SCD, CC, PSNR, VIF, Qabf, SSIM, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fused", metavar="DIR", help="folder of fused images named <stem>.png")
    parser.add_argument("--data", metavar="PATH_OR_NAME",
                        help="dataset folder (ir/ vis/ ... layouts) or 'synthetic[:night|:day]'")
    parser.add_argument("--ir", default=None, help="infrared folder (generic layout, with --vis)")
    parser.add_argument("--vis", default=None, help="visible folder (generic layout, with --ir)")
    parser.add_argument("--split", default=None, help="dataset split, where the dataset has splits")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip (and report) pairs with a missing counterpart, size mismatch or unreadable file")
    parser.add_argument("--pattern", default=None,
                        help="fused file names from the stem, e.g. '{stem}_SeAFusion.jpg' (VIFB; default <stem>.*)")
    parser.add_argument("--metrics", nargs="+", metavar="NAME",
                        help="metrics to compute (default: all but FMI_pixel/FMI_w; 'all' for every metric); "
                        "comma-separated lists are accepted")
    parser.add_argument("--profile", default="default",
                        help="scoring conventions: default, cddfuse (CDDFuse Evaluator.py), ivif_zoo (IVIF_ZOO "
                             "survey), tang (Tang's MATLAB kit), vifb (VIFB's MATLAB kit)")
    parser.add_argument("--gray", default=None, choices=("bt601", "opencv", "pil"),
                        help="grey conversion of colour images (default: the profile's)")
    parser.add_argument("--csv", "--out", dest="out", metavar="CSV",
                        help="write the per-image table to this CSV file; the summary goes to <CSV stem>_summary.csv")
    table = parser.add_argument_group("paper table (mean \u00b1 std per metric, profile stated)")
    table.add_argument("--format", choices=("md", "latex"), default=None,
                       help="write the summary as a Markdown or LaTeX table: to --table, else to stdout")
    table.add_argument("--table", metavar="FILE", help="table file (.md or .tex; the format follows the suffix)")
    table.add_argument("--name", default=None,
                       help="the row's method name in the table (default: the --fused folder's name)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    parser.add_argument("--list", action="store_true", help="list the metrics of --profile and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_include(parser)
    add_threads(parser)


def _metric_names(raw: list[str] | None) -> list[str] | None:
    if not raw:
        return None
    return [n for item in raw for n in item.split(",") if n]


def _table_format(args: argparse.Namespace) -> str | None:
    from sagebench.errors import ConfigError

    if args.format or not args.table:
        return args.format
    suffix = args.table.rsplit(".", 1)[-1].lower() if "." in args.table else ""
    fmt = {"md": "md", "markdown": "md", "tex": "latex"}.get(suffix)
    if fmt is None:
        raise ConfigError(f"--table {args.table}: cannot tell the format from the suffix; pass --format md|latex")
    return fmt


def paper_table(df, *, dataset: str, method: str, profile: str, fmt: str) -> str:
    """The per-image table ``df`` (index = stem, columns = metrics, ``attrs`` as ``evaluate_folder`` sets
    them) as one Markdown or LaTeX leaderboard row of mean ± sample std, stating the profile and marking
    the metrics not native to it."""
    from sagebench.benchmark.leaderboard import board_to_latex, board_to_markdown, build_leaderboards
    from sagebench.benchmark.results import SCHEMA, ResultSet, cell_from_task_result
    from sagebench.tasks import TaskResult
    from sagebench.tasks.metrics import summarize

    summ = summarize(df)
    result = TaskResult(task="quality", summary={m: float(summ.loc["mean", m]) for m in df.columns},
                        directions=dict(df.attrs["directions"]), per_image=df,
                        meta={"profile": profile, "units": dict(df.attrs["units"]),
                              "native": dict(df.attrs["native"]), "n_images": len(df)})
    cell = cell_from_task_result(dataset, method, "quality", "-", result)
    rs = ResultSet.from_json({"schema": SCHEMA, "records": cell.records, "per_image": cell.per_image})
    board = build_leaderboards(rs, references={}, avg_rank=False, std=True)[0]
    return board_to_markdown(board) if fmt == "md" else board_to_latex(board)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from sagebench.benchmark.terminal import print_table, say
    from sagebench.errors import ConfigError
    from sagebench.io import atomic_path
    from sagebench.tasks.metrics import evaluate_folder, get_profile, metric_table, resolve_metric_names, summarize

    prof = get_profile(args.profile)
    table_fmt = _table_format(args)  # a bad --table suffix fails before the scoring
    if args.list:
        rows = metric_table(profile=prof)
        say(f"profile {prof.name}: {prof.description}")
        table = pd.DataFrame([{"metric": r["name"], f"{prof.name} name": r["kit_name"],
                               "native": "yes" if r["native"] else "no", "better": r["direction"],
                               "unit": r["unit"] or "-", "range": f"[{r['range'][0]:g}, {r['range'][1]:g}]"}
                              for r in rows])
        print_table(table)
        say("native: computed by the profile's reference code; 'no': sagebench's default convention "
            "(with the profile's grey conversion)")
        for name, why in prof.warnings.items():
            say(f"warning: {name}: {why}")
        return 0
    if not args.fused or not (args.data or (args.ir and args.vis)):
        raise ConfigError("--fused DIR and --data PATH_OR_NAME (or --ir DIR --vis DIR) are required (or --list)")
    from sagebench.datasets import open_dataset

    dataset = open_dataset(args.data, ir=args.ir, vis=args.vis, split=args.split,
                           on_error="skip" if args.skip_bad else "raise")
    fused_dir = args.fused
    if args.pattern:  # published images under another naming: read through the precomputed method
        from sagebench.fusion_models.precomputed import PrecomputedFusion

        files, problems = PrecomputedFusion(args.fused, args.pattern, skip_bad=args.skip_bad).files(
            dataset, getattr(dataset, "name", "dataset"))
        for path, why in problems:
            print(f"skipped {path}: {why}")
        if problems:
            from sagebench.datasets.splits import SplitView

            dataset = SplitView(dataset, [i for i, n in enumerate(dataset.names) if n in files], "pattern")
        import tempfile
        from pathlib import Path

        tmpdir = tempfile.TemporaryDirectory(prefix="sagebench-eval-")  # removed when the command ends
        PrecomputedFusion(args.fused, args.pattern).write(files, Path(tmpdir.name))
        fused_dir = tmpdir.name
    for path, reason in getattr(dataset, "skipped", []) or []:
        print(f"skipped {path}: {reason}")
    names = resolve_metric_names(_metric_names(args.metrics))  # ConfigError for unknown names
    opts = {"gray": args.gray} if args.gray else {}
    df = evaluate_folder(fused_dir, dataset, metrics=names, profile=prof, device=args.device,
                         progress=not args.no_progress, **opts)
    summary = summarize(df)
    units = df.attrs["units"]
    dirs = df.attrs["directions"]
    header = pd.DataFrame({"unit": [units[c] for c in df.columns], "better": [dirs[c] for c in df.columns]},
                          index=df.columns).T
    print_table(df.reset_index())  # fits the terminal ($COLUMNS); the CSV files hold every digit
    print_table(pd.concat([summary, header]).rename_axis("").reset_index(), title="summary")
    say(f"{len(df)} images, profile {prof.name}")
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        with atomic_path(out) as tmp:
            df.to_csv(tmp, float_format="%.10g")
        summ = pd.concat([summary, header])
        summ_path = out.with_name(out.stem + "_summary" + (out.suffix or ".csv"))
        with atomic_path(summ_path) as tmp:
            summ.to_csv(tmp)
        print(f"wrote {out} and {summ_path}")
    if table_fmt:
        from pathlib import Path

        from sagebench.io import write_text

        text = paper_table(df, dataset=str(getattr(dataset, "name", None) or Path(args.data or args.vis).name),
                           method=args.name or Path(args.fused).name, profile=prof.name, fmt=table_fmt)
        if args.table:
            print(f"wrote {write_text(Path(args.table), text)}")
        else:
            print(text, end="")
    return 0
