"""A rerun with nothing to compute, answered without importing torch.

After a run that finished every cell without a failure, the runner writes ``OUT/rerun.json``: a digest of
everything the plan and the cells' identities were made from (the resolved config, the run options, the
``SAGEBENCH_*`` environment, the digest of every source file of the installed package, the versions of the
numeric libraries and Python) and the on-disk state of every input the numbers were read from (the files
recorded in :mod:`sagebench.deps` as they were hashed, the dataset, weights and precomputed folders'
listings), plus the sha256 of the results it wrote. The next ``sagebench run`` into the same folder first
checks all of that, with file metadata only (:func:`sagebench.deps.file_state`, ``tree_state``); when
everything is as it was, the results on disk are exactly what a full rerun would resume, so it prints the
leaderboard from them and stops, in a fraction of a second instead of the seconds it takes to import
torch and rebuild the plan. Anything that differs, or cannot be checked this way, takes the normal path,
which verifies each cell's identity as before:

* ``--no-resume``, ``--include`` (a user's modules), ``torchrun`` (several ranks);
* a device that torch would have to resolve: the stamp must say ``cpu`` and either ``--device cpu`` was given
  or the machine has no NVIDIA / AMD GPU device node;
* a run with failures (a rerun retries them) or one interrupted before writing the stamp (every run removes
  the stamp before it writes anything).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SCHEMA = "sagebench.rerun/1"
STAMP_NAME = "rerun.json"
#: device nodes whose presence means torch might pick a GPU when no --device is given
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")


def _package_digest() -> str:
    """sha256 over every file of the installed sagebench package (all of it, not only the parts that enter
    identities: stricter), located without importing its sub-packages."""
    spec = importlib.util.find_spec("sagebench")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    trees = [("", r) for r in roots]
    # a development install maps sub-packages that live outside the core folder (pyproject package-dir)
    for name in ("sagebench.fusion_models", "sagebench.tasks", "sagebench.benchmark", "sagebench.configs"):
        sub = importlib.util.find_spec(name)
        trees += [(f"{name}/", Path(loc)) for loc in ((sub.submodule_search_locations or []) if sub else [])
                  if not any(r == Path(loc) or r in Path(loc).parents for r in roots)]
    h = hashlib.sha256(b"sagebench-package-v1\0")
    for prefix, root in trees:
        for p in sorted(root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
                h.update(f"{prefix}{p.relative_to(root).as_posix()}\0".encode())
                h.update(p.read_bytes())
                h.update(b"\0")
    return h.hexdigest()


def settings(cfg: dict[str, Any], opts: Any) -> str:
    """Digest of what decides the plan and the identities, besides the inputs' content."""
    from sagebench.benchmark.identity import library_versions
    from sagebench.benchmark.results import stable_hash

    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("SAGEBENCH_")}
    env |= {k: os.environ.get(k) for k in ("HOME", "XDG_CACHE_HOME")}
    run_opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(opts).items())
                if k not in ("progress", "verbose", "resume", "leaderboard")}  # these change no result
    return stable_hash({"config": json.loads(json.dumps(cfg, default=str)), "options": run_opts, "env": env,
                        "package": _package_digest(), "libraries": library_versions(),
                        "python": sys.version, "executable": sys.executable})


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def write_stamp(store: Any, cfg: dict[str, Any], opts: Any, device: str, results_path: Path,
                trees: list[str]) -> Path:
    """Write ``OUT/rerun.json`` after a complete run (see module docstring); ``trees``: folders whose listing
    the run depended on, besides those :mod:`sagebench.deps` recorded."""
    from sagebench import deps
    from sagebench.io import write_json

    files, recorded_trees = deps.recorded()
    trees = sorted(set(recorded_trees) | {os.path.abspath(t) for t in trees})
    obj = {"schema": SCHEMA, "settings": settings(cfg, opts), "device": device,
           "results": _sha(Path(results_path)),
           "files": {f: deps.file_state(f) for f in files}, "trees": {t: deps.tree_state(t) for t in trees}}
    return write_json(store.path(STAMP_NAME, what="rerun stamp"), obj)


def clear_stamp(store: Any) -> None:
    """Remove the stamp (every run does, before it writes anything)."""
    p = store.path(STAMP_NAME, what="rerun stamp")
    if p.is_symlink() or p.exists():
        p.unlink()


def _why_not(stamp: dict[str, Any], cfg: dict[str, Any], opts: Any, results: Path) -> str | None:
    """None when the stamp still holds, else the first reason it does not."""
    from sagebench import deps

    if stamp.get("schema") != SCHEMA:
        return "stamp of another version"
    if stamp.get("device") != "cpu":
        return "the run used a GPU"
    if opts.device not in (None, "cpu") or (opts.device is None and any(os.path.exists(n) for n in _GPU_NODES)):
        return "the device must be resolved by torch"
    if _sha(results) != stamp.get("results"):
        return "results.json changed"
    for f, state in stamp.get("files", {}).items():
        if deps.file_state(f) != state:
            return f"{f} changed"
    for t, state in stamp.get("trees", {}).items():
        if deps.tree_state(t) != state:
            return f"{t} changed"
    if settings(cfg, opts) != stamp.get("settings"):
        return "config, options, environment or code changed"
    return None


def try_fast_rerun(cfg: dict[str, Any], opts: Any, t0: float | None = None) -> int | None:
    """``sagebench run``'s first step (``cfg`` and ``opts`` as the run would get them): the exit status when
    the run folder already holds exactly these results (leaderboard printed, nothing recomputed), else None
    (the normal run follows)."""
    if not opts.resume or opts.includes or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return None
    t0 = time.perf_counter() if t0 is None else t0
    from sagebench.benchmark.results import RunStore

    try:
        store = RunStore(opts.out_dir)
        stamp_path = store.path(STAMP_NAME, what="rerun stamp")
        results = store.path("results.json", what="results file")
        if stamp_path.is_symlink() or not stamp_path.is_file() or not results.is_file():
            return None
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, Exception):  # anything unexpected: the normal path decides
        return None
    if _why_not(stamp, cfg, opts, results) is not None:
        return None
    from sagebench.benchmark.terminal import say

    if opts.leaderboard:
        from sagebench.benchmark.leaderboard import print_terminal, render_all
        from sagebench.benchmark.plan import table_style
        from sagebench.benchmark.results import load_results

        style = table_style(cfg.get("leaderboard"))
        plots = style.pop("plots", False) if opts.plots is None else opts.plots
        rs = load_results(results)
        print_terminal(rs, **style)
        written = store.leaderboard_dir() / "leaderboard.md"
        if not written.is_file() or written.stat().st_mtime_ns < results.stat().st_mtime_ns:
            render_all(rs, store.leaderboard_dir(), plots=plots, **style)  # e.g. after a --no-leaderboard run
    say(f"[sagebench] nothing to compute: every cell of {store.root} is done and no input, setting or source "
        f"changed (checked in {time.perf_counter() - t0:.2f} s)")
    say(f"[sagebench] results: {results}")
    return 0


__all__ = ["STAMP_NAME", "clear_stamp", "settings", "try_fast_rerun", "write_stamp"]
