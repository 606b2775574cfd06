"""The results store: one JSON file per finished cell, aggregated into ``results.json``.

A run directory ``OUT/`` holds

* ``cells/<key>.json``: one file per finished (dataset, method, task) cell, written atomically the moment
  the cell finishes. A killed run resumes by skipping the cells whose file exists (and whose config hash
  matches); failed cells get no file, so a rerun retries them.
* ``results.json``: everything aggregated, in config order, with schema ``sagebench.results/1``::

    {"schema": "sagebench.results/1",
     "provenance": {...},
     "records":   [{"dataset", "method", "task", "metric", "value", "direction", "unit", "meta"}],
     "per_image": [{"dataset", "method", "task", "image", "metric", "value"}],
     "failures":  [{"dataset", "method", "task", "error"}]}

  ``direction`` is ``"higher"`` or ``"lower"`` (which is better). Tasks that do not depend on a dataset
  (throughput) use the dataset name :data:`NO_DATASET` (``"-"``).

:func:`load_results` reads a ``results.json`` (or a run directory) into a :class:`ResultSet` whose
``records`` and ``per_image`` are pandas DataFrames with the columns above.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagebench.errors import ConfigError, DataError
from sagebench.io import write_json
from sagebench.paths import check_name, inside, slug

__all__ = ["CELL_SCHEMA", "NO_DATASET", "SCHEMA", "Cell", "ResultSet", "RunStore", "cell_from_task_result",
           "cell_key", "load_results", "slug", "stable_hash"]

SCHEMA = "sagebench.results/1"
CELL_SCHEMA = "sagebench.cell/1"
#: Dataset name of records that do not depend on a dataset (e.g. throughput).
NO_DATASET = "-"
RECORD_COLUMNS = ["dataset", "method", "task", "metric", "value", "direction", "unit", "meta"]
PER_IMAGE_COLUMNS = ["dataset", "method", "task", "image", "metric", "value"]
FAILURE_COLUMNS = ["dataset", "method", "task", "error"]


def stable_hash(obj: Any, length: int = 64) -> str:
    """sha256 hex (truncated to ``length``) of a JSON-serialisable object with sorted keys."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def cell_key(dataset: str, method: str, task: str, config_hash: str) -> str:
    """File stem of a cell: readable names plus 12 hex digits of the cell's config hash."""
    return f"{slug(dataset)}--{slug(method)}--{slug(task)}--{config_hash[:12]}"


def _clean_value(v: Any) -> float | None:
    """JSON has no NaN/inf: non-finite values are stored as ``null`` (``None``)."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


@dataclass
class Cell:
    """The finished result of one (dataset, method, task) cell, as stored in ``cells/<key>.json``.

    Attributes:
        dataset, method, task: names as they appear in result tables.
        config_hash: hash of everything that defines the cell (dataset/method/task configs, seed).
        records: complete result records (see module docstring), so cells concatenate as they are.
        per_image: per-image rows.
        info: facts about how the cell was computed that are not results (timings, fused-image folder,
            dataset fingerprint). Excluded from comparisons.
    """

    dataset: str
    method: str
    task: str
    config_hash: str
    records: list[dict[str, Any]] = field(default_factory=list)
    per_image: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return cell_key(self.dataset, self.method, self.task, self.config_hash)

    def to_json(self) -> dict[str, Any]:
        return {"schema": CELL_SCHEMA, "dataset": self.dataset, "method": self.method, "task": self.task,
                "config_hash": self.config_hash, "records": self.records, "per_image": self.per_image,
                "info": self.info}

    @classmethod
    def from_json(cls, obj: dict[str, Any], path: Path | None = None) -> Cell:
        if obj.get("schema") != CELL_SCHEMA:
            raise DataError(f"{path}: not a sagebench cell file (schema {obj.get('schema')!r})")
        return cls(dataset=obj["dataset"], method=obj["method"], task=obj["task"],
                   config_hash=obj["config_hash"], records=obj["records"], per_image=obj["per_image"],
                   info=obj.get("info", {}))


def cell_from_task_result(dataset: str, method: str, task: str, config_hash: str, result: Any,
                          info: dict[str, Any] | None = None) -> Cell:
    """Turn a :class:`sagebench.tasks.base.TaskResult` into a :class:`Cell`.

    Units come from ``result.meta['units']`` (metric -> unit string); directions from
    ``result.directions`` (default ``"higher"``). The record ``meta`` is the task's ``meta`` without
    ``units``. Per-image rows come from ``result.per_image`` (index = image stem, columns = metrics).
    """
    meta = dict(result.meta or {})
    units = meta.pop("units", {}) or {}
    records = []
    for metric, value in result.summary.items():
        direction = result.directions.get(metric, "higher")
        if direction not in ("higher", "lower"):
            raise ValueError(f"task {task!r}: direction of {metric!r} must be 'higher' or 'lower', got {direction!r}")
        records.append({"dataset": dataset, "method": method, "task": task, "metric": str(metric),
                        "value": _clean_value(value), "direction": direction,
                        "unit": str(units.get(metric, "")), "meta": meta})
    rows = []
    df = result.per_image
    if df is not None and len(df):
        for image, row in df.iterrows():
            for metric, value in row.items():
                rows.append({"dataset": dataset, "method": method, "task": task, "image": str(image),
                             "metric": str(metric), "value": _clean_value(value)})
    return Cell(dataset, method, task, config_hash, records, rows, dict(info or {}))


class RunStore:
    """The one owner of a run folder's layout; every path it hands out or deletes is checked to lie inside.

    ::

        OUT/.sagebench-run                       # marks the folder as a run folder (see open())
        OUT/.lock                                # held while a run writes the folder
        OUT/cells/<key>.json                     # one per finished cell
        OUT/results.json                         # the aggregate
        OUT/fused/<dataset>[@<split>]/<method>/<stem>.png
        OUT/work/<dataset>/<method>/<task>/      # a cell's private files (downstream checkpoints ...)
        OUT/reference/<dataset>/<task>/<key>/    # shared by a task's cells (frozen-protocol reference)
        OUT/leaderboard/                         # tables and plots

    Names become folder names through :func:`sagebench.paths.slug`, the package's only slug.
    """

    MARKER = ".sagebench-run"

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir)
        self.cells_dir = self.root / "cells"
        self.results_path = self.root / "results.json"
        self.lock_path = self.root / ".lock"
        self._lock = None

    # ------------------------------------------------------------------ the folder
    def prepare(self) -> None:
        """Create the run folder, or check that an existing one is a run folder.

        Raises:
            ConfigError: ``OUT`` is a file, or a non-empty folder that no sagebench run made (it holds
                neither the marker, nor ``cells/``, nor ``results.json``), so nothing in it is touched.
        """
        root = self.root
        if root.exists() and not root.is_dir():
            raise ConfigError(f"{root}: is a file; the output (-o) must be a folder")
        if root.is_dir() and any(root.iterdir()):
            # another run may be creating the folder right now: its lock file or the marker's temporary file
            ours = {self.MARKER, self.lock_path.name}
            being_made = all(p.name in ours or p.name.startswith(f".{self.MARKER}.") for p in root.iterdir())
            known = (being_made or (root / self.MARKER).is_file() or self.cells_dir.is_dir()
                     or self.results_path.is_file())
            if not known:
                raise ConfigError(f"{root}: not empty and not a sagebench run folder (no {self.MARKER}); choose a "
                                  "new or empty folder for -o")
        root.mkdir(parents=True, exist_ok=True)
        if not (root / self.MARKER).is_file():
            from sagebench.io import write_text

            write_text(root / self.MARKER, "sagebench run folder\n")

    def lock(self) -> None:
        """Take the run folder's lock (a second run on the same folder stops with a clear message)."""
        from filelock import FileLock, Timeout

        self.prepare()
        lock = FileLock(str(self.lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(f"{self.root}: another sagebench run is writing this folder (lock {self.lock_path}); "
                              "wait for it to finish or choose another -o") from None
        self._lock = lock

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def path(self, *parts: str, what: str = "run file") -> Path:
        """``OUT/<parts...>`` after checking it stays inside ``OUT``."""
        return inside(self.root, Path(*parts), what=what)

    # ------------------------------------------------------------------ layout
    def fused_dir(self, dataset: str, method: str, split: str | None = None) -> Path:
        folder = dataset if split is None else f"{dataset}@{split}"
        return self.path("fused", slug(folder), slug(method), what="fused-image folder")

    def fused_root(self, dataset: str) -> Path:
        return self.path("fused", slug(dataset), what="fused-image folder")

    def work_dir(self, dataset: str, method: str, task: str) -> Path:
        return self.path("work", slug(dataset), slug(method), slug(task), what="work folder")

    def reference_dir(self, dataset: str, task: str, key: str) -> Path:
        return self.path("reference", slug(dataset), slug(task), slug(key)[:16], what="reference folder")

    def leaderboard_dir(self) -> Path:
        return self.path("leaderboard", what="leaderboard folder")

    def cell_path(self, key: str) -> Path:
        return self.path("cells", f"{check_name(key, 'cell key')}.json", what="cell file")

    # ------------------------------------------------------------------ cells
    def load_cell(self, key: str) -> Cell | None:
        """The stored cell ``key``, or None when absent. A corrupt file raises :class:`DataError`."""
        path = self.cell_path(key)
        if not path.is_file():
            return None
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: unreadable cell file ({exc}); delete it to recompute the cell") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{path}: not a sagebench cell file; delete it to recompute the cell")
        return Cell.from_json(obj, path)

    def save_cell(self, cell: Cell) -> Path:
        """Write ``cells/<key>.json`` atomically and remove the same cell's files of other identities."""
        path = write_json(self.cell_path(cell.key), cell.to_json())
        prefix = cell.key[: -len(cell.config_hash[:12])]
        for other in self.cells_dir.glob(f"{prefix}*.json"):
            if other.name == path.name:
                continue
            try:
                obj = json.loads(other.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict) and (obj.get("dataset"), obj.get("method"), obj.get("task")) == (
                    cell.dataset, cell.method, cell.task):
                inside(self.cells_dir, other.name, what="stale cell file").unlink(missing_ok=True)
        return path

    def write_results(self, cells: list[Cell], failures: list[dict[str, Any]],
                      provenance: dict[str, Any]) -> Path:
        """Aggregate ``cells`` (already in the desired order) into ``results.json``, atomically."""
        obj = {
            "schema": SCHEMA,
            "provenance": provenance,
            "records": [r for c in cells for r in c.records],
            "per_image": [r for c in cells for r in c.per_image],
            "failures": [{k: f[k] for k in FAILURE_COLUMNS} for f in failures],
        }
        return write_json(self.path("results.json"), obj)


@dataclass
class ResultSet:
    """A loaded ``results.json``.

    Attributes:
        records: DataFrame with columns ``dataset, method, task, metric, value, direction, unit, meta``.
        per_image: DataFrame with columns ``dataset, method, task, image, metric, value``.
        failures: DataFrame with columns ``dataset, method, task, error``.
        provenance: the run's provenance dict.
        path: the file it was read from (None when built in memory).
    """

    records: Any
    per_image: Any
    failures: Any
    provenance: dict[str, Any]
    path: Path | None = None
    #: the record values as stored (before conversion to float), for strict checks such as the gate's
    raw_values: list[Any] | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any], path: Path | None = None) -> ResultSet:
        import pandas as pd

        if obj.get("schema") != SCHEMA:
            raise DataError(f"{path}: not a sagebench results file (schema {obj.get('schema')!r}, "
                            f"expected {SCHEMA!r})")
        for key in ("records", "per_image", "failures"):
            if not isinstance(obj.get(key, []), list):
                raise DataError(f"{path}: {key!r} must be a list")
        try:
            records = pd.DataFrame(obj.get("records", []), columns=RECORD_COLUMNS)
            per_image = pd.DataFrame(obj.get("per_image", []), columns=PER_IMAGE_COLUMNS)
            failures = pd.DataFrame(obj.get("failures", []), columns=FAILURE_COLUMNS)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: malformed results ({exc})") from exc
        raw_values = records["value"].tolist()
        records["value"] = pd.to_numeric(records["value"], errors="coerce").astype(float)
        per_image["value"] = pd.to_numeric(per_image["value"], errors="coerce").astype(float)
        bad = records[~records["direction"].isin(["higher", "lower"])]
        if len(bad):
            raise DataError(f"{path}: record {bad.iloc[0][['dataset', 'method', 'task', 'metric']].tolist()} "
                            f"has direction {bad.iloc[0]['direction']!r}; expected 'higher' or 'lower'")
        out = cls(records, per_image, failures, dict(obj.get("provenance", {})), path)
        out.raw_values = raw_values
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``results.json`` object (inverse of :meth:`from_json`)."""
        def rows(df):
            out = df.to_dict(orient="records")
            for r in out:
                if "value" in r:
                    r["value"] = _clean_value(r["value"])
            return out

        return {"schema": SCHEMA, "provenance": self.provenance, "records": rows(self.records),
                "per_image": rows(self.per_image), "failures": rows(self.failures)}


def load_results(path: str | os.PathLike) -> ResultSet:
    """Read ``results.json`` (or a run directory containing it) into a :class:`ResultSet`.

    Raises :class:`DataError` naming the file when it is missing, not JSON, or not schema
    ``sagebench.results/1``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise DataError(f"{path}: results file not found")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a JSON results file ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a sagebench results file (top level is {type(obj).__name__})")
    return ResultSet.from_json(obj, path)
