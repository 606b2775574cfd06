"""The one-way layers (core -> fusion_models -> tasks -> benchmark -> CLI) are an import-linter contract
(``pyproject.toml``), checked by ``tools/lint_imports.py`` in ``tox -e lint`` and ``.ci/run``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "lint_imports.py"


def lint(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "--repo", str(repo)], capture_output=True, text=True,
                          timeout=300)


def copy_sources(dest: Path) -> Path:
    for folder in ("sagebench", "fusion_models", "tasks", "benchmark"):
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_repository_keeps_its_layers():
    p = lint(REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 kept, 0 broken" in p.stdout


@pytest.mark.parametrize("module, upward", [
    ("sagebench/io.py", "from sagebench.benchmark import runner"),            # core -> benchmark
    ("fusion_models/base.py", "from sagebench.tasks import base"),           # fusion_models -> tasks
    ("tasks/quality.py", "from sagebench.benchmark.results import slug"),    # tasks -> benchmark
    ("benchmark/runner.py", "from sagebench.benchmark.commands import run"),  # benchmark -> CLI
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward):
    repo = copy_sources(tmp_path)
    with open(repo / module, "a", encoding="utf-8") as f:
        f.write(f"\n\ndef _upward():\n    {upward}  # noqa: F401\n")  # even inside a function
    p = lint(repo)
    assert p.returncode != 0, p.stdout
    assert "BROKEN" in p.stdout.upper() and "is not allowed to import" in p.stdout
