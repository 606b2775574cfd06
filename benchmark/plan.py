"""The plan of a benchmark: a config validated and turned into typed specs and the list of cells.

``make_plan(cfg)`` is the one place a config becomes a :class:`Plan`: :class:`DatasetSpec`,
:class:`MethodSpec`, :class:`TaskSpec` (tasks built once, so argument errors surface before any work and
each instance says what it needs) and :class:`CellSpec` (dataset × method × task, in config order). The
runner executes a plan; ``sagebench leaderboard`` reopens a run's datasets through
:meth:`DatasetSpec.from_config`.

Dataset keys besides those of :func:`sagebench.datasets.open_dataset`: ``name`` (table name), ``limit``
(first N pairs), ``stems`` (exactly these pairs, in this order; a missing one is an error), ``optional``
(skip with a message when the source is missing), ``train_split`` (split fused for tasks that retrain),
``split_file`` (a shipped split such as ``"msrs_official_v1"``, or a split file: ``split``/``train_split``
then pick its parts from a flat copy) and ``split_partial`` (allow a copy that holds only some of a part's
images). ``${VAR}`` in a source (and in a precomputed method's ``root``) is an environment variable;
``${SAGEBENCH_DATA}`` is ``--data-root`` when given.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagebench.benchmark.results import NO_DATASET, cell_key, stable_hash
from sagebench.errors import ConfigError, DataError, SagebenchError
from sagebench.paths import slug

ENV_DATA = "SAGEBENCH_DATA"
DATASET_OWN_KEYS = ("name", "source", "limit", "stems", "optional", "train_split", "split_file", "split_partial")
#: Top-level keys a benchmark config may have (``custom_imports`` is mmengine's: modules imported first).
CONFIG_KEYS = ("datasets", "methods", "tasks", "seed", "regress", "device", "custom_imports", "leaderboard")
#: ``leaderboard = dict(...)``: how the run's tables look (never what they hold); see ``table_style``
LEADERBOARD_KEYS = ("order", "avg_rank", "rank_references", "std", "plots")

_VAR = re.compile(r"\$\{(\w+)\}")


def expand_vars(text: str, data_root: str | os.PathLike | None = None, what: str = "path") -> str:
    """``${VAR}`` (environment; ``${SAGEBENCH_DATA}`` is ``data_root`` when given) and ``~`` expanded in
    ``text``; an unset variable is a :class:`ConfigError` naming it."""
    values = dict(os.environ)
    if data_root:
        values[ENV_DATA] = str(Path(data_root).expanduser().resolve())
    missing = [v for v in _VAR.findall(str(text)) if not values.get(v)]
    if missing:
        hint = " (use --data-root)" if ENV_DATA in missing else ""
        raise ConfigError(f"{what} {text}: environment variable {', '.join(missing)} is not set{hint}")
    return os.path.expanduser(_VAR.sub(lambda m: values[m.group(1)], str(text)))


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


@dataclass(frozen=True)
class DatasetSpec:
    """A configured dataset: its table name, source (as configured and resolved) and how to open it."""

    name: str
    source: str
    resolved: str
    options: dict[str, Any] = field(default_factory=dict)  # open_dataset keyword arguments
    limit: int | None = None
    stems: tuple[str, ...] | None = None
    train_split: str | None = None
    split_file: str | None = None
    split_partial: bool = False
    optional: bool = False

    @classmethod
    def from_config(cls, entry: dict[str, Any], resolved: str) -> DatasetSpec:
        """A dataset entry of a config (``name`` filled in) whose source resolved to ``resolved``."""
        opts = {k: v for k, v in entry.items() if k not in DATASET_OWN_KEYS and not k.startswith("_")}
        limit = entry.get("limit")
        return cls(name=str(entry.get("name", entry["source"])), source=str(entry["source"]), resolved=str(resolved),
                   options=opts, limit=int(limit) if limit is not None else None,
                   stems=tuple(str(x) for x in entry["stems"]) if entry.get("stems") is not None else None,
                   train_split=entry.get("train_split"), split_file=entry.get("split_file"),
                   split_partial=bool(entry.get("split_partial", False)), optional=bool(entry.get("optional")))

    def config(self) -> dict[str, Any]:
        """The entry as configured (without ``optional``), for identities and provenance."""
        out: dict[str, Any] = {"name": self.name, "source": self.source, **self.options}
        for key in ("limit", "train_split", "split_file"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.stems is not None:
            out["stems"] = list(self.stems)
        if self.split_partial:
            out["split_partial"] = True
        return out

    def open(self, split: str | None = None) -> Any:
        """Open the dataset (``split`` overrides the configured one), restricted to a ``split_file``'s part
        and to the first ``limit`` pairs."""
        from sagebench.datasets import open_dataset

        kw = dict(self.options)
        if isinstance(kw.get("size"), list):
            kw["size"] = tuple(kw["size"])
        if split is not None:
            kw["split"] = split
        if self.split_file:  # a flat copy of a dataset whose split is a shipped/versioned list
            from sagebench.datasets.splits import apply_split

            part = kw.pop("split", None)
            if part is None:
                raise ConfigError(f"dataset {self.name!r}: split_file={self.split_file!r} needs split= "
                                  f"(the part to use, e.g. 'test')")
            ds = apply_split(open_dataset(self.resolved, **kw), self.split_file, part,
                             allow_partial=self.split_partial)
        else:
            ds = open_dataset(self.resolved, **kw)
        if self.stems is not None:
            from sagebench.datasets.splits import SplitView

            missing = [s for s in self.stems if s not in ds.names]
            if missing:
                raise DataError(f"dataset {self.name!r}: stems not in {self.resolved}: {', '.join(missing)}")
            view = SplitView(ds, [ds.names.index(s) for s in self.stems], "stems")
            view.name = ds.name
            ds = view
        if self.limit is not None and self.limit < len(ds):
            from sagebench.datasets.splits import SplitView

            view = SplitView(ds, list(range(self.limit)), f":{self.limit}")
            view.name = ds.name  # the first N pairs: same samples, same content hashes
            ds = view
        return ds


@dataclass(frozen=True)
class MethodSpec:
    """A configured method: table name, the fusion-model config (type, arguments, runtime options) and,
    from the entry's ``datasets`` key, the only datasets it runs on (None: all; e.g. published images that
    exist for one set). ``datasets`` is not part of the method's identity: it changes no result."""

    name: str
    config: dict[str, Any]
    datasets: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TaskSpec:
    """A configured task, built once at planning time: its table name, build arguments, resolved settings
    (``Task.config()``, part of every cell's identity) and what the instance needs."""

    name: str
    type: str
    args: dict[str, Any]
    settings: dict[str, Any]
    per_dataset: bool = True
    needs_fused: bool = True
    needs_train: bool = False
    instance: Any = field(default=None, compare=False, repr=False)  # the task built at planning time

    def build(self) -> Any:
        """The task object (built once, when the plan was made; tasks keep no state between cells)."""
        if self.instance is not None:
            return self.instance
        from sagebench.tasks import build_task

        return build_task({"type": self.type, **self.args})

    def config(self) -> dict[str, Any]:
        """The entry as configured."""
        return {"type": self.type, "name": self.name, **self.args}


@dataclass(frozen=True)
class CellSpec:
    """One planned (dataset, method, task) cell. ``config_hash`` covers the configs; the full identity
    (weights, input content, code) is computed when its unit runs (``sagebench.benchmark.identity``)."""

    dataset: str
    method: str
    task: str
    config_hash: str
    ident: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)

    @property
    def key(self) -> str:
        return cell_key(self.dataset, self.method, self.task, self.config_hash)


@dataclass
class Plan:
    """The normalised benchmark: datasets, methods, tasks, the seed and the cells (config order)."""

    datasets: list[DatasetSpec]
    methods: list[MethodSpec]
    tasks: list[TaskSpec]
    seed: int
    skipped_datasets: list[str] = field(default_factory=list)
    excluded_methods: list[str] = field(default_factory=list)
    cells: list[CellSpec] = field(default_factory=list)

    def dataset(self, name: str) -> DatasetSpec:
        return next(d for d in self.datasets if d.name == name)

    def method(self, name: str) -> MethodSpec:
        return next(m for m in self.methods if m.name == name)

    def task(self, name: str) -> TaskSpec:
        return next(t for t in self.tasks if t.name == name)

    def identity(self) -> dict[str, Any]:
        """What the whole plan is (its hash is the run's ``config_hash`` in the provenance)."""
        return {"datasets": [d.config() for d in self.datasets],
                "methods": [{"name": m.name, **m.config} for m in self.methods],
                "tasks": [t.config() for t in self.tasks], "seed": self.seed}


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


def table_style(entry: Any) -> dict[str, Any]:
    """The config's ``leaderboard`` entry (``order``: rank | config | a metric; ``avg_rank``,
    ``rank_references``, ``std``, ``plots``: booleans) as keywords (``plots`` is ``render_all``'s, the rest
    ``build_leaderboards``'); ConfigError for a bad one."""
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise ConfigError(f"config: leaderboard must be a dict of {', '.join(LEADERBOARD_KEYS)}, got {entry!r}")
    for k, v in entry.items():
        if k not in LEADERBOARD_KEYS:
            raise ConfigError(f"config: leaderboard: unknown key {k!r}{_did_you_mean(k, LEADERBOARD_KEYS)} "
                              f"(known: {', '.join(LEADERBOARD_KEYS)})")
        if k == "order" and not (isinstance(v, str) and v):
            raise ConfigError(f"config: leaderboard.order must be 'rank', 'config' or a metric name, got {v!r}")
        if k != "order" and not isinstance(v, bool):
            raise ConfigError(f"config: leaderboard.{k} must be True or False, got {v!r}")
    return dict(entry)


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
    table_style(cfg.get("leaderboard"))
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
        if d.get("stems") is not None and (not isinstance(d["stems"], (list, tuple)) or not d["stems"]
                                           or len(set(map(str, d["stems"]))) != len(d["stems"])):
            raise ConfigError(f"config: {where}: stems must be a non-empty list of distinct pair names")
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
    """Validate a config and enumerate its cells (in config order: dataset, method, task)."""
    from sagebench.tasks import TASKS, build_task

    validate_config(cfg)
    methods_cfg, excluded = cfg["methods"], []
    if methods_cfg == "auto":
        methods_cfg, excluded = auto_methods(weights_dir)
    tasks = []
    for t in _named(cfg["tasks"], "tasks"):
        if TASKS.get(t["type"]) is None:
            raise ConfigError(f"config: unknown task {t['type']!r}{_did_you_mean(t['type'], TASKS.module_dict)}; "
                              f"registered: {', '.join(sorted(TASKS.module_dict))}")
        args = {k: v for k, v in t.items() if k not in ("name", "type")}
        try:  # validate arguments now, not after fusing everything; config() is part of the cell identity
            task = build_task({"type": t["type"], **args})
            settings = jsonable(task.config())
        except Exception as exc:
            raise ConfigError(f"config: task {t['name']!r}: {type(exc).__name__}: {exc}") from exc
        # what the task needs is declared per instance (a downstream task with a checkpoint needs no train split)
        tasks.append(TaskSpec(name=t["name"], type=t["type"], args=args, settings=settings,
                              per_dataset=bool(task.per_dataset), needs_fused=bool(task.needs_fused),
                              needs_train=bool(task.needs_train_split), instance=task))
    dataset_names = [d["name"] for d in _named(cfg["datasets"], "datasets", name_key="source")]
    methods = []
    for m in _named(methods_cfg, "methods"):
        only = m.get("datasets")
        if only is not None:
            if not isinstance(only, (list, tuple)) or not only:
                raise ConfigError(f"config: method {m['name']!r}: datasets must be a non-empty list of dataset names")
            unknown = [x for x in only if x not in dataset_names]
            if unknown:
                raise ConfigError(f"config: method {m['name']!r}: datasets {unknown} are not in the config's "
                                  f"datasets ({', '.join(dataset_names)})")
        methods.append(MethodSpec(m["name"], {k: v for k, v in m.items() if k not in ("name", "datasets")},
                                  tuple(only) if only is not None else None))
    plan = Plan(datasets=[], methods=methods,
                tasks=tasks, seed=_check_int(cfg.get("seed", 0), "seed"), excluded_methods=excluded)
    for d in _named(cfg["datasets"], "datasets", name_key="source"):
        resolved, why = resolve_source(d["source"], data_root)
        if resolved is None:
            if d.get("optional"):
                plan.skipped_datasets.append(f"{d['name']}: {why}")
                continue
            raise ConfigError(f"dataset {d['name']!r}: {why} (mark it optional=True to skip instead)")
        plan.datasets.append(DatasetSpec.from_config(d, resolved))

    device_type = device.split(":")[0]  # not the index: every rank must plan the same cells
    for m in plan.methods:
        for t in plan.tasks:
            for d in plan.datasets if t.per_dataset else [None]:
                if d is not None and m.datasets is not None and d.name not in m.datasets:
                    continue
                ident = {"dataset": d.config() | {"source": d.resolved} if d else None, "method": m.config,
                         "task": t.config(), "task_config": t.settings, "seed": plan.seed,
                         "device_type": device_type}
                plan.cells.append(CellSpec(d.name if d else NO_DATASET, m.name, t.name, stable_hash(ident), ident))
    order = {d.name: i for i, d in enumerate(plan.datasets)} | {NO_DATASET: len(plan.datasets)}
    plan.cells.sort(key=lambda c: order[c.dataset])  # stable: method, task order kept per dataset
    return plan


def open_configured(entry: dict[str, Any], split: str | None = None, *,
                    data_root: str | os.PathLike | None = None) -> Any:
    """Open a dataset entry of a config (its source resolved here); ``split`` overrides the entry's."""
    resolved, why = resolve_source(entry["source"], data_root)
    if resolved is None:
        raise ConfigError(f"dataset {entry.get('name', entry['source'])!r}: {why}")
    return DatasetSpec.from_config(entry, resolved).open(split)


def jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))
