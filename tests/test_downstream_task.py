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


def test_averaged_weights_are_saved_and_scored_alike(night, tmp_path):
    """A preset with mmdet's EMAHook (the YOLO-class recipe): the averaged weights are what is saved, and a
    training run reports exactly the numbers a later run scores from those saved weights. (The training
    runner's own test rebuilt the hook's averaged copy from the raw model: it scored the raw weights.) The
    EMA here lags far behind the raw weights (gamma 1), so scoring the wrong ones would show."""
    preset = tmp_path / "ema_rtmdet.py"
    preset.write_text(
        "_base_ = [" + repr(str(_preset_file("det_tiny_rtmdet"))) + "]\n"
        "custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.05, gamma=1, "
        "update_buffers=True, priority=49)]\n")
    task = build_task(dict(type="detection", model=str(preset), max_iters=12, batch_size=2))
    fresh = task.evaluate(_ctx(night, tmp_path / "w"))
    again = task.evaluate(_ctx(night, tmp_path / "w"))
    assert fresh.meta["trained_now"] and not again.meta["trained_now"]
    assert again.meta["checkpoint_sha256"] == fresh.meta["checkpoint_sha256"]
    assert fresh.summary == again.summary
    saved = torch.load(tmp_path / "w" / "train" / "model_final.safe.pth", weights_only=True)["state_dict"]
    assert any(k.startswith("bbox_head.") for k in saved)  # the detector's own keys (not the EMA wrapper's)
    # the same training without the hook (training itself is the same): its raw weights are not what was saved
    plain = tmp_path / "plain_rtmdet.py"
    plain.write_text("_base_ = [" + repr(str(_preset_file("det_tiny_rtmdet"))) + "]\ncustom_hooks = []\n")
    build_task(dict(type="detection", model=str(plain), max_iters=12, batch_size=2)).evaluate(
        _ctx(night, tmp_path / "p"))
    raw = torch.load(tmp_path / "p" / "train" / "model_final.safe.pth", weights_only=True)["state_dict"]
    assert set(raw) == set(saved)
    assert not all(torch.equal(raw[k], saved[k]) for k in raw if raw[k].is_floating_point())


def _preset_file(name):
    from sagebench.tasks.downstream.model_configs import preset_path

    return preset_path(name)


def test_bgr_presets_get_the_input_statistics_reversed(tmp_path):
    """input_stats are RGB (PIL); a preset whose preprocessor keeps mmcv's BGR order (RTMDet's
    bgr_to_rgb=False) gets them reversed, one that converts to RGB (Faster R-CNN's) as they are."""
    from sagebench.tasks.downstream.engine import build_runner_config, load_preset

    norm = {"mean": [10.0, 20.0, 30.0], "std": [1.0, 2.0, 3.0]}
    for name, mean, std in (("det_tiny_rtmdet", [30.0, 20.0, 10.0], [3.0, 2.0, 1.0]),
                            ("det_tiny_fcos", [10.0, 20.0, 30.0], [1.0, 2.0, 3.0])):
        cfg = build_runner_config("detection", load_preset(name, "detection"), ["person"], work_dir=tmp_path,
                                  train=None, test={"ann_file": "x"}, seed=0, norm=norm)
        assert cfg["model"]["data_preprocessor"]["mean"] == mean and cfg["model"]["data_preprocessor"]["std"] == std


def test_predict_and_prediction_figure(night, tmp_path):
    """The saved network's predictions on fused images (boxes in image pixels, scores, labels; class masks
    at the image size) and the figure drawing them next to the ground truth."""
    import numpy as np
    from PIL import Image

    from sagebench.benchmark.figures import draw_boxes, overlay_mask, prediction_grid
    from sagebench.tasks.downstream.engine import predict

    tr, te, root = night
    res = build_task(dict(type="detection", max_iters=3, batch_size=2)).evaluate(_ctx(night, tmp_path / "d"))
    assert res.meta["weights_file"].endswith("model_final.safe.pth")
    assert res.meta["fused_dir"] == str((root / "test").resolve())
    stems = list(te.names[:2])
    preds = predict("detection", "det_tiny_fcos", tr.det_classes, res.meta["weights_file"],
                    [root / "test" / f"{s}.png" for s in stems])
    assert len(preds) == 2
    for p in preds:
        assert p["boxes"].shape == (len(p["scores"]), 4) and len(p["labels"]) == len(p["scores"])
        if len(p["boxes"]):
            assert p["boxes"][:, [0, 2]].max() <= 128 + 1 and p["boxes"][:, [1, 3]].max() <= 96 + 1
    seg = build_task(dict(type="segmentation", max_iters=2, batch_size=2)).evaluate(_ctx(night, tmp_path / "s"))
    spred = predict("segmentation", "seg_tiny_fcn", tr.seg_classes, seg.meta["weights_file"],
                    [root / "test" / f"{stems[0]}.png"])
    assert spred[0]["seg"].shape == (96, 128) and spred[0]["seg"].max() < len(tr.seg_classes)
    # drawing: a box outline in its class colour, a mask blended into its palette colour
    img = np.zeros((20, 30, 3), np.uint8)
    boxed = draw_boxes(img, np.array([[2.0, 3.0, 12.0, 15.0]]), np.array([1]), width=1)
    assert tuple(boxed[3, 5]) == (255, 127, 14) and tuple(boxed[8, 6]) == (0, 0, 0)
    mask = np.zeros((20, 30), np.int64)
    mask[5:10, 5:10] = 2
    blended = overlay_mask(np.full((20, 30), 100, np.uint8), mask, [(0, 0, 0), (0, 0, 0), (200, 0, 0)], alpha=0.5)
    assert tuple(blended[6, 6]) == (150, 50, 50) and tuple(blended[0, 0]) == (100, 100, 100)
    out = prediction_grid("detection", te, {"max_abs": (root / "test", preds)}, stems, tr.det_classes,
                          tmp_path / "pred.png", score_thr=0.0)
    with Image.open(out) as im:
        assert im.size[0] > 400 and im.size[1] > 300


def test_cli_prediction_figure_from_a_run(tmp_path, capsys):
    """``sagebench leaderboard RUN --figure --task detection``: each method's saved network, found through
    its record, predicts on that method's fused test images; the grid is written; a task without trained
    networks falls back to the plain qualitative figure's rules."""
    from PIL import Image

    from sagebench.benchmark.cli import main

    cfg = tmp_path / "cfg.py"
    cfg.write_text(
        "datasets = [dict(name='night', source='synthetic:night', n=6, seed=0, size=(96, 128), "
        "train_split='train')]\n"
        "methods = [dict(name='max_abs', type='max_abs'), dict(name='vis_only', type='vis_only')]\n"
        "tasks = [dict(type='detection', model='det_tiny_fcos', max_iters=3, batch_size=2)]\nseed = 0\n")
    run = tmp_path / "run"
    assert main(["run", str(cfg), "-o", str(run), "--no-progress"]) == 0, capsys.readouterr().err
    from sagebench.datasets import open_dataset

    stem = open_dataset("synthetic:night", n=6, seed=0, size=(96, 128), split="test").names[0]
    rc = main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--task", "detection",
               "--images", stem, "--score-thr", "0"])
    assert rc == 0, capsys.readouterr().err
    out = run / "leaderboard" / "predictions_detection.png"
    with Image.open(out) as im:
        assert im.size[0] > 400  # ground truth + two method columns
    rc = main(["leaderboard", str(run), "--format", "md", "--no-plots", "--figure", "--task", "detection",
               "--images", stem, "--figure-methods", "tardal"])
    assert rc == 1 and "no trained network recorded for method 'tardal'" in capsys.readouterr().err
