"""`sagebench fuse` and `sagebench models` end to end, including the bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sagebench.benchmark.cli import main
from sagebench.io import read_image


def _pair_folder(root, names, size=(24, 32), vis_sizes=None):
    rng = np.random.default_rng(0)
    (root / "ir").mkdir(parents=True)
    (root / "vi").mkdir(parents=True)
    for n in names:
        h, w = size
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(root / "ir" / f"{n}.png")
        vh, vw = (vis_sizes or {}).get(n, size)
        Image.fromarray(rng.integers(0, 256, (vh, vw, 3), dtype=np.uint8)).save(root / "vi" / f"{n}.png")
    return root


def test_fuse_msrs_with_sage_student_writes_30_images(shared_dir, tmp_path, capsys):
    out = tmp_path / "x"
    rc = main(["fuse", "--model", "sage_student", "--data", str(shared_dir / "data/MSRS"), "--out", str(out),
               "--batch-size", "4", "--no-progress"])
    assert rc == 0
    files = sorted(out.glob("*.png"))
    src = sorted(p.stem for p in (shared_dir / "data/MSRS/vis").iterdir())
    assert [p.stem for p in files] == src and len(files) == 30
    img = read_image(files[0])
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8 and img.std() > 5
    assert "wrote 30 fused images" in capsys.readouterr().out


def test_fuse_generic_ir_vis_folders(tmp_path):
    root = _pair_folder(tmp_path / "d", ["a", "b", "c"])
    rc = main(["fuse", "--model", "vis_only", "--ir", str(root / "ir"), "--vis", str(root / "vi"),
               "--out", str(tmp_path / "o"), "--no-progress"])
    assert rc == 0
    for n in "abc":
        assert np.array_equal(read_image(tmp_path / "o" / f"{n}.png"), read_image(root / "vi" / f"{n}.png"))


def test_fuse_size_mismatch_is_named(tmp_path, capsys):
    root = _pair_folder(tmp_path / "d", ["a", "b"], vis_sizes={"b": (20, 32)})
    rc = main(["fuse", "--model", "vis_only", "--data", str(root), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "b.png" in err and "size" in err.lower()


def test_fuse_missing_pair_is_named_and_skip_reports(tmp_path, capsys):
    root = _pair_folder(tmp_path / "d", ["a", "b"])
    (root / "vi" / "b.png").unlink()
    rc = main(["fuse", "--model", "vis_only", "--data", str(root), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "b" in err and ("missing" in err.lower() or "counterpart" in err.lower())
    with pytest.warns(UserWarning):
        rc = main(["fuse", "--model", "vis_only", "--data", str(root), "--out", str(tmp_path / "o2"),
                   "--skip-bad", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "skipped" in out and "b" in out
    assert [p.name for p in (tmp_path / "o2").iterdir()] == ["a.png"]


def test_fuse_corrupt_file_is_named(tmp_path, capsys):
    root = _pair_folder(tmp_path / "d", ["a", "b"])
    (root / "ir" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    rc = main(["fuse", "--model", "vis_only", "--data", str(root), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "a.png" in err


def test_fuse_wrong_checksum_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAGEBENCH_WEIGHTS_DIR", "")  # restored after the CLI overrides it
    wdir = tmp_path / "w"
    wdir.mkdir()
    (wdir / "sage_student_official.pt").write_bytes(b"not the release")
    root = _pair_folder(tmp_path / "d", ["a"])
    rc = main(["fuse", "--model", "sage_student", "--data", str(root), "--out", str(tmp_path / "o"),
               "--weights-dir", str(wdir), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "have 15 bytes, expected 579020" in err and "sage_student_official" in err


def test_models_lists_registered_with_params(capsys):
    assert main(["models", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("sage_student,"))
    assert ",135617," in line
    assert "ir_only" in out and "vis_only" in out
