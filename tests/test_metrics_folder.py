"""evaluate_folder, the ``quality`` task and ``sagebench eval`` on a small folder dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sagebench.benchmark.cli import main
from sagebench.errors import DataError
from sagebench.io import read_image, to_tensor
from sagebench.tasks import TaskContext, build_task
from sagebench.tasks.metrics import DEFAULT_METRICS, compute_metrics, evaluate_folder

H, W = 168, 176
STEMS = ("a01", "b02")


@pytest.fixture()
def folders(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    for d in ("data/ir", "data/vis", "fused"):
        (tmp_path / d).mkdir(parents=True)
    for k, stem in enumerate(STEMS):
        ir = np.clip(80 + 60 * np.sin(xx / (7 + k)) + rng.normal(0, 10, (H, W)), 0, 255).astype(np.uint8)
        vis = np.clip(np.stack([yy * 1.2, xx, (xx + yy) / 2], -1) + rng.normal(0, 8, (H, W, 3)), 0, 255)
        vis = vis.astype(np.uint8)
        Image.fromarray(ir).save(tmp_path / "data/ir" / f"{stem}.png")
        Image.fromarray(vis).save(tmp_path / "data/vis" / f"{stem}.png")
        grey = vis.astype(float) @ [0.299, 0.587, 0.114]
        fused = np.clip(np.round((ir + grey) / 2), 0, 255).astype(np.uint8)
        Image.fromarray(fused).save(tmp_path / "fused" / f"{stem}.png")
    return tmp_path


def test_evaluate_folder_matches_compute_metrics(folders):
    df = evaluate_folder(folders / "fused", str(folders / "data"), metrics=["EN", "MI", "SSIM", "Nabf"],
                         profile="ivif_zoo")
    assert list(df.index) == list(STEMS) and list(df.columns) == ["EN", "MI", "SSIM", "Nabf"]
    assert df.attrs["profile"] == "ivif_zoo" and df.attrs["units"]["MI"] == "bits"
    assert df.attrs["directions"]["Nabf"] == "lower"
    for stem in STEMS:
        f = to_tensor(read_image(folders / "fused" / f"{stem}.png"))[None]
        a = to_tensor(read_image(folders / "data/ir" / f"{stem}.png"))[None]
        b = to_tensor(read_image(folders / "data/vis" / f"{stem}.png"))[None]
        ref = compute_metrics(f, a, b, metrics=["EN", "MI", "SSIM", "Nabf"], profile="ivif_zoo")
        for k, v in ref.items():
            assert df.loc[stem, k] == pytest.approx(float(v[0]), rel=1e-14)


def test_missing_fused_image_is_named(folders):
    (folders / "fused" / "b02.png").unlink()
    with pytest.raises(DataError, match="b02.png"):
        evaluate_folder(folders / "fused", str(folders / "data"), metrics=["EN"])


def test_size_mismatch_is_an_error(folders):
    Image.fromarray(np.zeros((H - 2, W), np.uint8)).save(folders / "fused" / "a01.png")
    with pytest.raises(DataError, match="a01"):
        evaluate_folder(folders / "fused", str(folders / "data"), metrics=["EN"])


def test_quality_task(folders):
    from sagebench.datasets import open_dataset

    task = build_task(dict(type="quality", metrics=["EN", "PSNR", "Qabf"], profile="cddfuse"))
    ds = open_dataset(folders / "data")
    res = task.evaluate(TaskContext(method="mean", dataset=ds, fused_dir=folders / "fused"))
    assert res.task == "quality" and set(res.summary) == {"EN", "PSNR", "Qabf"}
    assert res.summary["EN"] == pytest.approx(res.per_image["EN"].mean(), rel=1e-14)
    assert res.directions == {"EN": "higher", "PSNR": "higher", "Qabf": "higher"}
    assert res.meta["profile"] == "cddfuse" and res.meta["units"]["PSNR"] == "dB"
    assert task.config()["settings"]["PSNR"]["variant"] == "cdd"


def test_cli_eval_writes_tables(folders, capsys):
    out = folders / "res" / "scores.csv"
    import torch

    before = torch.get_num_threads()
    try:
        rc = main(["eval", "--fused", str(folders / "fused"), "--data", str(folders / "data"), "--metrics", "EN,SD",
                   "VIF", "--out", str(out), "--no-progress", "--threads", "1"])
    finally:
        torch.set_num_threads(before)
    assert rc == 0
    df = pd.read_csv(out, index_col=0)
    assert list(df.index) == list(STEMS) and list(df.columns) == ["EN", "SD", "VIF"]
    summ = pd.read_csv(folders / "res" / "scores_summary.csv", index_col=0)
    assert float(summ.loc["mean", "EN"]) == pytest.approx(df["EN"].mean(), rel=1e-9)
    assert summ.loc["better", "EN"] == "higher"
    text = capsys.readouterr().out
    assert "a01" in text and "mean" in text and "std" in text


def test_cli_eval_errors(folders, capsys):
    assert main(["eval", "--fused", str(folders / "nope"), "--data", str(folders / "data")]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["eval", "--fused", str(folders / "fused"), "--data", str(folders / "data"),
                 "--metrics", "XYZ"]) == 1
    assert "unknown metric" in capsys.readouterr().err
    assert main(["eval", "--list", "--profile", "ivif_zoo"]) == 0
    listing = capsys.readouterr().out
    assert all(n in listing for n in DEFAULT_METRICS)


@pytest.mark.parametrize("fmt", ["md", "latex"])
def test_cli_eval_paper_table(folders, capsys, fmt):
    """``eval --format md|latex`` writes one row of mean ± sample std per metric, with the profile stated and
    the metrics not native to it marked."""
    table = folders / ("t.md" if fmt == "md" else "t.tex")
    rc = main(["eval", "--fused", str(folders / "fused"), "--data", str(folders / "data"), "--metrics", "EN,Nabf",
               "--profile", "cddfuse", "--table", str(table), "--name", "Avg (ours)", "--no-progress"])
    assert rc == 0
    df = evaluate_folder(folders / "fused", str(folders / "data"), metrics=["EN", "Nabf"], profile="cddfuse")
    en_mean, en_std = df["EN"].mean(), df["EN"].std(ddof=1)
    text = table.read_text()
    pm = " ± " if fmt == "md" else r" $\pm$ "
    assert f"{en_mean:.3f}{pm}{en_std:.3f}" in text
    assert "Metric profile: cddfuse" in text and "Avg (ours)" in text
    star = r"Nabf\*" if fmt == "md" else r"Nabf$^{*}$"
    assert star in text and "EN*" not in text and r"EN\*" not in text and "EN$^{*}$" not in text
    assert "Avg. rank" not in text and "Avg.\\ rank" not in text
    # without --table the table goes to stdout; a suffix that names no format is an error before any scoring
    capsys.readouterr()
    assert main(["eval", "--fused", str(folders / "fused"), "--data", str(folders / "data"), "--metrics", "EN",
                 "--format", fmt, "--no-progress"]) == 0
    assert "Metric profile: default" in capsys.readouterr().out
    assert main(["eval", "--fused", str(folders / "fused"), "--data", str(folders / "data"),
                 "--table", str(folders / "t.txt")]) == 1
    assert "--format md|latex" in capsys.readouterr().err


def test_a_folder_is_scored_in_one_allocator_block(folders, monkeypatch):
    """``evaluate_folder`` opens one ``reuse_large_blocks`` block for the whole folder (memory freed by one image
    is reused by the next): each image's ``compute_metrics`` runs inside it, at depth 2."""
    from sagebench import memory

    monkeypatch.setattr(memory, "_applied", None)
    depths = []
    real = memory.reuse_large_blocks

    def spy():
        depths.append(memory._depth)
        return real()

    monkeypatch.setattr(memory, "reuse_large_blocks", spy)
    evaluate_folder(folders / "fused", str(folders / "data"), metrics=["EN"])
    assert depths == [0, 1, 1]  # the folder's block, then one nested block per image
    memory.release_now()
    assert memory._depth == 0 and memory.allocator_settings() is None
