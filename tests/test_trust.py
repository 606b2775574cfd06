"""Results you can trust: identity, folder ownership, concurrency, the gate, config checks, clear errors.

Each test here is the regression test of one fault found by trying sagebench as a new user would (see
``docs/running.md``, "What a cell's identity is"); each failed on the code before its fix.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sagebench.benchmark.results import RunStore, load_results
from sagebench.benchmark.runner import RunOptions, load_config, make_plan, run_benchmark
from sagebench.datasets import open_dataset
from sagebench.errors import ConfigError, DataError, WeightsError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ helpers
def write_pairs(root: Path, n: int = 3, size: tuple[int, int] = (24, 32), seed: int = 0) -> Path:
    """An MSRS-style folder (``ir/``, ``vi/``) of ``n`` random 8-bit pairs."""
    rng = np.random.default_rng(seed)
    for sub in ("ir", "vi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(root / "ir" / f"{i:03d}.png")
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / "vi" / f"{i:03d}.png")
    return root


def quality_cfg(*datasets: Path, methods=("average", "max_abs"), metrics=("EN", "SD")) -> dict:
    return dict(datasets=[dict(name=d.name, source=str(d)) for d in datasets],
                methods=[m if isinstance(m, dict) else dict(name=m, type=m) for m in methods],
                tasks=[dict(type="quality", metrics=list(metrics))], seed=0, _name="t")


def run(cfg: dict, out: Path, cache: Path, **kw) -> object:
    opts = RunOptions(out_dir=out, cache_dir=cache, device="cpu", progress=False, leaderboard=False, **kw)
    return run_benchmark(cfg, opts)


def computed(report) -> set[tuple[str, str]]:
    """(dataset, method) of the cells a run computed (not resumed)."""
    return {tuple(k.split("--")[:2]) for k in report.computed_keys}


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "sagebench.benchmark.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=timeout)


def one_line_error(proc) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------ 1 identity
def test_changing_an_input_image_recomputes_exactly_that_datasets_cells(tmp_path):
    a, b = write_pairs(tmp_path / "A", seed=1), write_pairs(tmp_path / "B", seed=2)
    cfg = quality_cfg(a, b)
    first = run(cfg, tmp_path / "out", tmp_path / "cache")
    assert len(first.computed_keys) == 4
    assert computed(run(cfg, tmp_path / "out", tmp_path / "cache")) == set()
    Image.fromarray(np.full((24, 32), 7, np.uint8)).save(a / "ir" / "001.png")  # same name, new content
    again = run(cfg, tmp_path / "out", tmp_path / "cache")
    assert computed(again) == {("A", "average"), ("A", "max_abs")}
    rs = load_results(tmp_path / "out")
    en = rs.per_image.query("dataset == 'A' and method == 'average' and metric == 'EN' and image == '001'")
    assert len(en) == 1  # the new numbers, not the stale ones, are in results.json
    assert len(list((tmp_path / "out" / "cells").glob("*.json"))) == 4  # stale cell files replaced


def test_changing_a_weights_file_at_the_same_path_recomputes_only_that_method(tmp_path):
    from sagebench.fusion_models import create_model

    ckpt = tmp_path / "student.pt"
    torch.manual_seed(0)
    torch.save(create_model("sage_student", weights=None).state_dict(), ckpt)
    data = write_pairs(tmp_path / "D", n=2)
    cfg = quality_cfg(data, methods=("average", dict(name="mine", type="sage_student", weights=str(ckpt))))
    run(cfg, tmp_path / "out", tmp_path / "cache")
    assert computed(run(cfg, tmp_path / "out", tmp_path / "cache")) == set()
    torch.manual_seed(1)
    torch.save(create_model("sage_student", weights=None).state_dict(), ckpt)  # same path, other weights
    again = run(cfg, tmp_path / "out", tmp_path / "cache")
    assert computed(again) == {("D", "mine")}
    info = load_results(tmp_path / "out").provenance["cells"]
    from sagebench.weights import sha256_file

    assert {v["weights_sha256"] for k, v in info.items() if "--mine--" in k} == {sha256_file(ckpt)}


def test_changing_an_out_of_tree_methods_source_recomputes_only_its_cells(tmp_path):
    mod = tmp_path / "plugins" / "my_fusion.py"
    mod.parent.mkdir()
    src = textwrap.dedent("""
        from sagebench.fusion_models import FUSION_MODELS, FusionModel

        @FUSION_MODELS.register_module(name="my_weighted")
        class MyWeighted(FusionModel):
            card = {{"paper": "test plug-in"}}
            W = {w}

            def fuse_gray(self, ir, gray):
                return self.W * ir + (1 - self.W) * gray
        """)
    mod.write_text(src.format(w=0.25))
    data = write_pairs(tmp_path / "D", n=2)
    cfg_file = tmp_path / "bench.py"
    cfg_file.write_text(textwrap.dedent(f"""
        custom_imports = dict(imports=["my_fusion"], allow_failed_imports=False)
        datasets = [dict(name="D", source={str(data)!r})]
        methods = [dict(name="average", type="average"), dict(name="mine", type="my_weighted")]
        tasks = [dict(type="quality", metrics=["EN", "SD"])]
        """))
    env = {"PYTHONPATH": str(mod.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "SAGEBENCH_HOME": str(tmp_path / "home")}
    args = ("run", str(cfg_file), "-o", str(tmp_path / "out"), "--no-progress", "--no-leaderboard")
    p = cli(*args, env=env)
    assert p.returncode == 0, p.stderr
    assert {k.split("--")[1] for k in load_results(tmp_path / "out").provenance["computed"]} == {"average", "mine"}
    p = cli(*args, env=env)  # nothing changed: answered from the stored results (sagebench.benchmark.rerun)
    assert p.returncode == 0 and "nothing to compute" in p.stdout + p.stderr, p.stderr
    mod.write_text(src.format(w=0.75))
    p = cli(*args, env=env)
    assert p.returncode == 0, p.stderr
    assert {k.split("--")[1] for k in load_results(tmp_path / "out").provenance["computed"]} == {"mine"}


def test_no_resume_fuses_again_instead_of_serving_the_cache(tmp_path):
    data = write_pairs(tmp_path / "D", n=2)
    cfg = quality_cfg(data, methods=("average",))
    run(cfg, tmp_path / "out", tmp_path / "cache")
    rerun = run(cfg, tmp_path / "out", tmp_path / "cache", resume=False)
    info = load_results(tmp_path / "out").provenance["cells"]
    assert len(rerun.computed_keys) == 1
    assert all(v["fusion"]["fused"] == 2 and v["fusion"]["cache_hits"] == 0 for v in info.values())


def test_split_view_content_hash_follows_the_views_index(tmp_path):
    from sagebench.datasets.splits import SplitView

    ds = open_dataset(str(write_pairs(tmp_path / "D", n=4)))
    view = SplitView(ds, [3, 1], "x")
    assert [view.content_hash(i) for i in range(2)] == [view[i].content_hash for i in range(2)]
    assert view.content_hash(0) == ds.content_hash(3)


def test_label_changes_are_part_of_the_input_identity(tmp_path):
    from sagebench.benchmark.identity import input_identity

    root = write_pairs(tmp_path / "D", n=2)
    (root / "labels").mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((24, 32), np.uint8)).save(root / "labels" / f"{i:03d}.png")
    before = input_identity(open_dataset(str(root), seg_classes=["bg", "x"]))
    Image.fromarray(np.ones((24, 32), np.uint8)).save(root / "labels" / "001.png")
    assert input_identity(open_dataset(str(root), seg_classes=["bg", "x"])) != before


# ------------------------------------------------------------------------------------------ 2 folder
def test_one_slug_the_figure_finds_the_runs_fused_folder_of_a_method_with_spaces(tmp_path):
    data = write_pairs(tmp_path / "D", n=2)
    cfg = quality_cfg(data, methods=(dict(name="SAGE (ours)", type="average"),))
    run(cfg, tmp_path / "out", tmp_path / "cache")
    assert (tmp_path / "out" / "fused" / "D" / "SAGE_ours").is_dir()
    p = cli("leaderboard", str(tmp_path / "out"), "--format", "md", "--no-plots", "--figure", "--images", "000",
            "--data", str(data))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "out" / "leaderboard" / "qualitative.png").is_file()


def test_names_that_share_a_folder_are_a_config_error():
    cfg = dict(datasets=[dict(name="n", source="synthetic:night", n=1)], tasks=[dict(type="quality")],
               methods=[dict(name="a b", type="average"), dict(name="a_b", type="max_abs")])
    with pytest.raises(ConfigError, match="share the folder name 'a_b'"):
        make_plan(cfg, device="cpu")


@pytest.mark.parametrize("stem, problem", [("../escape", "path separator"), ("..", "'.' or '..'"),
                                           ("/etc/x", "path separator")])
def test_pairs_tsv_stems_must_be_plain_names(tmp_path, stem, problem):
    root = write_pairs(tmp_path / "D", n=1)
    (root / "PAIRS.tsv").write_text(f"stem\tir\tvis\n{stem}\tir/000.png\tvi/000.png\n")
    with pytest.raises(DataError, match=rf"PAIRS.tsv line 2 \(stem\).*{problem}"):
        open_dataset(str(root))


@pytest.mark.parametrize("path", ["/etc/hostname", "../outside.png"])
def test_pairs_tsv_files_must_stay_in_the_dataset_folder(tmp_path, path):
    root = write_pairs(tmp_path / "D", n=1)
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(tmp_path / "outside.png")
    (root / "PAIRS.tsv").write_text(f"stem\tir\tvis\nx\t{path}\tvi/000.png\n")
    with pytest.raises(DataError, match=r"line 2 \(ir\)"):
        open_dataset(str(root))


def test_output_folder_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        run(quality_cfg(write_pairs(tmp_path / "D", n=1)), tmp_path / "file", tmp_path / "cache")


def test_a_non_empty_folder_that_is_no_run_folder_is_not_used(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not a sagebench run folder"):
        run(quality_cfg(write_pairs(tmp_path / "D", n=1)), tmp_path / "home", tmp_path / "cache")
    assert (tmp_path / "home" / "thesis.tex").read_text() == "precious"


def test_stale_fused_cleanup_removes_links_not_their_targets(tmp_path):
    data = write_pairs(tmp_path / "D", n=1)
    cfg = quality_cfg(data, methods=("average",))
    run(cfg, tmp_path / "out", tmp_path / "cache")
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep me")
    fused = tmp_path / "out" / "fused" / "D" / "average"
    (fused / "stale.png").symlink_to(victim)
    run(cfg, tmp_path / "out", tmp_path / "cache", resume=False)
    assert not (fused / "stale.png").exists() and victim.read_bytes() == b"keep me"


def test_inside_refuses_paths_that_escape(tmp_path):
    from sagebench.paths import inside

    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    for bad in ("../x", "/etc/passwd", "link/x"):
        with pytest.raises(DataError, match="lies outside"):
            inside(tmp_path / "root", bad)
    assert inside(tmp_path / "root", "a/b") == (tmp_path / "root" / "a" / "b").resolve()


# ------------------------------------------------------------------------------------------ 3 concurrency, cache
def test_a_locked_run_folder_stops_a_second_run_with_a_clear_message(tmp_path):
    from filelock import FileLock

    data = write_pairs(tmp_path / "D", n=1)
    store = RunStore(tmp_path / "out")
    store.prepare()
    with FileLock(str(store.lock_path)), pytest.raises(ConfigError, match="another sagebench run is writing"):
        run(quality_cfg(data), tmp_path / "out", tmp_path / "cache")


def test_two_concurrent_runs_on_one_folder_never_mix_configs(tmp_path):
    data = write_pairs(tmp_path / "D", n=3, size=(64, 80))
    files = []
    for metric in ("EN", "SD"):
        f = tmp_path / f"{metric}.py"
        f.write_text(f"datasets = [dict(name='D', source={str(data)!r})]\n"
                     f"methods = [dict(name='average', type='average'), dict(name='tif', type='tif')]\n"
                     f"tasks = [dict(type='quality', metrics=[{metric!r}])]\n")
        files.append(f)
    env = dict(os.environ, SAGEBENCH_HOME=str(tmp_path / "home"))
    procs = [subprocess.Popen([sys.executable, "-m", "sagebench.benchmark.cli", "run", str(f), "-o",
                               str(tmp_path / "out"), "--no-progress", "--no-leaderboard"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0 or "another sagebench run is writing" in err, err
    assert any(p.returncode == 0 for p in procs)
    rs = load_results(tmp_path / "out")
    writer = rs.provenance["config"]["tasks"][0]["metrics"]
    assert set(rs.records["metric"]) == set(writer)  # every record from the config that wrote the file
    for cell in (tmp_path / "out" / "cells").glob("*.json"):
        obj = json.loads(cell.read_text())
        assert {r["metric"] for r in obj["records"]} <= {"EN", "SD"} and len(obj["records"]) == 1


def test_cache_objects_are_read_only_and_run_copies_do_not_write_through(tmp_path):
    data = write_pairs(tmp_path / "D", n=1)
    run(quality_cfg(data, methods=("average",)), tmp_path / "out", tmp_path / "cache")
    objects = list((tmp_path / "cache" / "objects").rglob("*.png"))
    assert len(objects) == 1 and stat.S_IMODE(objects[0].stat().st_mode) & 0o222 == 0
    copy = tmp_path / "out" / "fused" / "D" / "average" / "000.png"
    assert copy.stat().st_ino != objects[0].stat().st_ino
    before = objects[0].read_bytes()
    copy.write_bytes(b"edited")
    assert objects[0].read_bytes() == before


def test_a_broken_cache_entry_is_made_again_with_a_message_naming_it(tmp_path, capsys):
    data = write_pairs(tmp_path / "D", n=1)
    cfg = quality_cfg(data, methods=("average",))
    run(cfg, tmp_path / "out", tmp_path / "cache")
    good = load_results(tmp_path / "out").records
    obj = next((tmp_path / "cache" / "objects").rglob("*.png"))
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes()[:-10] + b"0123456789")  # same size, wrong content
    run(cfg, tmp_path / "out2", tmp_path / "cache")
    err = capsys.readouterr().err
    assert "broken cache entry" in err and str(tmp_path / "cache") in err
    assert load_results(tmp_path / "out2").records["value"].tolist() == good["value"].tolist()
    assert load_results(tmp_path / "out2").provenance["cells"].popitem()[1]["fusion"]["fused"] == 1


def test_a_second_cache_reader_sees_whole_entries_only(tmp_path):
    from sagebench.benchmark.cache import FusionCache

    cache = FusionCache(tmp_path / "c")
    mdir = cache.method_dir({"k": 1})
    cache.put(mdir, "ab" * 32, b"png-bytes")
    cache.put(mdir, "ab" * 32, b"png-bytes")  # a concurrent writer of the same entry
    assert cache.get(mdir, "ab" * 32) == b"png-bytes"
    assert not list(tmp_path.rglob("*.tmp*"))


# ------------------------------------------------------------------------------------------ 4 the gate
def _results(tmp_path: Path, name: str, values: list) -> Path:
    recs = [{"dataset": "d", "method": "m", "task": "quality", "metric": f"M{i}", "value": v, "direction": "higher",
             "unit": "", "meta": {}} for i, v in enumerate(values)]
    path = tmp_path / f"{name}.json"
    text = json.dumps({"schema": "sagebench.results/1", "provenance": {}, "records": recs, "per_image": [],
                       "failures": []})
    path.write_text(text.replace('"INF"', "Infinity"))
    return path


@pytest.mark.parametrize("tol", [float("nan"), -1e-3, "abc", True, float("inf")])
def test_gate_rejects_bad_tolerances(tol):
    from sagebench.benchmark.regress import Tolerances

    with pytest.raises(ConfigError, match="regress"):
        Tolerances({"default": {"abs": tol}})


def test_gate_rejects_a_regress_entry_that_is_not_a_dict():
    from sagebench.benchmark.regress import Tolerances

    with pytest.raises(ConfigError, match="must be a dict"):
        Tolerances("abc")
    with pytest.raises(ConfigError, match="regress"):
        make_plan(dict(datasets=[dict(name="n", source="synthetic:night", n=1)], methods=["average"],
                       tasks=[dict(type="quality")], regress="abc"), device="cpu")


@pytest.mark.parametrize("baseline, current, why", [
    ([], [1.0], "no records"),
    ([1.0], "other", "share no record"),
    ([1.0], ["INF"], "finite number"),
    ([1.0], ["abc"], "finite number"),
    (["INF"], [1.0], "finite number"),
])
def test_gate_errors_exit_2_instead_of_passing(tmp_path, baseline, current, why):
    base = _results(tmp_path, "base", baseline)
    if current == "other":
        cur = _results(tmp_path, "cur", [1.0])
        cur.write_text(cur.read_text().replace('"d"', '"elsewhere"'))
    else:
        cur = _results(tmp_path, "cur", current)
    p = cli("regress", "--baseline", str(base), "--current", str(cur))
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert why in one_line_error(p)


# ------------------------------------------------------------------------------------------ 5 config checks
BASE = dict(datasets=[dict(name="n", source="synthetic:night", n=1)], methods=["average"],
            tasks=[dict(type="quality")])


@pytest.mark.parametrize("change, message", [
    (dict(metods=["average"]), "unknown top-level key 'metods'; did you mean 'methods'"),
    (dict(datasets=[dict(name="n", source="synthetic:night", n=1, limit=0)]), "limit must be >= 1"),
    (dict(datasets=[dict(name="n", source="synthetic:night", n=1, limit=-2)]), "limit must be >= 1"),
    (dict(datasets=[dict(name="n", source="synthetic:night", n=2.5)]), "n must be an integer"),
    (dict(datasets=[dict(name="n", source="synthetic:night", n=1, sede=3)]), "unknown key 'sede'; did you mean"),
    (dict(methods=[dict(type="average", precision="fp8")]), "unknown precision 'fp8'"),
    (dict(seed="zero"), "seed must be an integer"),
    (dict(seed=1.5), "seed must be an integer"),
])
def test_configs_are_validated_before_work_starts(change, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        make_plan(dict(BASE, **change), device="cpu")


@pytest.mark.parametrize("option", ["x", "seed=[[1]", "=3"])
def test_unparsable_cfg_options_give_one_line(tmp_path, option):
    p = cli("run", "--cfg-options", option, "-o", str(tmp_path / "o"), "--no-progress")
    assert p.returncode == 1
    assert "--cfg-options" in one_line_error(p)


def test_cfg_options_reach_the_config(tmp_path):
    from sagebench.benchmark.commands.run import parse_cfg_options

    cfg = load_config(None, parse_cfg_options(["seed=3", "methods=[average]"]))
    assert cfg["seed"] == 3 and cfg["methods"] == ["average"]


# ------------------------------------------------------------------------------------------ 6 clear errors
def test_skip_bad_skips_and_reports_a_truncated_image(tmp_path):
    root = write_pairs(tmp_path / "D", n=3, size=(64, 64))
    png = root / "vi" / "001.png"
    png.write_bytes(png.read_bytes()[: len(png.read_bytes()) // 2])  # header intact, data truncated
    p = cli("fuse", "--model", "average", "--data", str(root), "--out", str(tmp_path / "f"), "--skip-bad",
            "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "wrote 2 fused images" in p.stdout and "skipped 001" in p.stdout
    assert sorted(q.name for q in (tmp_path / "f").iterdir()) == ["000.png", "002.png"]
    p = cli("fuse", "--model", "average", "--data", str(root), "--out", str(tmp_path / "g"), "--no-progress")
    assert p.returncode == 1 and "001.png" in one_line_error(p)


@pytest.mark.parametrize("where", [".", "ir", "vi/sub"])
def test_fuse_refuses_an_output_folder_inside_the_inputs(tmp_path, where):
    root = write_pairs(tmp_path / "D", n=1)
    before = sorted(str(p) for p in root.rglob("*"))
    p = cli("fuse", "--model", "average", "--data", str(root), "--out", str(root / where), "--no-progress")
    assert p.returncode == 1 and "input folder" in one_line_error(p)
    assert sorted(str(q) for q in root.rglob("*")) == before


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint at all", "cannot read"),
    ("truncated", "truncated or corrupt"),
    ("wrong", "does not match SAGEStudent"),
])
def test_bad_weights_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "w.pt"
    if content == "wrong":
        torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    elif content == "truncated":
        buf = tmp_path / "full.pt"
        torch.save({"a": torch.zeros(1000)}, buf)
        path.write_bytes(buf.read_bytes()[:2000])
    else:
        path.write_bytes(content)
    p = cli("fuse", "--model", "sage_student", "--weights", str(path), "--data", "synthetic:night", "--out",
            str(tmp_path / "f"), "--no-progress")
    assert p.returncode == 1 and message in one_line_error(p)
    from sagebench.fusion_models import create_model

    with pytest.raises(WeightsError, match=message):
        create_model("sage_student", weights=str(path))


def test_unknown_method_is_a_one_line_error(tmp_path):
    p = cli("fuse", "--model", "sage_studnet", "--data", "synthetic:night", "--out", str(tmp_path / "f"))
    assert p.returncode == 1 and "did you mean 'sage_student'" in one_line_error(p)


def test_images_smaller_than_a_method_needs_name_the_minimum():
    from sagebench.fusion_models import create_model

    m = create_model("sage_student", weights=None)
    with pytest.raises(ValueError, match="needs images of at least 4 x 4 pixels, got 3 x 9"):
        m.fuse(torch.rand(1, 1, 3, 9), torch.rand(1, 3, 3, 9))
    assert m.fuse(torch.rand(1, 1, 4, 9), torch.rand(1, 3, 4, 9)).shape == (1, 3, 4, 9)


def test_images_smaller_than_a_metric_needs_name_the_minimum():
    from sagebench.tasks.metrics import compute_metrics

    x = torch.rand(1, 1, 1, 8)
    with pytest.raises(ValueError, match="Nabf needs images of at least 2 x 2"):
        compute_metrics(x, x, x, metrics=["Nabf"])
    with pytest.raises(ValueError, match="VIF needs images of at least 41 x 41"):
        compute_metrics(*(torch.rand(1, 1, 40, 60) for _ in range(3)), metrics=["VIF"])


def test_every_metric_works_at_its_declared_minimum_in_every_profile():
    from sagebench.tasks.metrics import PROFILES, compute_metrics, create_metric, resolve_metric_names

    for prof in PROFILES:
        for name in resolve_metric_names("all"):
            m = create_metric(name, prof).min_size
            for shape in ((m, m + 3), (m + 3, m)):
                x = [torch.rand(1, 1, *shape, generator=torch.Generator().manual_seed(i)) for i in range(3)]
                compute_metrics(*x, metrics=[name], profile=prof)
            if m > 1:
                with pytest.raises(ValueError, match=f"at least {m} x {m}"):
                    compute_metrics(*(torch.rand(1, 1, m - 1, m + 3) for _ in range(3)), metrics=[name], profile=prof)


def test_disk_full_while_writing_results_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    from sagebench.benchmark.cli import main

    real = Path.write_text

    def full(self, *a, **k):
        if self.name.startswith(".results.json."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    data = write_pairs(tmp_path / "D", n=1)
    cfg = tmp_path / "c.py"
    cfg.write_text(f"datasets=[dict(name='D', source={str(data)!r})]\nmethods=['average']\n"
                   "tasks=[dict(type='quality', metrics=['EN'])]\n")
    rc = main(["run", str(cfg), "-o", str(tmp_path / "out"), "--no-progress", "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 1 and "results.json: cannot write (No space left on device)" in err
    assert not list((tmp_path / "out").glob(".results.json.*"))  # no half-written temporary left


# ------------------------------------------------------------------------------------------ 7 umask
def test_written_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        data = write_pairs(tmp_path / "D", n=1)
        opts = RunOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", device="cpu", progress=False)
        run_benchmark(quality_cfg(data, methods=("average",)), opts)
        p = cli("fuse", "--model", "average", "--data", str(data), "--out", str(tmp_path / "f"), "--no-progress")
        assert p.returncode == 0
    finally:
        os.umask(old)
    out = tmp_path / "out"
    files = [out / "results.json", out / "leaderboard" / "leaderboard.md", next((out / "cells").glob("*.json")),
             out / "fused" / "D" / "average" / "000.png", tmp_path / "f" / "000.png"]
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {f.name: "0o644" for f in files}


# ------------------------------------------------------------------------------------------ 8 degenerate values
def test_degenerate_metric_values_are_documented_and_reported(tmp_path):
    from sagebench.tasks.metrics import create_metric

    for name in ("Qabf", "Qcv", "PSNR", "CC", "SCD", "Qcb"):
        assert create_metric(name).degenerate, name
    root = tmp_path / "D"
    for sub in ("ir", "vi"):
        (root / sub).mkdir(parents=True)
    flat = np.full((48, 48), 90, np.uint8)
    Image.fromarray(flat).save(root / "ir" / "000.png")
    Image.fromarray(flat).save(root / "vi" / "000.png")  # both sources constant and equal
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / "ir" / "001.png")
    Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / "vi" / "001.png")
    cfg = quality_cfg(root, methods=("average",), metrics=("PSNR", "CC", "Qcv", "EN"))
    run(cfg, tmp_path / "out", tmp_path / "cache")
    rs = load_results(tmp_path / "out")
    meta = rs.records.iloc[0]["meta"]
    assert set(meta["undefined"]) == {"PSNR", "CC", "Qcv"}
    assert meta["undefined"]["PSNR"]["values"] == ["+inf"] and "MSE = 0" in meta["undefined"]["PSNR"]["reason"]
    assert meta["undefined"]["CC"]["images"] == ["000"]
    psnr = rs.records.set_index("metric").loc["PSNR", "value"]
    assert np.isfinite(psnr)  # the mean of the defined images, not +inf and not silently 0


def test_config_with_custom_imports_is_accepted(tmp_path):
    cfg = dict(BASE, custom_imports=dict(imports=[]))
    assert make_plan(cfg, device="cpu").cells


@pytest.mark.parametrize("bad", [{"x": 1}, None])
def test_a_corrupt_cell_file_is_a_clear_error(tmp_path, bad):
    store = RunStore(tmp_path)
    store.cells_dir.mkdir()
    (store.cells_dir / "k.json").write_text("[1, 2]" if bad is None else json.dumps(bad))
    with pytest.raises(DataError, match="cell file"):
        store.load_cell("k")


def test_code_identity_covers_result_code_and_not_presentation_code():
    from sagebench.benchmark import identity

    files = {p.name for p in identity._files_of("benchmark", identity._package_dirs()["benchmark"])}
    assert {"runner.py", "cache.py", "results.py", "identity.py"} <= files
    assert not files & {"leaderboard.py", "regress.py", "cli.py", "plots.py"}
    core = {p.name for p in identity._files_of("core", identity._package_dirs()["core"])}
    assert {"io.py", "colour.py", "weights.py"} <= core


def test_a_folder_another_run_is_creating_is_not_refused(tmp_path):
    """Two runs starting together: the second sees only the first's lock file and marker temporary."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text("")
    (out / "..sagebench-run.abc123.tmp").write_text("")
    RunStore(out).prepare()
    assert (out / ".sagebench-run").is_file()


def test_content_hashes_are_read_once_and_follow_file_changes(tmp_path, monkeypatch):
    from sagebench.datasets import folder

    ds = open_dataset(str(write_pairs(tmp_path / "D", n=2)))
    reads = []
    real = folder._file_sha
    monkeypatch.setattr(folder, "_file_sha", lambda p, h: (reads.append(p), real(p, h)))
    first = ds.content_hash(0)
    assert ds.content_hash(0) == ds[0].content_hash == first and len(reads) == 2  # IR + visible, once
    png = tmp_path / "D" / "ir" / "000.png"
    Image.fromarray(np.full((24, 32), 3, np.uint8)).save(png)
    os.utime(png, ns=(png.stat().st_atime_ns, png.stat().st_mtime_ns + 1_000_000))
    assert ds.content_hash(0) != first
