"""The detection/segmentation tasks end to end through mmengine on a few synthetic images: plumbing,
caching, safe weights, frozen protocol, holdout, resume. Tiny schedules: this checks mechanics, not skill
(the skill check is tests/test_downstream_effect.py)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

from sagebench.datasets import open_dataset  # noqa: E402
from sagebench.fusion_models import create_model  # noqa: E402
from sagebench.fusion_models.fuse import fuse_dataset  # noqa: E402
from sagebench.tasks import TaskContext, build_task  # noqa: E402


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("night")
    tr = open_dataset("synthetic:night", n=6, seed=3, size=(96, 128), split="train")
    te = open_dataset("synthetic:night", n=3, seed=3, size=(96, 128), split="test")
    model = create_model("max_abs").eval()
    fuse_dataset(model, tr, root / "train", progress=False)
    fuse_dataset(model, te, root / "test", progress=False)
    return tr, te, root


def _ctx(night, work, method="max_abs"):
    tr, te, root = night
    return TaskContext(method=method, dataset=te, fused_dir=root / "test", train_dataset=tr,
                       train_fused_dir=root / "train", work_dir=work, seed=0)


def test_detection_retrain_then_cache_then_frozen(night, tmp_path):
    task = build_task(dict(type="detection", max_iters=3, batch_size=2, key_classes=["person", "car"]))
    res = task.evaluate(_ctx(night, tmp_path / "a"))
    assert {"mAP", "mAP50", "mAP75", "mAP_key", "mAP50_key"} <= set(res.summary)
    assert all(res.directions[k] == "higher" for k in res.summary)
    assert res.meta["protocol"] == "retrain" and res.meta["trained_now"] and res.meta["init"] == "scratch"
    weights = tmp_path / "a" / "train" / "model_final.safe.pth"
    obj = torch.load(weights, weights_only=True, map_location="cpu")
    assert set(obj) == {"state_dict", "meta"} and res.meta["checkpoint_sha256"]
    assert not list((tmp_path / "a" / "train").glob("iter_*.pth"))  # resume files removed after success
    # same inputs -> cached weights, identical numbers, nothing retrained
    again = task.evaluate(_ctx(night, tmp_path / "a"))
    assert not again.meta["trained_now"] and again.summary == res.summary
    # frozen protocol with that checkpoint as the user's network: same test images -> same numbers
    frozen = build_task(dict(type="detection_eval", checkpoint=str(weights)))
    fres = frozen.evaluate(_ctx(night, tmp_path / "b"))
    assert fres.summary["mAP"] == pytest.approx(res.summary["mAP"])
    assert fres.meta["checkpoint_sha256"] == res.meta["checkpoint_sha256"]


@pytest.mark.slow
def test_segmentation_frozen_reference_and_holdout(night, tmp_path):
    task = build_task(dict(type="segmentation", protocol="frozen", reference="vis_only", max_iters=2,
                           batch_size=2, reference_dir=str(tmp_path / "ref")))
    res = task.evaluate(_ctx(night, tmp_path / "w"))
    assert {"mIoU", "mAcc", "aAcc", "IoU_background"} <= set(res.summary)
    assert res.meta["reference"] == "vis_only"
    assert len(list((tmp_path / "ref" / "vis_only" / "fused_train").iterdir())) == 6
    # a second method reuses the reference network (trained once)
    res2 = task.evaluate(_ctx(night, tmp_path / "w2", method="other"))
    assert not res2.meta["trained_now"] and res2.meta["checkpoint_sha256"] == res.meta["checkpoint_sha256"]
    hold = build_task(dict(type="segmentation_holdout", holdout=3, max_iters=2, batch_size=2))
    tr, te, root = night
    hres = hold.evaluate(TaskContext(method="m", dataset=tr, fused_dir=root / "train", work_dir=tmp_path / "h"))
    assert hres.meta["train_images"] == 4 and hres.meta["test_images"] == 2


@pytest.mark.slow
def test_resume_checkpoint_loads_safely_and_resumes(night, tmp_path):
    from sagebench.tasks.downstream.engine import Split, run_job

    tr, te, root = night
    common = dict(seed=0, batch_size=2, keep_resume_checkpoints=True, checkpoint_interval=2)
    run_job("detection", "det_tiny_fcos", tr.det_classes, Split(te, root / "test"), tmp_path,
            train=Split(tr, root / "train"), max_iters=2, **common)
    ckpt = tmp_path / "train" / "iter_2.pth"
    obj = torch.load(ckpt, weights_only=True, map_location="cpu")  # safe form: no allow-list needed
    assert obj["meta"]["iter"] == 2 and "message_hub" in obj
    # a longer schedule in the same work dir resumes from iter_2 (mmengine's loader, weights_only default)
    res = run_job("detection", "det_tiny_fcos", tr.det_classes, Split(te, root / "test"), tmp_path,
                  train=Split(tr, root / "train"), max_iters=4, **common)
    assert res.trained and (tmp_path / "train" / "iter_4.pth").is_file()
    log = "\n".join(p.read_text() for p in (tmp_path / "train").rglob("*.log"))
    assert "Weights only load failed" not in log


def test_per_method_input_statistics(night, tmp_path, monkeypatch):
    """input_stats='fused_train': each method's detector is normalised with the mean / std of that method's
    own fused training images (different for IR-only and visible-only), passed to the runner config, and
    recorded; the default keeps the preset's ImageNet values."""
    import numpy as np
    from PIL import Image

    from sagebench.tasks.downstream import engine
    from sagebench.tasks.downstream.engine import Split, build_runner_config, input_stats, load_preset

    tr, te, root = night
    stats = {}
    for name in ("ir_only", "vis_only"):
        fuse_dataset(create_model(name).eval(), tr, root / f"train_{name}", progress=False)
        stats[name] = input_stats(Split(tr, root / f"train_{name}"))
    assert stats["ir_only"]["mean"] != stats["vis_only"]["mean"]
    assert len(set(stats["ir_only"]["mean"])) == 1  # grey: three equal channels
    arr = np.stack([np.asarray(Image.open(root / "train_vis_only" / f"{n}.png").convert("RGB"), np.float64)
                    for n in tr.names])
    assert stats["vis_only"]["mean"] == pytest.approx(arr.reshape(-1, 3).mean(0).tolist(), abs=1e-3)
    assert stats["vis_only"]["std"] == pytest.approx(arr.reshape(-1, 3).std(0).tolist(), abs=1e-3)
    preset = load_preset("det_tiny_fcos", "detection")
    cfg = build_runner_config("detection", preset, ["person", "car"], work_dir=tmp_path, train=None,
                              test={"ann_file": "x"}, seed=0, norm=stats["vis_only"])
    assert cfg["model"]["data_preprocessor"]["mean"] == stats["vis_only"]["mean"]
    seen = []

    def fake_run_job(kind, model, classes, test, work, *, train=None, norm=None, **kw):
        seen.append(norm)
        return engine.JobResult({"mAP": 1.0}, None, None, False, {})

    monkeypatch.setattr(engine, "run_job", fake_run_job)
    task = build_task(dict(type="detection", model="det_tiny_fcos", input_stats="fused_train"))
    assert task.config()["input_stats"] == "fused_train"
    for name in ("ir_only", "vis_only"):
        ctx = TaskContext(method=name, dataset=te, fused_dir=root / "test", train_dataset=tr,
                          train_fused_dir=root / f"train_{name}", work_dir=tmp_path / name, seed=0)
        res = task.evaluate(ctx)
        assert res.meta["input_stats"]["mean"] == stats[name]["mean"]
        assert res.meta["input_stats"]["source"] == f"fused training split of {name}"
    assert [n["mean"] for n in seen] == [stats["ir_only"]["mean"], stats["vis_only"]["mean"]]
    plain = build_task(dict(type="detection", model="det_tiny_fcos"))
    assert "input_stats" not in plain.config()
    assert plain.evaluate(ctx).meta["input_stats"] == {"source": "preset"} and seen[-1] is None
