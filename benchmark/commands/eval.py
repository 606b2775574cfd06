"""``sagebench eval``: fusion-quality metrics of a folder of fused images against a dataset."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_include

NAME = "eval"
HELP = "score fused images with fusion-quality metrics (EN, SD, SF, AG, MI, FMI, SCD, CC, PSNR, VIF, Qabf, SSIM, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fused", metavar="DIR", help="folder of fused images named <stem>.png")
    parser.add_argument("--data", metavar="PATH_OR_NAME",
                        help="dataset folder (ir/ vis/ ... layouts) or 'synthetic[:night|:day]'")
    parser.add_argument("--metrics", nargs="+", metavar="NAME",
                        help="metrics to compute (default: all but FMI_pixel/FMI_w; 'all' for every metric); "
                        "comma-separated lists are accepted")
    parser.add_argument("--profile", default="default",
                        help="scoring conventions: default, cddfuse (CDDFuse Evaluator.py), ivif_zoo (IVIF_ZOO survey)")
    parser.add_argument("--gray", default=None, choices=("bt601", "opencv", "pil"),
                        help="grey conversion of colour images (default: the profile's)")
    parser.add_argument("--out", metavar="CSV", help="write the per-image table here; the summary goes to "
                        "<CSV stem>_summary.csv")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is fastest on busy shared cores)")
    parser.add_argument("--list", action="store_true", help="list the metrics of --profile and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_include(parser)


def _metric_names(raw: list[str] | None) -> list[str] | None:
    if not raw:
        return None
    return [n for item in raw for n in item.split(",") if n]


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from sagebench.errors import ConfigError
    from sagebench.io import atomic_path
    from sagebench.tasks.metrics import evaluate_folder, get_profile, metric_table, resolve_metric_names, summarize

    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    prof = get_profile(args.profile)
    if args.list:
        rows = metric_table(profile=prof)
        print(f"profile {prof.name}: {prof.description}")
        for r in rows:
            lo, hi = r["range"]
            flag = "" if r["native"] else "  (default convention: not in this profile's reference code)"
            unit = r["unit"] or "-"
            print(f"  {r['name']:10s} {r['direction']:6s} {unit:20s} [{lo:g}, {hi:g}]  {r['reference']}{flag}")
        return 0
    if not args.fused or not args.data:
        raise ConfigError("--fused DIR and --data PATH_OR_NAME are required (or --list)")
    names = resolve_metric_names(_metric_names(args.metrics))  # ConfigError for unknown names
    opts = {"gray": args.gray} if args.gray else {}
    df = evaluate_folder(args.fused, args.data, metrics=names, profile=prof, device=args.device,
                         progress=not args.no_progress, **opts)
    summary = summarize(df)
    units = df.attrs["units"]
    dirs = df.attrs["directions"]
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.6g}".format):
        print(df.to_string())
        print()
        header = pd.DataFrame({"unit": [units[c] for c in df.columns], "better": [dirs[c] for c in df.columns]},
                              index=df.columns).T
        print(pd.concat([summary, header]).to_string())
    print(f"\n{len(df)} images, profile {prof.name}")
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
    return 0
