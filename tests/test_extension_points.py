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
                                                   "Laplacian pyramid", "SAGE student"]
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
                                   "            dict(name='s', source='synthetic:night', n=1, size=(24, 32))]\n"
                                   "methods = ['average']\ntasks = [dict(type='quality', metrics=['EN'])]\n")
    rc = main(["run", str(tmp_path / "c.py"), "-o", str(tmp_path / "o"), "--no-progress", "--no-leaderboard",
               "--data-root", str(tmp_path), "--weights-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert rc == 0
    assert dict(os.environ) == before
