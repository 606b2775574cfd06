"""Every shipped model preset (CPU and GPU) builds with its pipelines and runs a loss step on CPU."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")

from sagebench.errors import ConfigError  # noqa: E402
from sagebench.tasks.downstream.engine import _set_num_classes, load_preset  # noqa: E402
from sagebench.tasks.downstream.model_configs import list_presets, preset_path  # noqa: E402

PRESETS = list_presets()


def test_presets_listed_and_unknown_rejected():
    assert {"det_tiny_fcos", "det_tiny_rtmdet", "seg_tiny_fcn", "det_faster_rcnn_r50_fpn", "det_rtmdet_s",
            "seg_segformer_b0", "seg_segformer_b1", "seg_segformer_b1_fmb"} <= set(PRESETS)
    with pytest.raises(ConfigError, match="unknown downstream model"):
        preset_path("yolo_v99")
    with pytest.raises(ConfigError, match="is a detection config"):
        load_preset("det_tiny_fcos", "segmentation")


@pytest.mark.parametrize("name", [p for p in PRESETS if "tiny" in p] +
                         [pytest.param(p, marks=pytest.mark.slow) for p in PRESETS if "tiny" not in p])
def test_preset_builds_and_steps(name):
    from mmengine.registry import init_default_scope

    kind = "detection" if name.startswith("det") else "segmentation"
    cfg = load_preset(name, kind)
    _set_num_classes(cfg["model"], 3)
    if kind == "detection":
        from mmdet.registry import MODELS, TRANSFORMS
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData

        init_default_scope("mmdet")
        sample = DetDataSample(metainfo=dict(img_shape=(128, 160), pad_shape=(128, 160), batch_input_shape=(128, 160),
                                             scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10.0, 20.0, 50.0, 90.0]]), labels=torch.tensor([1]))
    else:
        from mmengine.structures import PixelData
        from mmseg.registry import MODELS, TRANSFORMS
        from mmseg.structures import SegDataSample

        init_default_scope("mmseg")
        sample = SegDataSample(metainfo=dict(img_shape=(128, 160), pad_shape=(128, 160), ori_shape=(128, 160)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 128, 160)))
    for step in cfg["train_pipeline"] + cfg["test_pipeline"]:
        TRANSFORMS.build(step)
    from mmengine.config import ConfigDict

    model = MODELS.build(ConfigDict(cfg["model"]))  # the Runner hands models ConfigDicts too
    model.init_weights()
    model.train()
    losses = model.loss(torch.randn(2, 3, 128, 160), [sample, sample])
    parts = [t for k, v in losses.items() if "loss" in k
             for t in (v if isinstance(v, (list, tuple)) else [v]) if isinstance(t, torch.Tensor)]  # per level too
    assert parts, f"{name}: no loss terms in {sorted(losses)}"
    total = sum(t.sum() for t in parts)
    assert torch.isfinite(total)
    total.backward()
