"""pytest-benchmark: ``sagebench run`` end to end, the quickstart from an empty run folder and cache, then
its rerun with every cell done (answered from the stored results, see sagebench.benchmark.rerun). Each round
is a fresh process (the command as a user runs it: importing torch is part of the cost).

    pytest tests/test_bench_quickstart.py -m slow --benchmark-enable --benchmark-columns=min,median,rounds
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # seconds per round; run explicitly (see above)


def _command(out: Path, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SAGEBENCH_WEIGHTS_DIR"}  # the quickstart as shipped
    env["SAGEBENCH_HOME"] = str(home)
    cmd = [sys.executable, "-c", "from sagebench.benchmark.cli import console_main; raise SystemExit(console_main())"]
    proc = subprocess.run([*cmd, "run", "-o", str(out), "--no-progress"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.benchmark(group="quickstart")
def test_bench_quickstart_first_run(benchmark, tmp_path):
    def setup():
        for d in ("out", "home"):
            shutil.rmtree(tmp_path / d, ignore_errors=True)
        return (tmp_path / "out", tmp_path / "home"), {}

    benchmark.pedantic(_command, setup=setup, rounds=3, warmup_rounds=0)
    assert (tmp_path / "out" / "results.json").is_file()


@pytest.mark.benchmark(group="quickstart")
def test_bench_quickstart_rerun(benchmark, tmp_path):
    out, home = tmp_path / "out", tmp_path / "home"
    _command(out, home)
    benchmark.pedantic(_command, args=(out, home), rounds=5, warmup_rounds=1)
