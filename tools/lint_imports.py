"""Check the import contracts of ``pyproject.toml`` (``[tool.importlinter]``) with ``lint-imports``.

The package's sub-packages live in top-level folders (``fusion_models/``, ``tasks/``, ``benchmark/``;
see ``setup.py``), which import-linter cannot see through an editable install. This script assembles
the installed layout (``sagebench/`` with those folders inside it) from the sources in a temporary folder
and runs ``lint-imports`` there. Exit status: lint-imports' own (0 = every contract kept).

    python tools/lint_imports.py [--repo DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: installed package -> source folder, as in setup.py
ROOTS = {"sagebench": "sagebench", "sagebench/fusion_models": "fusion_models", "sagebench/tasks": "tasks",
         "sagebench/benchmark": "benchmark"}


def assemble(repo: Path, dest: Path) -> Path:
    """Copy the Python sources of ``repo`` into ``dest`` in the installed layout; return ``dest``."""
    for target, folder in ROOTS.items():
        shutil.copytree(repo / folder, dest / target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.json", "*.tsv", "*.html"))
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = p.parse_args(argv)
    repo = args.repo.resolve()
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    with tempfile.TemporaryDirectory(prefix="sagebench-imports-") as tmp:
        assemble(repo, Path(tmp))
        env = dict(os.environ, PYTHONPATH=tmp)
        return subprocess.run([exe, str(repo / "pyproject.toml"), "--no-cache"], cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
