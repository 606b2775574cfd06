"""The results store: cells, results.json schema, load_results and its errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sagebench.benchmark.results import SCHEMA, Cell, ResultSet, RunStore, cell_from_task_result, load_results
from sagebench.errors import DataError
from sagebench.tasks import TaskResult


def _result():
    per_image = pd.DataFrame({"EN": [6.0, 7.0], "SD": [30.0, float("nan")]}, index=["a", "b"])
    return TaskResult("quality", {"EN": 6.5, "SD": float("nan")}, {"EN": "higher", "SD": "higher"}, per_image,
                      {"units": {"EN": "bits"}, "profile": "default"})


def test_cell_from_task_result_records_and_rows():
    cell = cell_from_task_result("M3FD", "avg", "quality", "f" * 64, _result(), {"task_seconds": 1.0})
    assert cell.records[0] == {"dataset": "M3FD", "method": "avg", "task": "quality", "metric": "EN", "value": 6.5,
                               "direction": "higher", "unit": "bits", "meta": {"profile": "default"}}
    assert cell.records[1]["value"] is None  # NaN is stored as null (JSON has no NaN)
    assert len(cell.per_image) == 4 and cell.per_image[0]["image"] == "a"
    assert cell.key == "M3FD--avg--quality--ffffffffffff"


def test_bad_direction_is_rejected():
    r = _result()
    r.directions["EN"] = "up"
    with pytest.raises(ValueError, match="direction of 'EN'"):
        cell_from_task_result("d", "m", "quality", "0" * 64, r)


def test_store_roundtrip_and_load_results(tmp_path):
    store = RunStore(tmp_path)
    cell = cell_from_task_result("D", "m", "quality", "a" * 64, _result(), {"x": 1})
    store.save_cell(cell)
    assert store.load_cell(cell.key).to_json() == cell.to_json()
    assert store.load_cell("absent") is None
    path = store.write_results([cell], [{"dataset": "D", "method": "bad", "task": "quality", "error": "E: boom",
                                        "extra": 1}], {"seed": 0})
    assert list(tmp_path.glob(".*tmp*")) == []  # atomic write left no temporary file
    rs = load_results(tmp_path)  # a run directory works too
    assert rs.path == path
    assert list(rs.records.columns) == ["dataset", "method", "task", "metric", "value", "direction", "unit", "meta"]
    assert rs.records["value"].isna().sum() == 1
    assert list(rs.per_image.columns) == ["dataset", "method", "task", "image", "metric", "value"]
    assert rs.failures.to_dict(orient="records") == [{"dataset": "D", "method": "bad", "task": "quality",
                                                      "error": "E: boom"}]
    assert rs.provenance == {"seed": 0}
    again = ResultSet.from_json(rs.to_json())
    pd.testing.assert_frame_equal(again.records, rs.records)


def test_load_results_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="results file not found"):
        load_results(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="bad.json: not a JSON results file"):
        load_results(bad)
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(DataError, match="bad.json: not a sagebench results file"):
        load_results(bad)
    bad.write_text(json.dumps({"schema": SCHEMA, "records": [
        {"dataset": "d", "method": "m", "task": "t", "metric": "x", "value": 1, "direction": "up"}]}))
    with pytest.raises(DataError, match="direction 'up'"):
        load_results(bad)


def test_corrupt_cell_file_is_an_error(tmp_path):
    store = RunStore(tmp_path)
    store.cells_dir.mkdir()
    (store.cells_dir / "k.json").write_text("{")
    with pytest.raises(DataError, match="k.json: unreadable cell file"):
        store.load_cell("k")
    (store.cells_dir / "k.json").write_text("{}")
    with pytest.raises(DataError, match="not a sagebench cell file"):
        Cell.from_json({}, store.cells_dir / "k.json")
