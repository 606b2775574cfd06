"""Regenerate (or check) the reference leaderboard in ``results/reference/``.

Runs every ``configs/reference/*.py`` with ``sagebench run`` against a ``../shared``-style folder (``data/``,
``reference/``, ``weights/``) and keeps, per config, what does not depend on the machine:

* ``<config>/values.json``: every record (dataset, method, task, metric, value, unit, direction), sorted,
  one per line, without timings, paths or cell identities (the per-image values stay in the run folder's
  ``results.json``: tens of megabytes for the real sets, not for the repository);
* ``<config>/leaderboard.md`` and ``leaderboard.csv``: the run's tables;
* ``SUMMARY.md``: one table of average ranks (``cddfuse`` profile) per method and dataset, which the
  README shows between its ``reference-summary`` markers.

``--check`` regenerates into a temporary folder from a fresh fused-image cache and exits 1 unless every
file equals the committed one byte for byte.

    python tools/reference_leaderboard.py --shared ../shared            # rewrite results/reference/
    python tools/reference_leaderboard.py --shared ../shared --check    # regenerate and compare
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs" / "reference"
SUMMARY_TASK = "quality_cddfuse"


def run_config(config: Path, shared: Path, work: Path, cache: Path, threads: int | None) -> Path:
    out = work / config.stem
    cmd = [sys.executable, "-m", "sagebench.benchmark.cli", "run", str(config), "--data-root", str(shared / "data"),
           "--weights-dir", str(shared / "weights"), "-o", str(out), "--cache-dir", str(cache), "--no-progress",
           "--strict"]
    if threads:
        cmd += ["--threads", str(threads)]
    subprocess.run(cmd, check=True)
    return out


def export(run_dir: Path, dest: Path) -> None:
    """The machine-independent part of one run: values.json (the records) and the leaderboard's Markdown and
    CSV."""
    res = json.loads((run_dir / "results.json").read_text())
    keep = ("dataset", "method", "task", "metric", "value", "unit", "direction")
    records = sorted(({k: r.get(k) for k in keep} for r in res["records"]),
                     key=lambda r: (r["dataset"], r["task"], r["method"], r["metric"]))
    dest.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(json.dumps(r, sort_keys=True) for r in records)
    (dest / "values.json").write_text('{"records": [\n' + lines + "\n]}\n")
    for name in ("leaderboard.md", "leaderboard.csv"):
        shutil.copyfile(run_dir / "leaderboard" / name, dest / name)


def summary(out: Path) -> str:
    """Markdown: average rank over the quality metrics (cddfuse profile) per method (rows) and dataset."""
    import csv

    ranks: dict[str, dict[str, float]] = {}
    datasets: list[str] = []
    for cfg in sorted(p for p in out.iterdir() if (p / "leaderboard.csv").is_file()):
        with open(cfg / "leaderboard.csv", newline="") as f:
            for row in csv.DictReader(f):
                if row["task"] != SUMMARY_TASK or not row.get("average_rank"):
                    continue
                if row["dataset"] not in datasets:
                    datasets.append(row["dataset"])
                ranks.setdefault(row["method"], {})[row["dataset"]] = float(row["average_rank"])
    order = sorted(ranks, key=lambda m: (sum(ranks[m].values()) / len(ranks[m]), m))
    lines = ["| method | " + " | ".join(datasets) + " |", "|:---|" + "---:|" * len(datasets)]
    for m in order:
        lines.append(f"| {m} | " + " | ".join(f"{ranks[m][d]:.2f}" if d in ranks[m] else "—" for d in datasets) + " |")
    return ("Average rank over EN, SD, SF, AG, MI, SCD, CC, PSNR, VIF, Qabf, SSIM (`cddfuse` profile; lower is "
            "better; single-modality references unranked). Rows by mean rank.\n\n" + "\n".join(lines) + "\n")


def generate(shared: Path, out: Path, work: Path, cache: Path, threads: int | None,
             only: list[str] | None = None) -> None:
    for config in sorted(CONFIGS.glob("*.py")):
        if only and config.stem not in only:
            continue
        t0 = time.perf_counter()
        export(run_config(config, shared, work, cache, threads), out / config.stem)
        print(f"[reference] {config.stem}: {time.perf_counter() - t0:.0f} s", flush=True)
    if not only:
        (out / "SUMMARY.md").write_text(summary(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                    help="folder with data/, reference/, weights/")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "reference")
    ap.add_argument("--work", type=Path, default=REPO / "work_dirs" / "reference", help="run folders")
    ap.add_argument("--cache-dir", type=Path, default=None, help="fused-image cache (default: a fresh temporary one)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: the committed values "
                    "were made with one; other counts reduce sums in another order, ~1e-13 relative)")
    ap.add_argument("--check", action="store_true", help="regenerate elsewhere and compare with --out")
    ap.add_argument("--configs", nargs="+", metavar="NAME", help="only these configs/reference/NAME.py (with "
                    "--check: compare only their folders)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sagebench-reference-") as tmp:
        cache = args.cache_dir or Path(tmp) / "cache"
        if not args.check:
            generate(args.shared, args.out, args.work, cache, args.threads, args.configs)
            return 0
        fresh = Path(tmp) / "out"
        generate(args.shared, fresh, Path(tmp) / "work", cache, args.threads, args.configs)
        committed = sorted(p.relative_to(args.out) for p in args.out.rglob("*")
                           if p.is_file() and p.name != "README.md"  # the folder's own notes are not generated
                           and (not args.configs or p.parts[len(args.out.parts)] in args.configs))
        regenerated = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
        bad = [str(p) for p in committed if p not in regenerated or not filecmp.cmp(args.out / p, fresh / p, False)]
        bad += [f"{p} (new)" for p in regenerated if p not in committed]
        for b in bad:
            print(f"[reference] differs: {b}")
        print("[reference] identical" if not bad else f"[reference] {len(bad)} file(s) differ")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
