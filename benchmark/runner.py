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

Dataset keys besides those of :func:`sagebench.datasets.open_dataset`: ``name`` (table name),
``limit`` (first N pairs), ``optional`` (skip with a message when the source is missing instead of
failing), ``train_split`` (split fused for tasks that retrain, e.g. ``"train"``), ``split_file`` (a shipped
split name such as ``"msrs_official_v1"`` or a split file: ``split``/``train_split`` then pick its parts
from a flat copy of the dataset instead of split folders) and ``split_partial`` (allow a copy that holds
only some of a part's images; default False: missing images are an error). ``${VAR}`` in a source
is an environment variable; ``--data-root`` sets ``SAGEBENCH_DATA``.

Cells are (dataset, method, task); tasks whose class sets ``per_dataset = False`` (throughput) run once
per method with dataset ``"-"``. Work is grouped into (dataset, method) units (one fusion pass each),
sharded round-robin over ``torchrun`` ranks, and gathered on rank 0, which writes ``results.json``.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagebench.benchmark import distributed
from sagebench.benchmark.results import (
    NO_DATASET,
    Cell,
    RunStore,
    cell_from_task_result,
    cell_key,
    stable_hash,
)
from sagebench.errors import ConfigError, SagebenchError
from sagebench.paths import slug

ENV_DATA = "SAGEBENCH_DATA"
#: Test hook: the process hard-exits (``os._exit(17)``, no cleanup) after writing this many cells.
ENV_EXIT_AFTER = "SAGEBENCH_EXIT_AFTER_CELLS"
DATASET_OWN_KEYS = ("name", "source", "limit", "optional", "train_split", "split_file", "split_partial")
#: Top-level keys a benchmark config may have (``custom_imports`` is mmengine's: modules imported first).
CONFIG_KEYS = ("datasets", "methods", "tasks", "seed", "regress", "device", "custom_imports")

#: The built-in quickstart (``sagebench run`` without a config) is the shipped ``configs/quickstart.py``.
QUICKSTART_FILE = "quickstart.py"


def config_file(name: str) -> Path:
    """A config shipped with the package (``configs/`` of the repository): ``config_file("quickstart.py")``,
    ``config_file("downstream/ci.py")``."""
    from importlib.resources import files

    path = Path(str(files("sagebench.configs") / name))
    if not path.is_file():
        raise ConfigError(f"{name}: no such config shipped with sagebench ({path})")
    return path


def __getattr__(name: str) -> Any:  # QUICKSTART: the quickstart config as a dict, read on first use
    if name == "QUICKSTART":
        cfg = load_config(config_file(QUICKSTART_FILE))
        cfg.pop("_name", None)
        return cfg
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------ config
def load_config(path: str | os.PathLike | None = None, cfg_options: dict[str, Any] | None = None) -> dict:
    """Read a benchmark config file (or the built-in quickstart when ``path`` is None), apply
    ``--cfg-options`` style overrides (``{"methods.0.type": "max_abs"}``) and return a plain dict."""
    from mmengine.config import Config

    path = config_file(QUICKSTART_FILE) if path is None else Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # mmengine raises many types for a bad file
        raise ConfigError(f"{path}: cannot read config ({type(exc).__name__}: {exc})") from exc
    if cfg_options:
        cfg.merge_from_dict(cfg_options, allow_list_keys=True)
    out = {k: v for k, v in cfg.to_dict().items() if not k.startswith("_")}  # `_X` names are config helpers
    out["_name"] = Path(path).stem
    return out


_VAR = re.compile(r"\$\{(\w+)\}")


def resolve_source(source: str, data_root: str | os.PathLike | None = None) -> tuple[str | None, str]:
    """Expand ``${VAR}`` and ``~`` in a dataset source. ``${SAGEBENCH_DATA}`` is ``data_root`` when given
    (``--data-root``), else that environment variable. Returns ``(resolved, "")`` or ``(None, why)``
    when a variable is unset or the folder does not exist. ``synthetic...`` passes through."""
    source = str(source)
    if source.startswith("synthetic"):
        return source, ""
    values = dict(os.environ)
    if data_root:
        values[ENV_DATA] = str(Path(data_root).expanduser().resolve())
    missing = [v for v in _VAR.findall(source) if not values.get(v)]
    if missing:
        hint = " (use --data-root)" if ENV_DATA in missing else ""
        return None, f"{source}: environment variable {', '.join(missing)} is not set{hint}"
    resolved = os.path.expanduser(_VAR.sub(lambda m: values[m.group(1)], source))
    if not Path(resolved).exists():
        return None, f"{resolved}: dataset folder not found"
    return resolved, ""


def auto_methods(weights_dir: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Every registered method that needs nothing external, as method configs, and the excluded
    names with the reason. A method whose card names released weights is included when those weights
    are available locally or cached; a card with ``requires`` (user-given files) excludes it."""
    from sagebench.fusion_models import get_model_class, list_models
    from sagebench.weights import weight_status

    chosen, excluded = [], []
    for name in list_models():
        card = getattr(get_model_class(name), "card", {}) or {}
        if card.get("requires"):
            excluded.append(f"{name} (needs {card['requires']})")
            continue
        weights = card.get("weights") or []
        missing = []
        for w in [weights] if isinstance(weights, str) else weights:  # a card may name several files
            try:
                if weight_status(w, weights_dir) == "not downloaded":
                    missing.append(f"weights {w!r} not available locally")
            except SagebenchError:
                missing.append(f"no downloadable weights: {w}")
        if missing:
            excluded.append(f"{name} ({'; '.join(missing)})")
            continue
        chosen.append(dict(name=name, type=name))
    return chosen, excluded


@dataclass
class Plan:
    """The normalised benchmark: named datasets, methods, tasks and the list of cells."""

    datasets: list[dict[str, Any]]
    methods: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    seed: int
    skipped_datasets: list[str] = field(default_factory=list)
    excluded_methods: list[str] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)


def _named(items: Any, what: str, name_key: str = "type") -> list[dict[str, Any]]:
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"config: {what!r} must be a list of dicts, got {type(items).__name__}")
    out, seen, slugs = [], set(), {}
    for i, item in enumerate(items):
        item = {"type": item} if isinstance(item, str) and what != "datasets" else item
        if not isinstance(item, dict):
            raise ConfigError(f"config: {what}[{i}] must be a dict, got {item!r}")
        item = dict(item)
        if what == "datasets" and "source" not in item:
            raise ConfigError(f"config: datasets[{i}] needs a 'source' (folder or 'synthetic:...')")
        if what != "datasets" and "type" not in item:
            raise ConfigError(f"config: {what}[{i}] needs a 'type': {item}")
        item.setdefault("name", str(item.get(name_key)))
        name = item["name"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"config: {what}[{i}] has an empty or non-text name {name!r}")
        if name in seen:
            raise ConfigError(f"config: two {what} are named {name!r}; give them distinct 'name's")
        folder = slug(name)
        if folder in slugs:
            raise ConfigError(f"config: {what} {slugs[folder]!r} and {name!r} would share the folder name "
                              f"{folder!r}; rename one")
        seen.add(name)
        slugs[folder] = name
        out.append(item)
    return out


def _did_you_mean(word: str, options: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_int(value: Any, where: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(f"config: {where} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"config: {where} must be >= {minimum}, got {value}")
    return int(value)


def validate_config(cfg: dict[str, Any]) -> None:
    """Check a loaded config before any work starts: top-level keys (with a did-you-mean), ``seed``, each
    dataset's ``limit``/``n``/``seed`` and keys, each method's ``precision``. Raises :class:`ConfigError`."""
    import inspect

    from sagebench.datasets.folder import FolderDataset
    from sagebench.datasets.synthetic import SyntheticDataset
    from sagebench.fusion_models import PRECISIONS

    for key in cfg:
        if key.startswith("_"):
            continue
        if key not in CONFIG_KEYS:
            raise ConfigError(f"config {cfg.get('_name', '')!r}: unknown top-level key {key!r}"
                              f"{_did_you_mean(key, CONFIG_KEYS)} (known: {', '.join(CONFIG_KEYS)})")
    for key in ("datasets", "methods", "tasks"):
        if key not in cfg:
            raise ConfigError(f"config {cfg.get('_name', '')!r}: missing {key!r}")
    _check_int(cfg.get("seed", 0), "seed")
    if "regress" in cfg:
        from sagebench.benchmark.regress import Tolerances

        Tolerances(cfg["regress"])  # a ConfigError names the bad entry
    folder_keys = set(inspect.signature(FolderDataset.__init__).parameters) - {"self", "source"}
    synth_keys = set(inspect.signature(SyntheticDataset.__init__).parameters) - {"self"}
    for i, d in enumerate(cfg["datasets"] if isinstance(cfg["datasets"], (list, tuple)) else []):
        if not isinstance(d, dict):
            continue
        where = f"datasets[{i}] ({d.get('name', d.get('source'))!r})"
        synthetic = str(d.get("source", "")).startswith("synthetic")
        allowed = set(DATASET_OWN_KEYS) | {"split", "on_error"} | (synth_keys if synthetic else folder_keys)
        for k in d:
            if k not in allowed:
                raise ConfigError(f"config: {where}: unknown key {k!r}{_did_you_mean(k, allowed)}")
        if d.get("limit") is not None:
            _check_int(d["limit"], f"{where} limit", minimum=1)
        if synthetic and "n" in d:
            _check_int(d["n"], f"{where} n", minimum=1)
        if "seed" in d:
            _check_int(d["seed"], f"{where} seed")
    methods = cfg["methods"]
    for i, m in enumerate(methods if isinstance(methods, (list, tuple)) else []):
        if isinstance(m, dict) and m.get("precision") is not None and m["precision"] not in PRECISIONS:
            raise ConfigError(f"config: methods[{i}] ({m.get('name', m.get('type'))!r}): unknown precision "
                              f"{m['precision']!r}; choose one of {', '.join(PRECISIONS)}")
    if methods != "auto" and not isinstance(methods, (list, tuple)):
        raise ConfigError(f"config: 'methods' must be a list of dicts or 'auto', got {methods!r}")


def make_plan(cfg: dict[str, Any], *, device: str, weights_dir: str | None = None,
              data_root: str | os.PathLike | None = None) -> Plan:
    """Validate a config and enumerate its cells (in config order: dataset, method, task).

    A planned cell's ``config_hash`` covers its configs only; the full identity (weights, input content,
    code) is computed when the cell's unit runs (:meth:`_Worker.run_unit`)."""
    from sagebench.tasks import TASKS, build_task

    validate_config(cfg)
    methods_cfg, excluded = cfg["methods"], []
    if methods_cfg == "auto":
        methods_cfg, excluded = auto_methods(weights_dir)
    plan = Plan(datasets=[], methods=_named(methods_cfg, "methods"), tasks=_named(cfg["tasks"], "tasks"),
                seed=_check_int(cfg.get("seed", 0), "seed"), excluded_methods=excluded)
    for t in plan.tasks:
        if TASKS.get(t["type"]) is None:
            raise ConfigError(f"config: unknown task {t['type']!r}{_did_you_mean(t['type'], TASKS.module_dict)}; "
                              f"registered: {', '.join(sorted(TASKS.module_dict))}")
        try:  # validate arguments now, not after fusing everything; config() is part of the cell hash
            task = build_task(_task_args(t))
            t["_config"] = _jsonable(task.config())
        except Exception as exc:
            raise ConfigError(f"config: task {t['name']!r}: {type(exc).__name__}: {exc}") from exc
        # what the task needs is declared per instance (a downstream task with a checkpoint needs no train split)
        t["_per_dataset"], t["_needs_fused"] = bool(task.per_dataset), bool(task.needs_fused)
        t["_needs_train"] = bool(task.needs_train_split)
    for d in _named(cfg["datasets"], "datasets", name_key="source"):
        resolved, why = resolve_source(d["source"], data_root)
        if resolved is None:
            if d.get("optional"):
                plan.skipped_datasets.append(f"{d['name']}: {why}")
                continue
            raise ConfigError(f"dataset {d['name']!r}: {why} (mark it optional=True to skip instead)")
        d["_resolved"] = resolved
        plan.datasets.append(d)

    device_type = device.split(":")[0]  # not the index: every rank must plan the same cells
    for m in plan.methods:
        for t in plan.tasks:
            dsets = plan.datasets if t["_per_dataset"] else [None]
            for d in dsets:
                ident = {"dataset": _public(d) | {"source": d["_resolved"]} if d else None,
                         "method": {k: v for k, v in m.items() if k != "name"},
                         "task": _public(t), "task_config": t["_config"], "seed": plan.seed,
                         "device_type": device_type}
                c = {"dataset": d["name"] if d else NO_DATASET, "method": m["name"], "task": t["name"],
                     "config_hash": stable_hash(ident), "_ident": ident}
                c["key"] = cell_key(c["dataset"], c["method"], c["task"], c["config_hash"])
                plan.cells.append(c)
    order = {d["name"]: i for i, d in enumerate(plan.datasets)} | {NO_DATASET: len(plan.datasets)}
    plan.cells.sort(key=lambda c: order[c["dataset"]])  # stable: method, task order kept per dataset
    return plan


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not k.startswith("_") and k != "optional"}


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


def open_configured(d: dict[str, Any], split: str | None = None) -> Any:
    """Open a configured dataset (``split`` overrides the config's)."""
    from sagebench.datasets import open_dataset

    kw = {k: v for k, v in d.items() if k not in DATASET_OWN_KEYS and not k.startswith("_")}
    if isinstance(kw.get("size"), list):
        kw["size"] = tuple(kw["size"])
    if split is not None:
        kw["split"] = split
    if d.get("split_file"):
        # a flat copy of a dataset whose split is a shipped/versioned list (e.g. msrs_official_v1)
        from sagebench.datasets.splits import apply_split

        part = kw.pop("split", None)
        if part is None:
            raise ConfigError(f"dataset {d.get('name')!r}: split_file={d['split_file']!r} needs split= "
                              f"(the part to use, e.g. 'test')")
        ds = apply_split(open_dataset(d["_resolved"], **kw), d["split_file"], part,
                         allow_partial=bool(d.get("split_partial", False)))
    else:
        ds = open_dataset(d["_resolved"], **kw)
    limit = d.get("limit")
    if limit is not None and int(limit) < len(ds):
        from sagebench.datasets.splits import SplitView

        view = SplitView(ds, list(range(int(limit))), f":{int(limit)}")
        view.name = ds.name  # the first N pairs: same samples, same content hashes
        ds = view
    return ds


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
        self.datasets = {d["name"]: d for d in plan.datasets}
        self.methods = {m["name"]: m for m in plan.methods}
        self.tasks = {t["name"]: t for t in plan.tasks}
        self.cells: list[dict[str, Any]] = []
        self.resumed: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self._opened: dict[tuple[str, str | None], Any] = {}
        self._inputs: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._exit_after = int(os.environ.get(ENV_EXIT_AFTER, "0") or 0)
        self._written = 0

    def _dataset(self, name: str, split: str | None = None):
        key = (name, split)
        if key not in self._opened:
            self._opened[key] = open_configured(self.datasets[name], split)
        return self._opened[key]

    def _input_identity(self, name: str, split: str | None = None) -> dict[str, Any]:
        from sagebench.benchmark.identity import input_identity

        key = (name, split)
        if key not in self._inputs:
            self._inputs[key] = input_identity(self._dataset(name, split))
        return self._inputs[key]

    def _fail(self, cells: list[dict[str, Any]], error: str) -> None:
        for c in cells:
            self.failures.append({"dataset": c["dataset"], "method": c["method"], "task": c["task"], "error": error})
            print(f"[sagebench] FAILED {c['dataset']} / {c['method']} / {c['task']}: {error}", file=sys.stderr)

    def _fuse(self, model, key_dir, dataset_name: str, method: str, split: str | None) -> tuple[Path, dict]:
        from tqdm.auto import tqdm

        from sagebench.benchmark.cache import fuse_with_cache

        ds = self._dataset(dataset_name, split)
        folder = dataset_name if split is None else f"{dataset_name}@{split}"
        out = self.store.fused_dir(dataset_name, method, split)
        with tqdm(total=len(ds.names), desc=f"fuse {method} / {folder}", unit="img", leave=False,
                  disable=not self.opts.progress or self.rank != 0, file=sys.stderr) as bar:
            info = fuse_with_cache(model, ds, self.cache, key_dir, out, refresh=not self.opts.resume,
                                   progress=bar.update)
        return out, info

    def cell_identity(self, c: dict[str, Any], method_ident: dict[str, Any]) -> dict[str, Any]:
        """Everything that decides cell ``c``'s numbers (see :mod:`sagebench.benchmark.identity`)."""
        from sagebench.benchmark.identity import code_fingerprint

        tcfg = self.tasks[c["task"]]
        real = c["dataset"] != NO_DATASET
        train_split = self.datasets[c["dataset"]].get("train_split") if real else None
        return {"names": [c["dataset"], c["method"], c["task"]], "plan": c["_ident"], "method": method_ident,
                "inputs": self._input_identity(c["dataset"]) if real else None,
                "train_inputs": (self._input_identity(c["dataset"], train_split)
                                 if real and tcfg["_needs_train"] and train_split else None),
                "code": code_fingerprint("core", "fusion_models", "tasks", "benchmark")}

    def run_unit(self, dataset_name: str, method: str, cells: list[dict[str, Any]]) -> None:
        """Fuse ``dataset_name`` with ``method`` (when a task needs images) and compute ``cells``; a cell
        whose stored file has the same full identity is resumed instead (unless ``--no-resume``)."""
        from sagebench.benchmark.identity import method_identity
        from sagebench.fusion_models import build_fusion_model
        from sagebench.tasks import TaskContext, build_task

        mcfg = self.methods[method]
        try:
            model = build_fusion_model({k: v for k, v in mcfg.items() if k != "name"}, device=self.device)
            key_parts = method_identity(mcfg, model)
        except Exception as exc:  # a broken method must not stop the others
            self._fail(cells, f"building the model failed: {_error_text(exc)}")
            return
        base_info = {"weights_sha256": key_parts["weights_sha256"], "method_key": stable_hash(key_parts)[:20],
                     "rank": self.rank}
        fused: dict[str | None, tuple[Path, dict] | Exception] = {}
        real_dataset = dataset_name != NO_DATASET
        for c in cells:
            tcfg = self.tasks[c["task"]]
            info = dict(base_info)
            try:
                full_hash = stable_hash(self.cell_identity(c, key_parts))
                if self.opts.resume:
                    old = self.store.load_cell(cell_key(c["dataset"], method, c["task"], full_hash))
                    if old is not None and old.config_hash == full_hash:
                        self.resumed.append(old.to_json())
                        continue
                train_split = self.datasets[dataset_name].get("train_split") if real_dataset else None
                if tcfg["_needs_train"] and not train_split:
                    raise ConfigError(f"task {tcfg['name']!r} retrains on fused training images: give dataset "
                                      f"{dataset_name!r} a train_split (e.g. train_split='train')")
                if real_dataset and tcfg["_needs_fused"]:
                    for split in [None, train_split] if tcfg["_needs_train"] else [None]:
                        if split not in fused:
                            try:
                                fused[split] = self._fuse(model, self.cache.method_dir(key_parts), dataset_name,
                                                          method, split)
                            except Exception as exc:
                                fused[split] = exc  # the unit's other tasks fail with it, without fusing again
                        if isinstance(fused[split], Exception):
                            raise fused[split]
                    info["fusion"] = fused[None][1]
                task = build_task(_task_args(tcfg))
                work_dir = self.store.work_dir(c["dataset"], method, c["task"])
                work_dir.mkdir(parents=True, exist_ok=True)
                reference_dir = None
                if real_dataset and tcfg["_needs_train"]:
                    ref_key = stable_hash({"train": self._input_identity(dataset_name, train_split),
                                           "task": tcfg["_config"], "seed": self.plan.seed})
                    reference_dir = self.store.reference_dir(dataset_name, c["task"], ref_key)
                ctx = TaskContext(
                    method=method,
                    dataset=self._dataset(dataset_name) if real_dataset else None,
                    fused_dir=fused[None][0] if None in fused else None,
                    model=model,
                    train_dataset=self._dataset(dataset_name, train_split) if tcfg["_needs_train"] else None,
                    train_fused_dir=fused[train_split][0] if tcfg["_needs_train"] else None,
                    work_dir=work_dir, device=self.device, seed=self.plan.seed, reference_dir=reference_dir)
                _seed_everything(self.plan.seed)
                t0 = time.perf_counter()
                result = task.evaluate(ctx)
                info["task_seconds"] = round(time.perf_counter() - t0, 4)
                cell = cell_from_task_result(c["dataset"], method, c["task"], full_hash, result, info)
                self.store.save_cell(cell)
            except Exception as exc:  # reported; the other cells go on
                self._fail([c], _error_text(exc))
                continue
            self.cells.append(cell.to_json())
            self._written += 1
            if self._exit_after and self._written >= self._exit_after:
                os._exit(17)


def _task_args(t: dict[str, Any]) -> dict[str, Any]:
    """A planned task entry -> the config ``build_task`` takes (without the table name)."""
    return {k: v for k, v in t.items() if k != "name" and not k.startswith("_")}


def _jsonable(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, default=str))


def run_benchmark(cfg: dict[str, Any], opts: RunOptions) -> RunReport:
    """Run a loaded config (see :func:`load_config`). Every rank calls this; rank 0 writes results.
    ``opts.weights_dir`` applies to every model built (a scoped setting; the environment is not written)."""
    from sagebench.weights import use_weights_dir

    with use_weights_dir(opts.weights_dir):
        return _run_benchmark(cfg, opts)


def _run_benchmark(cfg: dict[str, Any], opts: RunOptions) -> RunReport:
    from sagebench.devices import resolve_device

    rank, world = distributed.init()
    device = opts.device or cfg.get("device") or resolve_device(None)
    if device.startswith("cuda") and world > 1 and ":" not in device:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    plan = make_plan(cfg, device=device, weights_dir=opts.weights_dir, data_root=opts.data_root)
    store = RunStore(opts.out_dir)
    say = print if rank == 0 else (lambda *a, **k: None)
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
    from sagebench.benchmark import provenance

    units: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in plan.cells:
        units.setdefault((c["dataset"], c["method"]), []).append(c)
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
    gathered = distributed.gather((worker.cells, worker.resumed, worker.failures))
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
    for cells, resumed, failures in gathered:
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
        triple = (c["dataset"], c["method"], c["task"])
        if triple in found:
            ordered.append(found[triple])
        elif triple in failures_by_cell:
            failures.append(failures_by_cell[triple])
    weights = {}
    for cell in ordered:
        weights.setdefault(cell.method, cell.info.get("weights_sha256"))
    public_cfg = {k: v for k, v in cfg.items() if k != "_name"}
    ident = {"datasets": [{k: v for k, v in d.items() if not k.startswith("_")} for d in plan.datasets],
             "methods": plan.methods, "tasks": [{k: v for k, v in t.items() if not k.startswith("_")}
                                                 for t in plan.tasks], "seed": plan.seed}
    prov = provenance.collect(
        device, config=_jsonable(public_cfg | {"_name": cfg.get("_name")}), config_hash=stable_hash(ident),
        seed=plan.seed, weights=weights, world_size=world,
        extra={"skipped_datasets": plan.skipped_datasets, "excluded_methods": plan.excluded_methods,
               "data_root": str(Path(opts.data_root).expanduser().resolve()) if opts.data_root else None,
               "cells": {c.key: c.info | {"identity": c.config_hash} for c in ordered},
               "computed": [c.key for c in ordered if c.key in fresh],
               "elapsed_seconds": round(time.perf_counter() - t0, 3)})
    report.results_path = store.write_results(ordered, failures, prov)
    report.failures = failures
    report.computed_keys = [c.key for c in ordered if c.key in fresh]
    if opts.leaderboard:
        report.leaderboard_files = _leaderboard(report.results_path, store.root)
    _summary(report, plan, time.perf_counter() - t0)
    distributed.barrier()
    return report


def _leaderboard(results_path: Path, out_dir: Path) -> dict[str, Path]:
    """Print the Markdown leaderboard and write the leaderboard files; a plain pivot when the
    leaderboard module is unavailable or fails (the results are already safe on disk)."""
    from sagebench.benchmark.results import load_results

    rs = load_results(results_path)
    try:
        from sagebench.benchmark import leaderboard  # written in parallel; optional until it lands
    except ImportError:
        leaderboard = None
    if leaderboard is not None:
        try:
            print(leaderboard.to_markdown(rs))
            return dict(leaderboard.render_all(rs, out_dir))
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
    print(f"[sagebench] done in {seconds:.1f} s: {report.computed - len(report.failures)} cells computed, "
          f"{report.resumed} resumed, {len(report.failures)} failed")
    for f in report.failures:
        print(f"[sagebench]   FAILED {f['dataset']} / {f['method']} / {f['task']}: {f['error']}")
    print(f"[sagebench] results: {report.results_path}")
    for fmt, path in report.leaderboard_files.items():
        print(f"[sagebench] {fmt}: {path}")
