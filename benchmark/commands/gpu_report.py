"""``sagebench gpu-report``: measure every GPU figure of the docs in one run (JSON + Markdown report)."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_threads, add_weights_dir

NAME = "gpu-report"
HELP = ("measure the SAGE student, the metric suite, SAGE training and downstream training iterations on a "
        "GPU in one run (<= 8 min) and write gpu_report.json / gpu_report.md; --smoke checks it on the CPU")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="folder for gpu_report.json and gpu_report.md")
    p.add_argument("--device", default=None, help="torch device (default: cuda, or cpu with --smoke)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, the same code paths (a CPU check of the script, e.g. in CI)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="wall-clock budget; measurements that would not fit are reported as skipped "
                        "(default 420 s, 600 s with --smoke)")
    p.add_argument("--weights", default=None,
                   help="SAGE student weights (default: the official release; random init when unavailable)")
    add_weights_dir(p)
    add_threads(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from sagebench.benchmark.gpu_report import main_settings, run_report
    from sagebench.errors import ConfigError

    device = args.device or ("cpu" if args.smoke else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("no CUDA device is available; pass --smoke (CPU) or --device cpu")
    report = run_report(main_settings(device, args.smoke, args.budget_s, args.weights), args.out)
    failed = [k for k in ("student", "metrics", "training", "downstream") if "error" in report.get(k, {})]
    bad = [f"{r['resolution']} b{r['batch']} {r['variant']}" for r in report.get("student", {}).get("rows", [])
           if r.get("within_tolerance") is False]
    print(f"wrote {args.out}/gpu_report.json and gpu_report.md in {report['total_seconds']} s"
          + (f"; sections with errors: {', '.join(failed)}" if failed else "")
          + (f"; outside tolerance: {'; '.join(bad)}" if bad else ""))
    return 1 if failed or bad else 0
