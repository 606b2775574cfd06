"""A rerun with nothing to compute is answered from the results on disk without importing torch, and only
while every input, setting and source is as the last complete run left it (sagebench.benchmark.rerun)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sagebench.benchmark.cli import build_parser, main
from sagebench.benchmark.commands.run import config_and_options
from sagebench.benchmark.rerun import STAMP_NAME, try_fast_rerun


def _pairs(root: Path, n: int = 3) -> Path:
    rng = np.random.default_rng(0)
    (root / "ir").mkdir(parents=True)
    (root / "vis").mkdir()
    lines = ["stem\tir\tvis"]
    for i in range(n):
        for kind, shape in (("ir", (24, 32)), ("vis", (24, 32, 3))):
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / kind / f"p{i}.png")
        lines.append(f"p{i}\tir/p{i}.png\tvis/p{i}.png")
    (root / "PAIRS.tsv").write_text("\n".join(lines) + "\n")
    return root


def _config(tmp_path: Path, data: Path) -> Path:
    cfg = tmp_path / "bench.py"
    cfg.write_text(f"datasets = [dict(name='pairs', source={str(data)!r})]\n"
                   "methods = [dict(name='avg', type='average'), dict(name='max', type='max_abs')]\n"
                   "tasks = [dict(type='quality', metrics=['EN', 'SD', 'SSIM'])]\nseed = 0\n")
    return cfg


def _fast(argv: list[str]):
    """What the fast path answers for ``sagebench run <argv>`` (None: the normal run would follow)."""
    args = build_parser().parse_args(["run", *argv])
    cfg, opts = config_and_options(args, resume=not args.no_resume, progress=False, leaderboard=False,
                                   verbose=False, plots=args.plots, includes=tuple(args.include or ()))
    return try_fast_rerun(cfg, opts)


def test_rerun_is_answered_without_torch(tmp_path):
    data = _pairs(tmp_path / "data")
    cfg, out = _config(tmp_path, data), tmp_path / "run"
    assert main(["run", str(cfg), "-o", str(out), "--no-progress"]) == 0
    assert (out / STAMP_NAME).is_file()
    code = ("import sys\nfrom sagebench.benchmark.cli import main\n"
            f"rc = main(['run', {str(cfg)!r}, '-o', {str(out)!r}, '--no-progress'])\n"
            "print('RC', rc, 'TORCH', 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert "RC 0 TORCH False" in proc.stdout, proc.stdout + proc.stderr
    assert "nothing to compute" in proc.stdout + proc.stderr
    assert "EN" in proc.stdout  # the leaderboard is printed from the stored results


def test_any_change_takes_the_normal_path(tmp_path):
    data = _pairs(tmp_path / "data")
    cfg, out = _config(tmp_path, data), tmp_path / "run"
    argv = [str(cfg), "-o", str(out), "--no-progress"]
    assert main(["run", *argv]) == 0
    assert _fast(argv) == 0
    # another setting, another option, or --no-resume / --include
    assert _fast([*argv, "--cfg-options", "seed=1"]) is None
    assert _fast([*argv, "--device", "cpu", "--plots"]) is None
    assert _fast([*argv, "--no-resume"]) is None
    assert _fast([*argv, "--include", str(tmp_path / "nothing.py")]) is None
    # an input rewritten with the same bytes (its change time moves), then a rerun restores the stamp
    img = data / "ir" / "p1.png"
    img.write_bytes(img.read_bytes())
    assert _fast(argv) is None
    assert main(["run", *argv]) == 0 and _fast(argv) == 0
    # a new file in the dataset folder, a new weights file in the weights folder
    (data / "notes.txt").write_text("x")
    assert _fast(argv) is None
    assert main(["run", *argv]) == 0 and _fast(argv) == 0
    wdir = Path(os.environ["SAGEBENCH_HOME"]) / "weights"
    wdir.mkdir(parents=True, exist_ok=True)
    (wdir / "new.pth").write_bytes(b"0")
    try:
        assert _fast(argv) is None
    finally:
        (wdir / "new.pth").unlink()
    assert _fast(argv) is None  # the folder itself changed (its times moved): recheck once
    assert main(["run", *argv]) == 0 and _fast(argv) == 0
    # the stored results edited
    res = out / "results.json"
    obj = json.loads(res.read_text())
    obj["records"][0]["value"] = 123.0
    res.write_text(json.dumps(obj))
    assert _fast(argv) is None


def test_no_stamp_after_failures_or_an_interrupted_run(tmp_path):
    data = _pairs(tmp_path / "data")
    cfg, out = _config(tmp_path, data), tmp_path / "run"
    argv = [str(cfg), "-o", str(out), "--no-progress"]
    assert main(["run", *argv]) == 0 and (out / STAMP_NAME).is_file()
    # a run that fails a cell (a method whose weights file is missing) leaves none
    bad = ["--cfg-options", "methods.1.type=sage_student", f"methods.1.weights={tmp_path / 'missing.pth'}"]
    assert main(["run", *argv, *bad]) == 0
    assert not (out / STAMP_NAME).exists()
    assert _fast([*argv, *bad]) is None
    # a run killed after one cell leaves none either (it removed the old one before writing anything)
    assert main(["run", *argv]) == 0 and (out / STAMP_NAME).is_file()
    code = ("from sagebench.benchmark.cli import main\n"
            f"main(['run', {str(cfg)!r}, '-o', {str(out)!r}, '--no-progress', '--cfg-options', 'seed=5'])\n")
    env = dict(os.environ, SAGEBENCH_EXIT_AFTER_CELLS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 17, proc.stderr
    assert not (out / STAMP_NAME).exists()
    assert _fast(argv) is None


@pytest.mark.parametrize("device_arg", [None, "cpu"])
def test_gpu_machines_resolve_the_device_first(tmp_path, monkeypatch, device_arg):
    """Without --device, a machine with a GPU device node takes the normal path (torch decides the device)."""
    from sagebench.benchmark import rerun

    data = _pairs(tmp_path / "data")
    cfg, out = _config(tmp_path, data), tmp_path / "run"
    argv = [str(cfg), "-o", str(out), "--no-progress"] + (["--device", device_arg] if device_arg else [])
    assert main(["run", *argv]) == 0
    node = tmp_path / "nvidiactl"
    node.write_text("")
    monkeypatch.setattr(rerun, "_GPU_NODES", (str(node),))
    assert (_fast(argv) is None) == (device_arg is None)


def test_label_sources_outside_the_dataset_folder_are_watched(tmp_path):
    """Labels given as a file or folder outside the dataset folder are inputs too (a detection cell's
    identity holds the parsed boxes): the run records them, so editing them takes the normal path."""
    from sagebench import deps
    from sagebench.datasets import open_dataset

    data = _pairs(tmp_path / "data")
    coco = tmp_path / "elsewhere" / "boxes.json"
    coco.parent.mkdir()
    coco.write_text(json.dumps({
        "images": [{"id": i + 1, "file_name": f"p{i}.png", "width": 32, "height": 24} for i in range(3)],
        "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [2, 3, 8, 6], "area": 48,
                         "iscrowd": 0} for i in range(3)],
        "categories": [{"id": 1, "name": "person"}]}))
    deps.reset()
    open_dataset(str(data), labels=str(coco))
    files, trees = deps.recorded()
    assert str(coco) in files or any(str(coco).startswith(t + os.sep) for t in trees)
    voc = tmp_path / "voc"
    voc.mkdir()
    for i in range(3):
        (voc / f"p{i}.xml").write_text(
            "<annotation><size><width>32</width><height>24</height></size><object><name>person</name>"
            "<bndbox><xmin>2</xmin><ymin>3</ymin><xmax>10</xmax><ymax>9</ymax></bndbox></object></annotation>")
    deps.reset()
    open_dataset(str(data), labels=str(voc), det_classes=["person"])
    assert str(voc) in deps.recorded()[1]
    deps.reset()  # image folders given directly: their listings decide the pairs
    open_dataset(None, ir=str(data / "ir"), vis=str(data / "vis"))
    assert {str(data / "ir"), str(data / "vis")} <= set(deps.recorded()[1])
