"""One CLI vocabulary, and terminal output that fits the terminal (``COLUMNS=100``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TINY = ("datasets = [dict(name='night', source='synthetic:night', n=2, seed=0, size=(48, 64))]\n"
        "methods = ['average', 'max_abs']\n"
        "tasks = [dict(type='quality', metrics=['EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'CC', 'PSNR', 'Qabf', 'SSIM']),\n"
        "         dict(type='throughput', resolution='64x48', warmup=1, repeats=2)]\n")


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, COLUMNS="100", SAGEBENCH_HOME=str(cwd / "home"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "sagebench.benchmark.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=300)


def widest(p: subprocess.CompletedProcess) -> int:
    return max(len(line) for line in (p.stdout + p.stderr).splitlines())


def test_models_run_and_eval_fit_100_columns(tmp_path, shared_dir):
    (tmp_path / "tiny.py").write_text(TINY)
    models = cli("models", "--weights-dir", str(shared_dir / "weights"), cwd=tmp_path)
    assert models.returncode == 0 and widest(models) <= 100
    run = cli("run", "tiny.py", "-o", "out", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert widest(run) <= 100, max((run.stdout + run.stderr).splitlines(), key=len)
    fused = cli("fuse", "--model", "average", "--data", "synthetic:night", "--out", "f", "--no-progress",
                cwd=tmp_path)
    assert fused.returncode == 0
    ev = cli("eval", "--fused", "f", "--data", "synthetic:night", "--metrics", "EN,SD,SF,AG,MI,SCD,CC,PSNR,Qabf,SSIM",
             "--no-progress", cwd=tmp_path)
    assert ev.returncode == 0 and widest(ev) <= 100, ev.stdout
    listing = cli("eval", "--list", "--profile", "cddfuse", cwd=tmp_path)
    assert listing.returncode == 0 and widest(listing) <= 100
    assert "Failed to import" not in run.stderr  # mmengine's scope noise is gone


def test_models_with_no_match_exits_1(tmp_path):
    p = cli("models", "zz*", cwd=tmp_path)
    assert p.returncode == 1 and "no registered method matches 'zz*'" in p.stderr


def test_eval_takes_ir_vis_pattern_and_csv(tmp_path, shared_dir):
    ref = shared_dir / "reference"
    p = cli("eval", "--fused", str(ref / "seafusion" / "vifb"), "--ir", str(ref / "inputs" / "vifb" / "ir"),
            "--vis", str(ref / "inputs" / "vifb" / "vis"), "--pattern", "{stem}_SeAFusion.jpg", "--metrics", "EN",
            "--csv", "scores.csv", "--no-progress", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    import pandas as pd

    assert sorted(pd.read_csv(tmp_path / "scores.csv")["image"]) == ["carLight", "fight"]
    assert (tmp_path / "scores_summary.csv").is_file()


def test_threads_is_one_option_for_every_command():
    from sagebench.benchmark.cli import build_parser, main

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("run", "fuse", "eval", "models", "leaderboard", "train", "validate", "gpu-report"):
        assert any(o == "--threads" for a in sub.choices[name]._actions for o in a.option_strings), name
    old = torch.get_num_threads()
    try:
        assert main(["models", "average", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
        assert main(["models", "--threads", "0"]) == 1
    finally:
        torch.set_num_threads(old)


def test_validate_prints_the_plan_and_what_would_be_recomputed(tmp_path):
    (tmp_path / "tiny.py").write_text(TINY)
    before = cli("validate", "tiny.py", "-o", "out", cwd=tmp_path)
    assert before.returncode == 0 and "0 stored (would be resumed), 4 to compute" in before.stdout
    assert cli("run", "tiny.py", "-o", "out", "--no-progress", "--no-leaderboard", cwd=tmp_path).returncode == 0
    after = cli("validate", "tiny.py", "-o", "out", cwd=tmp_path)
    assert "4 stored (would be resumed), 0 to compute" in after.stdout
    (tmp_path / "bad.py").write_text(TINY.replace("'max_abs'", "dict(type='sage_student', weights='missing.pt')"))
    bad = cli("validate", "bad.py", "-o", "out2", cwd=tmp_path)
    assert bad.returncode == 1 and "would fail" in bad.stdout and widest(bad) <= 100


@pytest.mark.parametrize("command", ["run", "fuse", "eval", "models", "leaderboard"])
def test_include_is_accepted_everywhere(command):
    from sagebench.benchmark.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert any("--include" in a.option_strings for a in sub.choices[command]._actions)


def test_an_image_too_small_for_a_metric_is_one_line(tmp_path):
    assert cli("fuse", "--model", "average", "--data", "synthetic:night", "--out", "f", "--no-progress",
               cwd=tmp_path).returncode == 0
    p = cli("eval", "--fused", "f", "--data", "synthetic:night", "--metrics", "MS-SSIM", "--no-progress", cwd=tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "MS-SSIM needs images of at least 161 x 161 pixels" in p.stderr


def test_library_noise_of_tasks_goes_to_the_cells_log_not_the_terminal(tmp_path, capsys):
    import logging
    import warnings

    from sagebench.benchmark.runner import RunOptions, run_benchmark
    from sagebench.tasks import TASKS, Task, TaskResult

    class Noisy(Task):
        name = "_noisy"

        def evaluate(self, ctx):
            print("loading annotations into memory...")
            warnings.warn("a deprecation nobody asked for", DeprecationWarning, stacklevel=1)
            logging.getLogger("mmengine").warning("Failed to import something")
            return TaskResult(self.name, {"x": 1.0}, {"x": "higher"})

    TASKS.register_module(name="_noisy", module=Noisy, force=True)
    try:
        cfg = dict(datasets=[dict(name="n", source="synthetic:night", n=1, size=(48, 64))], methods=["average"],
                   tasks=[dict(type="_noisy")], _name="t")
        for verbose in (False, True):
            run_benchmark(cfg, RunOptions(out_dir=tmp_path / f"o{verbose}", cache_dir=tmp_path / "c", progress=False,
                                          leaderboard=False, resume=False, verbose=verbose))
            shown = capsys.readouterr()
            noise = "loading annotations" in shown.out + shown.err
            assert noise == verbose
        log = (tmp_path / "oFalse" / "work" / "n" / "average" / "noisy" / "task.log").read_text()  # slug("_noisy")
        assert "loading annotations" in log and "deprecation nobody asked for" in log and "Failed to import" in log
    finally:
        TASKS.module_dict.pop("_noisy", None)
