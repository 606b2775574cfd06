"""Extension in one place each: a dataset layout, a metric, a task protocol, a config's method list, the
quickstart; and settings that travel as arguments (no environment writes)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from sagebench.datasets import LAYOUTS, DatasetLayout, open_dataset, register_layout
from sagebench.tasks.metrics import METRICS, Metric, compute_metrics, register_metric, resolve_metric_names


def test_a_registered_layout_is_found_and_names_its_label_classes(tmp_path):
    rng = np.random.default_rng(0)
    for sub in ("lw", "rgb_rect", "masks"):
        (tmp_path / sub).mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "lw" / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "rgb_rect" / f"{i}.png")
        Image.fromarray(rng.integers(0, 3, (8, 8), dtype=np.uint8)).save(tmp_path / "masks" / f"{i}.png")
    layout = register_layout(DatasetLayout("MyCam (lw/ rgb_rect/)", ("lw",), ("rgb_rect",),
                                           seg_classes={"masks": ("background", "person", "car")}))
    try:
        ds = open_dataset(str(tmp_path))
        assert ds.layout == "lw/ + rgb_rect/" and ds.seg_classes == ["background", "person", "car"]
        with pytest.raises(ValueError, match="already registered"):
            register_layout(layout)
    finally:
        LAYOUTS.remove(layout)
    with pytest.raises(Exception, match="unknown dataset layout"):
        open_dataset(str(tmp_path))


def test_the_builtin_layouts_keep_their_label_classes():
    by_name = {x.name.split(" (")[0]: x for x in LAYOUTS}
    assert by_name["MSRS / TNO / M3FD"].classes_of_label_folder("Label")[1] == "car"
    assert by_name["FMB / LLVIP"].classes_of_label_folder("label")[:2] == ["background", "Road"]
    assert by_name["PST900"].classes_of_label_folder("anything") is not None
    assert by_name["RoadScene"].classes_of_label_folder("label") is None


def test_a_metric_registers_itself_with_its_order_and_default_membership():
    @register_metric("my_mean_alias", order=25, default=False)
    class MyMean(Metric):
        name = "MyMean"
        description = "mean grey level of the fused image (test double)"

        def compute(self, x):
            return x.f.flatten(1).mean(1)

    try:
        everything = resolve_metric_names("all")
        assert everything.index("MyMean") == everything.index("SD") + 1  # order 25: after SD (20), before SF (30)
        assert "MyMean" not in resolve_metric_names(None)
        f = torch.full((1, 1, 4, 4), 0.4)  # 102 grey levels
        assert float(compute_metrics(f, f, f, metrics=["my_mean_alias"])["MyMean"]) == pytest.approx(102.0)
    finally:
        METRICS.pop("MyMean")
        from sagebench.tasks.metrics import _core

        for k in [k for k, v in _core._ALIASES.items() if v == "MyMean"]:
            del _core._ALIASES[k]


def test_detection_and_segmentation_are_one_class_each():
    from sagebench.tasks import TASKS, build_task
    from sagebench.tasks.detection import DetectionTask
    from sagebench.tasks.segmentation import SegmentationTask

    for kind, cls in (("detection", DetectionTask), ("segmentation", SegmentationTask)):
        assert type(build_task(dict(type=f"{kind}_holdout"))) is cls
        assert build_task(dict(type=f"{kind}_holdout")).holdout == 3
        t = build_task(dict(type=kind, holdout=4))
        assert type(t) is cls and not t.needs_train_split
        assert build_task(dict(type=kind)).needs_train_split
        assert not [n for n, c in TASKS.module_dict.items() if isinstance(c, type) and c is not cls and
                    issubclass(c, cls)]


def test_protocol_eval_needs_a_checkpoint():
    from sagebench.errors import ConfigError
    from sagebench.tasks import build_task

    with pytest.raises(ConfigError, match="protocol='eval' scores with a user checkpoint"):
        build_task(dict(type="segmentation", protocol="eval"))


def test_configs_take_their_methods_from_one_base_file():
    from sagebench.benchmark.runner import config_file, load_config

    cfg = load_config(config_file("ci_benchmark.py"))
    assert [m["name"] for m in cfg["methods"]] == ["IR only", "VIS only", "Average", "Max-abs",
                                                   "Laplacian pyramid", "SAGE student", "LRRNet",
                                                   "LRRNet (published)"]
    assert not [k for k in cfg if k.startswith("_") and k != "_name"]  # helpers are not config keys


def test_the_builtin_quickstart_is_the_shipped_file():
    from sagebench.benchmark.runner import QUICKSTART_FILE, config_file, load_config

    assert config_file(QUICKSTART_FILE).read_text().startswith("# The quickstart")
    assert load_config(None) == load_config(config_file(QUICKSTART_FILE))


def test_cli_settings_do_not_write_the_environment(tmp_path, monkeypatch):
    from sagebench.benchmark.cli import main

    monkeypatch.delenv("SAGEBENCH_DATA", raising=False)
    before = dict(os.environ)
    (tmp_path / "c.py").write_text("datasets = [dict(name='n', source='${SAGEBENCH_DATA}/none', optional=True),\n"
                                   "            dict(name='s', source='synthetic:night', n=1, size=(48, 64))]\n"
                                   "methods = ['average']\ntasks = [dict(type='quality', metrics=['EN'])]\n")
    rc = main(["run", str(tmp_path / "c.py"), "-o", str(tmp_path / "o"), "--no-progress", "--no-leaderboard",
               "--strict", "--data-root", str(tmp_path), "--weights-dir", str(tmp_path),
               "--cache-dir", str(tmp_path / "c")])
    assert rc == 0
    assert dict(os.environ) == before


def test_a_task_is_built_once_per_plan_not_once_per_cell(tmp_path):
    from sagebench.benchmark.runner import RunOptions, run_benchmark
    from sagebench.tasks import TASKS
    from sagebench.tasks.quality import QualityTask

    built = []

    class Counting(QualityTask):
        def __init__(self, **kw):
            built.append(1)
            super().__init__(**kw)

    TASKS.register_module(name="_counting_quality", module=Counting, force=True)
    try:
        cfg = dict(datasets=[dict(name=f"s{i}", source="synthetic:night", n=1, seed=i, size=(48, 64)) for i in (0, 1)],
                   methods=["average", "max_abs"], tasks=[dict(type="_counting_quality", metrics=["EN"])], _name="t")
        report = run_benchmark(cfg, RunOptions(out_dir=tmp_path / "o", cache_dir=tmp_path / "c", device="cpu",
                                               progress=False, leaderboard=False))
        assert len(report.computed_keys) == 4 and len(built) == 1
    finally:
        TASKS.module_dict.pop("_counting_quality", None)


def test_pretrained_tags_build_a_release_by_name(shared_dir):
    from sagebench.errors import UnknownNameError
    from sagebench.fusion_models import create_model, list_pretrained
    from sagebench.fusion_models.zoo import TarDALPlus

    assert {"tardal.official", "tardal.plus", "tardal.plusplus", "sage_student.official"} <= set(list_pretrained())
    m = create_model("tardal.plus")
    assert type(m) is TarDALPlus and m.weights_name == "tardal_plus"
    assert create_model("tardal_plus", weights="tardal+").weights_sha256 == m.weights_sha256  # the alias too
    with pytest.raises(UnknownNameError, match="tags: tardal.official, tardal.plus, tardal.plusplus"):
        create_model("tardal.nope")


def test_tasks_share_decoded_fused_images(tmp_path):
    from sagebench.benchmark.cache import FusionCache, fuse_with_cache
    from sagebench.fusion_models import create_model
    from sagebench.tasks.base import FusedImages
    from sagebench.tasks.metrics import evaluate_folder

    ds = open_dataset("synthetic:night", n=3, seed=0, size=(48, 64))
    cache = FusionCache(tmp_path / "cache")
    model = create_model("average")
    images = FusedImages(tmp_path / "f")
    fuse_with_cache(model, ds, cache, cache.method_dir({"m": 1}), tmp_path / "f", images=images)
    shared = evaluate_folder(tmp_path / "f", ds, metrics=["EN", "SSIM"], images=images)
    assert images.decoded == 0  # the images fused just now were handed over, not read back
    from_disk = evaluate_folder(tmp_path / "f", ds, metrics=["EN", "SSIM"])
    assert shared.equals(from_disk)
    small = FusedImages(tmp_path / "f", budget_bytes=48 * 64 * 3 + 1)  # room for one image
    for stem in ds.names:
        small.get(stem)
    small.get(ds.names[-1])
    assert small.decoded == 3  # the last one was kept, the others were evicted


def test_a_plain_module_from_an_included_file_is_a_leaderboard_row(tmp_path):
    """``sagebench run --include FILE``: a plain nn.Module (no sagebench import) as ``file.Class``."""
    import subprocess
    import sys

    (tmp_path / "my_fusion.py").write_text(
        "import torch\nfrom torch import nn\n\n\nclass MyPlain(nn.Module):\n"
        "    def __init__(self, w=0.6):\n        super().__init__()\n        self.w = w\n\n"
        "    def forward(self, ir, vis):\n        return self.w * ir + (1 - self.w) * vis\n")
    (tmp_path / "bench.py").write_text(
        "datasets = [dict(name='night', source='synthetic:night', n=2, seed=0, size=(48, 64))]\n"
        "methods = [dict(name='SAGE', type='sage_student', weights=None),\n"
        "           dict(name='mine', type='my_fusion.MyPlain', w=0.7)]\n"
        "tasks = [dict(type='quality', metrics=['EN', 'SD'])]\n")
    env = dict(os.environ, SAGEBENCH_HOME=str(tmp_path / "home"))
    p = subprocess.run([sys.executable, "-m", "sagebench.benchmark.cli", "run", str(tmp_path / "bench.py"),
                        "--include", str(tmp_path / "my_fusion.py"), "-o", str(tmp_path / "out"), "--no-progress",
                        "--strict"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    from sagebench.benchmark.results import load_results

    rs = load_results(tmp_path / "out")
    assert set(rs.records["method"]) == {"SAGE", "mine"}
    assert "| mine |" in (tmp_path / "out" / "leaderboard" / "leaderboard.md").read_text()
    ident = next(v for k, v in rs.provenance["cells"].items() if "--mine--" in k)
    assert ident["weights_sha256"] is None


def test_a_plain_module_that_breaks_the_contract_says_what_the_contract_is():
    from torch import nn

    from sagebench.errors import ConfigError
    from sagebench.fusion_models.external import ModuleAdapter

    class Wrong(nn.Module):
        def forward(self, ir, vis):
            return torch.cat([ir, vis], 1)

    with pytest.raises(ConfigError, match=r"returned \(1, 2, 8, 8\), expected \(1, 1, 8, 8\); the contract: forward"):
        ModuleAdapter(Wrong()).fuse(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


def test_published_fused_images_are_a_row_next_to_the_port(shared_dir, tmp_path):
    """SeAFusion's published TNO outputs as a ``precomputed`` row agree with the port (outputs differ by at
    most one grey level); VIFB's naming works through ``pattern``; throughput is not applicable."""
    from sagebench.benchmark.results import load_results
    from sagebench.benchmark.runner import RunOptions, run_benchmark

    ref = shared_dir / "reference"
    cfg = dict(datasets=[dict(name="TNO", source=str(ref / "inputs" / "tno_eval"), limit=3)],
               methods=[dict(name="port", type="seafusion"),
                        dict(name="published", type="precomputed", root=str(ref / "seafusion" / "tno_eval"))],
               tasks=[dict(type="quality", metrics=["EN", "SD", "SF", "SSIM", "Qabf"]),
                      dict(type="throughput", resolution="64x48", warmup=1, repeats=1)], _name="t")
    report = run_benchmark(cfg, RunOptions(out_dir=tmp_path / "o", cache_dir=tmp_path / "c", device="cpu",
                                           progress=False, leaderboard=False))
    assert not report.failures
    recs = load_results(tmp_path / "o").records
    q = recs[recs.task == "quality"].pivot_table(index="method", columns="metric", values="value")
    assert ((q.loc["port"] - q.loc["published"]).abs() <= 0.01 * q.loc["port"].abs() + 1e-3).all(), q
    assert set(recs[recs.task == "throughput"]["method"]) == {"port"}  # none for the published images
    vifb = dict(cfg, datasets=[dict(name="VIFB", source=str(ref / "inputs" / "vifb"))],
                methods=[dict(name="vifb", type="precomputed", root=str(ref / "seafusion" / "vifb"),
                              pattern="{stem}_SeAFusion.jpg")], tasks=cfg["tasks"][:1])
    report = run_benchmark(vifb, RunOptions(out_dir=tmp_path / "v", cache_dir=tmp_path / "c", device="cpu",
                                            progress=False, leaderboard=False))
    assert not report.failures
    assert set(load_results(tmp_path / "v").per_image["image"]) == {"carLight", "fight"}
    import shutil

    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(ref / "seafusion" / "vifb" / "carLight_SeAFusion.jpg", partial)  # fight is missing
    skip = dict(vifb, methods=[dict(vifb["methods"][0], root=str(partial), skip_bad=True)])
    report = run_benchmark(skip, RunOptions(out_dir=tmp_path / "s", cache_dir=tmp_path / "c", device="cpu",
                                            progress=False, leaderboard=False))
    rs = load_results(tmp_path / "s")
    assert not report.failures and set(rs.per_image["image"]) == {"carLight"}  # left out, and reported:
    assert "fight: no fused image fight_SeAFusion.jpg" in next(iter(rs.provenance["cells"].values()))["fusion"][
        "skipped"][0]
    strict = dict(skip, methods=[dict(skip["methods"][0], skip_bad=False)])
    report = run_benchmark(strict, RunOptions(out_dir=tmp_path / "b", cache_dir=tmp_path / "c", device="cpu",
                                              progress=False, leaderboard=False))
    assert "fight: no fused image fight_SeAFusion.jpg" in report.failures[0]["error"]
