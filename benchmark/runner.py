"""``sagebench run``: fuse every dataset with every method (cached), run the tasks, store the results.

A benchmark is an mmengine ``Config`` (a Python file under ``configs/``, ``_base_`` inheritance allowed)::

    datasets = [dict(name="night", source="synthetic:night", n=8, seed=0, size=(240, 320)),
                dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD", limit=4, optional=True)]
    methods = [dict(name="average", type="average"), dict(name="SAGE", type="sage_student")]
    # or methods = "auto": every registered method that needs nothing external
    tasks = [dict(type="quality", metrics=["EN", "SSIM"]),
             dict(type="throughput", name="speed@640x480", resolution="640x480")]
    seed = 0
    regress = dict(default=dict(abs=1e-6, rel=1e-4), per_metric={"fps": None})

The config becomes a typed :class:`~sagebench.benchmark.plan.Plan` (:func:`make_plan`, which documents
the dataset keys); this module executes it.

Cells are (dataset, method, task); tasks whose class sets ``per_dataset = False`` (throughput) run once
per method with dataset ``"-"``. Work is grouped into (dataset, method) units (one fusion pass each),
sharded round-robin over ``torchrun`` ranks, and gathered on rank 0, which writes ``results.json``.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagebench.benchmark import distributed
from sagebench.benchmark.configfile import QUICKSTART_FILE, config_file, load_config
from sagebench.benchmark.plan import (
    CONFIG_KEYS,
    DATASET_OWN_KEYS,
    ENV_DATA,
    CellSpec,
    DatasetSpec,
    MethodSpec,
    Plan,
    TaskSpec,
    auto_methods,
    expand_vars,
    jsonable,
    make_plan,
    open_configured,
    resolve_source,
    table_style,
    validate_config,
)
from sagebench.benchmark.results import (
    NO_DATASET,
    Cell,
    RunStore,
    cell_from_task_result,
    cell_key,
    stable_hash,
)
from sagebench.benchmark.terminal import say as wrapped_say
from sagebench.errors import ConfigError, SagebenchError

#: Test hook: the process hard-exits (``os._exit(17)``, no cleanup) after writing this many cells.
ENV_EXIT_AFTER = "SAGEBENCH_EXIT_AFTER_CELLS"
__all__ = ["CONFIG_KEYS", "DATASET_OWN_KEYS", "ENV_DATA", "QUICKSTART_FILE", "CellSpec", "DatasetSpec", "MethodSpec",
           "Plan", "RunOptions", "RunReport", "TaskSpec", "auto_methods", "config_file", "load_config", "make_plan",
           "open_configured", "plan_status", "resolve_source", "run_benchmark", "validate_config"]

def __getattr__(name: str) -> Any:  # QUICKSTART: the quickstart config as a dict, read on first use
    if name == "QUICKSTART":
        cfg = load_config(config_file(QUICKSTART_FILE))
        cfg.pop("_name", None)
        return cfg
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------ config
# ------------------------------------------------------------------------------------------ running
@dataclass
class RunOptions:
    """How to run (not what): output folder, cache, device, resume, progress, strictness."""

    out_dir: Path
    cache_dir: Path | None = None
    device: str | None = None
    resume: bool = True  # False: recompute every cell and fuse every image again (cache entries replaced)
    progress: bool = True
    leaderboard: bool = True
    weights_dir: str | None = None
    data_root: str | None = None  # what ${SAGEBENCH_DATA} in dataset sources means (--data-root)
    verbose: bool = False  # -v: library output of tasks on the terminal instead of work/.../task.log
    plots: bool | None = None  # leaderboard PNG plots: None = the config's leaderboard.plots (default off)
    includes: tuple[str, ...] = ()  # --include modules (a run with them writes no rerun stamp)


@dataclass
class RunReport:
    results_path: Path | None
    computed: int = 0
    resumed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    leaderboard_files: dict[str, Path] = field(default_factory=dict)
    rank: int = 0
    #: keys of the cells computed by this run (the others were resumed), in plan order
    computed_keys: list[str] = field(default_factory=list)


_TASK_LOGS: dict[Path, Any] = {}


@contextlib.contextmanager
def _task_log(path: Path, *, verbose: bool):
    """Library noise of a task (prints, warnings, mmengine's log lines) goes to ``path`` in the cell's work
    folder instead of the terminal; ``verbose`` (``-v``) leaves the terminal as it is."""
    if verbose:
        yield
        return
    import logging
    import warnings

    # The file stays open for the process: loggers that a library creates inside the task (mmengine's
    # MMLogger of a Runner) keep writing to it afterwards, never to a closed file.
    log = _TASK_LOGS.get(path)
    if log is None:
        log = _TASK_LOGS[path] = open(path, "a", encoding="utf-8")  # noqa: SIM115
    handler = logging.StreamHandler(log)
    loggers = [logging.getLogger(n) for n in ("mmengine", "mmdet", "mmseg", "py.warnings")]
    saved = [(lg, list(lg.handlers), lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers = [handler]
        lg.propagate = False
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = lambda msg, cat, fname, lineno, file=None, line=None: log.write(
                warnings.formatwarning(msg, cat, fname, lineno, line))
            yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        log.flush()


def _error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(frames))
    return f"{type(exc).__name__}: {exc}" + (f" [at {where}]" if where else "")


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class _Worker:
    """Computes (or resumes) the cells of the units given to one rank."""

    def __init__(self, plan: Plan, opts: RunOptions, store: RunStore, device: str, rank: int) -> None:
        from sagebench.benchmark.cache import FusionCache

        self.plan, self.opts, self.store, self.device, self.rank = plan, opts, store, device, rank
        self.cache = FusionCache(opts.cache_dir)
        self.datasets = {d.name: d for d in plan.datasets}
        self.methods = {m.name: m for m in plan.methods}
        self.tasks = {t.name: t for t in plan.tasks}
        self.cells: list[dict[str, Any]] = []
        self.resumed: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        #: single-modality reference rows (method -> "ir" / "vis"), from each built model's declaration
        self.references: dict[str, str] = {}
        self._opened: dict[tuple[str, str | None], Any] = {}
        self._inputs: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._pre: dict[tuple[str, str, str | None], dict[str, Any]] = {}
        self._exit_after = int(os.environ.get(ENV_EXIT_AFTER, "0") or 0)
        self._written = 0

    def _dataset(self, name: str, split: str | None = None):
        key = (name, split)
        if key not in self._opened:
            self._opened[key] = self.datasets[name].open(split)
        return self._opened[key]

    def _input_identity(self, name: str, split: str | None = None) -> dict[str, Any]:
        from sagebench.benchmark.identity import input_identity

        key = (name, split)
        if key not in self._inputs:
            self._inputs[key] = input_identity(self._dataset(name, split))
        return self._inputs[key]

    def _fail(self, cells: list[CellSpec], error: str) -> None:
        for c in cells:
            self.failures.append({"dataset": c.dataset, "method": c.method, "task": c.task, "error": error})
            wrapped_say(f"[sagebench] FAILED {c.dataset} / {c.method} / {c.task}: {error}", file=sys.stderr)

    def _fuse(self, model, key_dir, dataset_name: str, method: str, split: str | None) -> tuple[Path, dict, Any]:
        from tqdm.auto import tqdm

        from sagebench.benchmark.cache import fuse_with_cache
        from sagebench.tasks.base import FusedImages

        ds = self._dataset(dataset_name, split)
        folder = dataset_name if split is None else f"{dataset_name}@{split}"
        out = self.store.fused_dir(dataset_name, method, split)
        with tqdm(total=len(ds.names), desc=f"fuse {method} / {folder}", unit="img", leave=False,
                  disable=not self.opts.progress or self.rank != 0, file=sys.stderr) as bar:
            images = FusedImages(out)
            info = fuse_with_cache(model, ds, self.cache, key_dir, out, refresh=not self.opts.resume,
                                   images=images, progress=bar.update)
        return out, info, images

    def _precomputed(self, spec: Any, dataset_name: str, method: str, split: str | None) -> dict[str, Any]:
        """Resolve a precomputed method's files for one split: ``{"files", "problems", "dataset"}`` (the
        dataset restricted to the pairs that have a usable file when ``skip_bad``)."""
        from sagebench.datasets.splits import SplitView

        key = (method, dataset_name, split)
        if key not in self._pre:
            from sagebench import deps

            ds = self._dataset(dataset_name, split)
            folder = spec.folder(dataset_name, split)
            if folder.is_dir():
                deps.record_tree(folder)  # which published images exist decides the cells
            files, problems = spec.files(ds, dataset_name, split)
            if problems:  # skip_bad: the method's cells use the pairs it has images for, and say so
                view = SplitView(ds, [i for i, n in enumerate(ds.names) if n in files], "precomputed")
                view.name = ds.name
                ds = view
            self._pre[key] = {"files": files, "problems": problems, "dataset": ds}
        return self._pre[key]

    def _write_precomputed(self, spec: Any, dataset_name: str, method: str, split: str | None) -> tuple:
        from sagebench.tasks.base import FusedImages

        pre = self._precomputed(spec, dataset_name, method, split)
        out = self.store.fused_dir(dataset_name, method, split)
        spec.write(pre["files"], out)
        info = {"images": len(pre["files"]), "precomputed": str(spec.folder(dataset_name, split)),
                "skipped": [f"{p}: {why}" for p, why in pre["problems"]]}
        return out, info, FusedImages(out)

    def cell_identity(self, c: CellSpec, method_ident: dict[str, Any]) -> dict[str, Any]:
        """Everything that decides cell ``c``'s numbers (see :mod:`sagebench.benchmark.identity`)."""
        from sagebench.benchmark.identity import code_fingerprint

        real = c.dataset != NO_DATASET
        train_split = self.datasets[c.dataset].train_split if real else None
        return {"names": [c.dataset, c.method, c.task], "plan": c.ident, "method": method_ident,
                "inputs": self._input_identity(c.dataset) if real else None,
                "train_inputs": (self._input_identity(c.dataset, train_split)
                                 if real and self.tasks[c.task].needs_train and train_split else None),
                "code": code_fingerprint("core", "fusion_models", "tasks", "benchmark")}

    def prepare_method(self, dataset_name: str, method: str) -> tuple[Any, Any, dict[str, Any]]:
        """``(model, precomputed, method identity)`` of ``method`` for one dataset: the built fusion model,
        or for ``type="precomputed"`` no model and the folder of published images, whose file digests are
        the identity."""
        from sagebench.benchmark.identity import FUSED_FORMAT, method_identity
        from sagebench.fusion_models import build_fusion_model
        from sagebench.fusion_models.precomputed import TYPE as PRECOMPUTED
        from sagebench.fusion_models.precomputed import PrecomputedFusion

        mcfg = self.methods[method].config
        if mcfg.get("type") != PRECOMPUTED:
            model = build_fusion_model(dict(mcfg), device=self.device)
            return model, None, method_identity(mcfg, model)
        args = {k: v for k, v in mcfg.items() if k != "type"}
        if "root" in args:  # ${SAGEBENCH_DATA} / ${VAR} as in dataset sources
            args["root"] = expand_vars(args["root"], self.opts.data_root, f"method {method!r}: root")
        spec = PrecomputedFusion(**args)
        files = self._precomputed(spec, dataset_name, method, None)["files"] if dataset_name != NO_DATASET else None
        return None, spec, {"config": mcfg, "format": FUSED_FORMAT, "weights_sha256": None,
                            "precomputed": spec.digest(files) if files is not None else None}

    def run_unit(self, dataset_name: str, method: str, cells: list[CellSpec]) -> None:
        """Fuse ``dataset_name`` with ``method`` (when a task needs images) and compute ``cells``; a cell
        whose stored file has the same full identity is resumed instead (unless ``--no-resume``)."""
        from sagebench.fusion_models.precomputed import TYPE as PRECOMPUTED
        from sagebench.tasks import TaskContext, TaskResult

        real_dataset = dataset_name != NO_DATASET
        try:
            model, pre_spec, key_parts = self.prepare_method(dataset_name, method)
        except Exception as exc:  # a broken method must not stop the others
            precomputed = self.methods[method].config.get("type") == PRECOMPUTED
            what = "reading the precomputed images failed" if precomputed else "building the model failed"
            self._fail(cells, f"{what}: {_error_text(exc)}")
            return
        if getattr(model, "single_modality", None):
            self.references[method] = str(model.single_modality)

        def unit_dataset(split: str | None = None):
            if pre_spec is not None and real_dataset:
                return self._precomputed(pre_spec, dataset_name, method, split)["dataset"]
            return self._dataset(dataset_name, split)

        base_info = {"weights_sha256": key_parts["weights_sha256"], "method_key": stable_hash(key_parts)[:20],
                     "rank": self.rank}
        fused: dict[str | None, tuple[Path, dict, Any] | Exception] = {}
        for c in cells:
            tspec = self.tasks[c.task]
            info = dict(base_info)
            try:
                full_hash = stable_hash(self.cell_identity(c, key_parts))
                if self.opts.resume:
                    old = self.store.load_cell(cell_key(c.dataset, method, c.task, full_hash))
                    if old is not None and old.config_hash == full_hash:
                        self.resumed.append(old.to_json())
                        continue
                task = tspec.build()
                if model is None and getattr(task, "needs_model", False):  # e.g. throughput of published images
                    result = TaskResult(task=c.task, summary={}, meta={
                        "not_applicable": "precomputed fused images: there is no model to run"})
                    cell = cell_from_task_result(c.dataset, method, c.task, full_hash, result, info)
                    self.store.save_cell(cell)
                    self.cells.append(cell.to_json())
                    continue
                train_split = self.datasets[dataset_name].train_split if real_dataset else None
                if tspec.needs_train and not train_split:
                    raise ConfigError(f"task {tspec.name!r} retrains on fused training images: give dataset "
                                      f"{dataset_name!r} a train_split (e.g. train_split='train')")
                if real_dataset and tspec.needs_fused:
                    for split in [None, train_split] if tspec.needs_train else [None]:
                        if split not in fused:
                            try:
                                fused[split] = (self._write_precomputed(pre_spec, dataset_name, method, split)
                                                if pre_spec is not None else
                                                self._fuse(model, self.cache.method_dir(key_parts), dataset_name,
                                                           method, split))
                            except Exception as exc:
                                fused[split] = exc  # the unit's other tasks fail with it, without fusing again
                        if isinstance(fused[split], Exception):
                            raise fused[split]
                    info["fusion"] = fused[None][1]
                work_dir = self.store.work_dir(c.dataset, method, c.task)
                work_dir.mkdir(parents=True, exist_ok=True)
                reference_dir = None
                if real_dataset and tspec.needs_train:
                    ref_key = stable_hash({"train": self._input_identity(dataset_name, train_split),
                                           "task": tspec.settings, "seed": self.plan.seed})
                    reference_dir = self.store.reference_dir(dataset_name, c.task, ref_key)
                ctx = TaskContext(
                    method=method,
                    dataset=unit_dataset() if real_dataset else None,
                    fused_dir=fused[None][0] if None in fused else None,
                    model=model,
                    train_dataset=unit_dataset(train_split) if tspec.needs_train else None,
                    train_fused_dir=fused[train_split][0] if tspec.needs_train else None,
                    work_dir=work_dir, device=self.device, seed=self.plan.seed, reference_dir=reference_dir,
                    fused_images=fused[None][2] if None in fused else None)
                _seed_everything(self.plan.seed)
                t0 = time.perf_counter()
                with _task_log(work_dir / "task.log", verbose=self.opts.verbose):
                    result = task.evaluate(ctx)
                info["task_seconds"] = round(time.perf_counter() - t0, 4)
                cell = cell_from_task_result(c.dataset, method, c.task, full_hash, result, info)
                self.store.save_cell(cell)
            except Exception as exc:  # reported; the other cells go on
                self._fail([c], _error_text(exc))
                continue
            self.cells.append(cell.to_json())
            self._written += 1
            if self._exit_after and self._written >= self._exit_after:
                os._exit(17)


def plan_status(cfg: dict[str, Any], opts: RunOptions) -> tuple[Plan, list[tuple[CellSpec, str]]]:
    """What a run of ``cfg`` into ``opts.out_dir`` would do, without running a task: every planned cell
    with ``"stored"`` (its file there has the same full identity, so it would be resumed) or ``"to compute"``
    (with the reason when the method or its inputs fail to load). Builds each method and hashes its
    inputs, exactly as the run would (``sagebench validate``)."""
    from sagebench.devices import resolve_device
    from sagebench.weights import use_weights_dir

    device = opts.device or cfg.get("device") or resolve_device(None)
    with use_weights_dir(opts.weights_dir):
        plan = make_plan(cfg, device=device, weights_dir=opts.weights_dir, data_root=opts.data_root)
        store = RunStore(opts.out_dir)
        worker = _Worker(plan, opts, store, device, rank=0)
        out: list[tuple[CellSpec, str]] = []
        idents: dict[tuple[str, str], Any] = {}
        for c in plan.cells:
            unit = (c.dataset, c.method)
            try:
                if unit not in idents:
                    idents[unit] = worker.prepare_method(c.dataset, c.method)[2]
                full = stable_hash(worker.cell_identity(c, idents[unit]))
                old = store.load_cell(cell_key(c.dataset, c.method, c.task, full)) if store.root.is_dir() else None
                out.append((c, "stored" if old is not None and old.config_hash == full else "to compute"))
            except Exception as exc:  # what the run would report as a failure
                out.append((c, f"would fail: {_error_text(exc)[:160]}"))
    return plan, out


def run_benchmark(cfg: dict[str, Any], opts: RunOptions) -> RunReport:
    """Run a loaded config (see :func:`load_config`). Every rank calls this; rank 0 writes results.
    ``opts.weights_dir`` applies to every model built (a scoped setting; the environment is not written).
    The run is one :func:`sagebench.memory.reuse_large_blocks` block: memory freed by one image is reused by
    the next, and given back when the run ends (a no-op under the command's own setting)."""
    from sagebench.memory import reuse_large_blocks
    from sagebench.weights import use_weights_dir

    with use_weights_dir(opts.weights_dir), reuse_large_blocks():
        return _run_benchmark(cfg, opts)


def _run_benchmark(cfg: dict[str, Any], opts: RunOptions) -> RunReport:
    from sagebench import deps
    from sagebench.devices import resolve_device

    deps.reset()  # what this run reads is recorded from here on (for the rerun stamp)
    rank, world = distributed.init()
    device = opts.device or cfg.get("device") or resolve_device(None)
    if device.startswith("cuda") and world > 1 and ":" not in device:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    plan = make_plan(cfg, device=device, weights_dir=opts.weights_dir, data_root=opts.data_root)
    store = RunStore(opts.out_dir)
    say = wrapped_say if rank == 0 else (lambda *a, **k: None)
    for s in plan.skipped_datasets:
        say(f"[sagebench] skipping dataset {s}")
    if plan.excluded_methods:
        shown = "; ".join(plan.excluded_methods[:3]) + ("; ..." if len(plan.excluded_methods) > 3 else "")
        say(f"[sagebench] methods='auto' leaves out {len(plan.excluded_methods)} methods (weights: --weights-dir "
            f"or $SAGEBENCH_WEIGHTS_DIR): {shown}")
    if not plan.cells:
        raise ConfigError("nothing to run: no datasets/methods/tasks left after skipping")

    # Rank 0 owns the folder's lock for the whole run; a refusal stops every rank.
    refusal = None
    if rank == 0:
        try:
            store.lock()
        except SagebenchError as exc:
            refusal = str(exc)
    refusal = distributed.broadcast(refusal)
    if refusal:
        raise ConfigError(refusal)
    try:
        return _run_locked(cfg, opts, plan, store, device, rank, world, say)
    finally:
        store.unlock()


def _run_locked(cfg, opts: RunOptions, plan: Plan, store: RunStore, device: str, rank: int, world: int,
                say) -> RunReport:
    from sagebench.benchmark import provenance, rerun

    if rank == 0:
        rerun.clear_stamp(store)  # a run that stops half-way leaves no stamp behind

    units: dict[tuple[str, str], list[CellSpec]] = {}
    for c in plan.cells:
        units.setdefault((c.dataset, c.method), []).append(c)
    mine = distributed.shard(list(units), rank, world)
    say(f"[sagebench] {len(plan.cells)} cells ({len(plan.datasets)} datasets x {len(plan.methods)} methods x "
        f"{len(plan.tasks)} tasks)" + (f" on {world} ranks" if world > 1 else "") +
        f"; device {device}; output {store.root}")

    t0 = time.perf_counter()
    worker = _Worker(plan, opts, store, device, rank)
    from tqdm.auto import tqdm

    with tqdm(total=sum(len(units[u]) for u in mine), desc="cells", unit="cell", file=sys.stderr,
              disable=not opts.progress or rank != 0) as bar:
        for ds_name, method in mine:
            bar.set_postfix_str(f"{method} / {ds_name}")
            worker.run_unit(ds_name, method, units[(ds_name, method)])
            bar.update(len(units[(ds_name, method)]))
    gathered = distributed.gather((worker.cells, worker.resumed, worker.failures, worker.references))
    n_new = sum(len(g[0]) for g in gathered)
    n_resumed = sum(len(g[1]) for g in gathered)
    n_failed = sum(len(g[2]) for g in gathered)
    report = RunReport(results_path=None, rank=rank, computed=n_new + n_failed, resumed=n_resumed)
    if rank != 0:
        distributed.barrier()
        return report

    found: dict[tuple[str, str, str], Cell] = {}
    fresh: set[str] = set()
    failures_by_cell: dict[tuple, dict] = {}
    references: dict[str, str] = {}
    for cells, resumed, failures, refs in gathered:
        references.update(refs)
        fresh.update(Cell.from_json(obj).key for obj in cells)
        for obj in [*cells, *resumed]:
            cell = Cell.from_json(obj)
            found[(cell.dataset, cell.method, cell.task)] = cell
            if not store.cell_path(cell.key).is_file():  # another node without a shared file system
                store.save_cell(cell)
        for f in failures:
            failures_by_cell[(f["dataset"], f["method"], f["task"])] = f
    ordered, failures = [], []
    for c in plan.cells:
        triple = (c.dataset, c.method, c.task)
        if triple in found:
            ordered.append(found[triple])
        elif triple in failures_by_cell:
            failures.append(failures_by_cell[triple])
    weights = {}
    for cell in ordered:
        weights.setdefault(cell.method, cell.info.get("weights_sha256"))
    public_cfg = {k: v for k, v in cfg.items() if k != "_name"}
    prov = provenance.collect(
        device, config=jsonable(public_cfg | {"_name": cfg.get("_name")}), config_hash=stable_hash(plan.identity()),
        seed=plan.seed, weights=weights, world_size=world,
        extra={"skipped_datasets": plan.skipped_datasets, "excluded_methods": plan.excluded_methods,
               "references": {m.name: references[m.name] for m in plan.methods if m.name in references},
               "data_root": str(Path(opts.data_root).expanduser().resolve()) if opts.data_root else None,
               "cells": {c.key: c.info | {"identity": c.config_hash} for c in ordered},
               "computed": [c.key for c in ordered if c.key in fresh],
               "elapsed_seconds": round(time.perf_counter() - t0, 3)})
    report.results_path = store.write_results(ordered, failures, prov)
    report.failures = failures
    report.computed_keys = [c.key for c in ordered if c.key in fresh]
    if opts.leaderboard:
        style = table_style(cfg.get("leaderboard"))
        configured_plots = style.pop("plots", False)
        plots = configured_plots if opts.plots is None else opts.plots
        report.leaderboard_files = _leaderboard(report.results_path, store.leaderboard_dir(), style, plots)
    if not failures and world == 1 and not opts.includes:
        rerun.write_stamp(store, cfg, opts, device, report.results_path, _listed_folders(plan, opts))
    _summary(report, plan, time.perf_counter() - t0)
    distributed.barrier()
    return report


def _listed_folders(plan: Plan, opts: RunOptions) -> list[str]:
    """Folders whose listing decides what a run reads: dataset roots (a new file is a new pair), the weights
    folders (``methods="auto"`` picks up new weights) and precomputed folders (recorded as they are read)."""
    from sagebench import deps
    from sagebench.weights import ENV_WEIGHTS_DIR, cache_home

    out = [str(cache_home() / "weights")]
    for spec in plan.datasets:
        p = Path(spec.resolved)
        if p.is_dir():
            out.append(str(p))
        elif p.is_file():
            deps.record_file(p)
    for d in (opts.weights_dir, os.environ.get(ENV_WEIGHTS_DIR)):
        if d and Path(d).expanduser().is_dir():
            out.append(str(Path(d).expanduser()))
    return out


def _leaderboard(results_path: Path, out_dir: Path, style: dict[str, Any] | None = None,
                 plots: bool = False) -> dict[str, Path]:
    """Print the leaderboards (fitted to the terminal) and write the leaderboard files, in the config's
    ``leaderboard`` style (PNG plots only when asked: matplotlib costs seconds per figure; the HTML page draws
    its own bars); a plain pivot when the leaderboard module is unavailable or fails (the results are
    already safe on disk)."""
    from sagebench.benchmark.results import load_results

    rs = load_results(results_path)
    try:
        from sagebench.benchmark import leaderboard  # written in parallel; optional until it lands
    except ImportError:
        leaderboard = None
    if leaderboard is not None:
        try:
            leaderboard.print_terminal(rs, **(style or {}))
            return dict(leaderboard.render_all(rs, out_dir, plots=plots, **(style or {})))
        except Exception as exc:  # never lose a finished run to a rendering problem
            print(f"[sagebench] leaderboard rendering failed ({_error_text(exc)}); plain tables follow",
                  file=sys.stderr)
    print(plain_tables(rs))
    return {}


def plain_tables(rs: Any) -> str:
    """Methods x metrics tables, one per (dataset, task), as plain text."""
    import pandas as pd

    df = rs.records
    if df.empty:
        return "(no results)"
    parts = []
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.4g}".format):
        for (ds, task), g in df.groupby(["dataset", "task"], sort=False):
            table = g.pivot_table(index="method", columns="metric", values="value", sort=False)
            parts.append(f"## {task} on {ds}\n{table.to_string()}")
    return "\n\n".join(parts)


def _summary(report: RunReport, plan: Plan, seconds: float) -> None:
    from sagebench.benchmark.terminal import say

    say(f"[sagebench] done in {seconds:.1f} s: {report.computed - len(report.failures)} cells computed, "
        f"{report.resumed} resumed, {len(report.failures)} failed")
    for f in report.failures:
        say(f"[sagebench]   FAILED {f['dataset']} / {f['method']} / {f['task']}: {f['error']}")
    say(f"[sagebench] results: {report.results_path}")
    if report.leaderboard_files:
        top = min((Path(p).parent for p in report.leaderboard_files.values()), key=lambda d: len(d.parts))
        say(f"[sagebench] leaderboard: {len(report.leaderboard_files)} files in {top}")
