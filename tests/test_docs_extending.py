"""``docs/extending.md`` stays true: its Python blocks run, in order, in one namespace, in a temporary
folder (the registrations they make are removed afterwards)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_every_example_in_extending_md_runs(tmp_path, monkeypatch):
    from sagebench.fusion_models import FUSION_MODELS
    from sagebench.tasks import TASKS
    from sagebench.tasks.metrics import METRICS
    from sagebench.tasks.metrics import _core as metric_core

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6  # method in-tree, out-of-tree, precomputed row, metric, task, dataset layout
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    namespace: dict = {}
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), namespace)  # noqa: S102
    finally:
        FUSION_MODELS.module_dict.pop("docs_weighted", None)
        TASKS.module_dict.pop("docs_count", None)
        METRICS.pop("MeanLevel", None)
        for key in [k for k, v in metric_core._ALIASES.items() if v == "MeanLevel"]:
            del metric_core._ALIASES[key]
