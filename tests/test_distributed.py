"""``sagebench run`` under ``torchrun`` (2 CPU processes, gloo) gives the results of a single process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_runner import TESTS, TINY, _test_components, assert_same, comparable, write_config  # noqa: F401

from sagebench.benchmark.cli import main
from sagebench.benchmark.distributed import shard
from sagebench.benchmark.results import load_results


def test_shard_is_a_deterministic_partition():
    items = list(range(7))
    parts = [shard(items, r, 3) for r in range(3)]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(sum(parts, [])) == items


def test_two_gloo_ranks_match_a_single_process(tmp_path):
    cfg = dict(TINY, tasks=[*TINY["tasks"], dict(type="throughput", resolution="32x24", warmup=1, repeats=1)])
    cfg_file = write_config(tmp_path / "tiny.py", cfg)
    script = tmp_path / "launch.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_runner; test_runner.register()\n"
                      "from sagebench.benchmark.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
         "run", str(cfg_file), "-o", str(tmp_path / "dist"), "--cache-dir", str(tmp_path / "cache_d"),
         "--no-progress", "--no-leaderboard", "--device", "cpu"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "on 2 ranks" in proc.stdout
    assert main(["run", str(cfg_file), "-o", str(tmp_path / "single"), "--cache-dir", str(tmp_path / "cache_s"),
                 "--no-progress", "--no-leaderboard", "--device", "cpu"]) == 0
    dist = load_results(tmp_path / "dist")
    assert dist.provenance["world_size"] == 2
    # both ranks did work, and together fused every (dataset, method) unit once
    assert {c["rank"] for c in dist.provenance["cells"].values()} == {0, 1}
    assert len(list(Path(tmp_path / "dist" / "fused").glob("*/*/*.png"))) == (3 + 2) * 3
    assert set(dist.records["task"]) == {"_test_stats", "throughput"}
    assert_same(comparable(tmp_path / "dist" / "results.json"), comparable(tmp_path / "single" / "results.json"))
