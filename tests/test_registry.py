"""The fusion-model registry and the shared FusionModel contract."""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import MODELS

from sagebench.fusion_models import FUSION_MODELS, FusionModel, build_fusion_model, create_model, list_models


def test_registry_is_child_of_mmengine_models():
    assert FUSION_MODELS.parent is MODELS
    assert FUSION_MODELS.scope == "sagebench"
    assert {"sage_student", "ir_only", "vis_only"} <= set(list_models())
    assert list_models("sage_*") == [n for n in list_models() if n.startswith("sage_")]


def test_build_from_config_dict_and_name():
    m = build_fusion_model(dict(type="ir_only"))
    assert isinstance(m, FusionModel) and not m.training
    assert isinstance(create_model("vis_only"), FusionModel)


def test_unknown_model_error_lists_registered():
    with pytest.raises(KeyError, match="unknown fusion model 'nope'.*sage_student"):
        build_fusion_model(dict(type="nope"))


def test_contract_shapes_and_identity_methods():
    ir, vis = torch.rand(2, 1, 9, 11), torch.rand(2, 3, 9, 11)
    assert torch.equal(create_model("ir_only").fuse(ir, vis), ir.expand(-1, 3, -1, -1))
    assert torch.equal(create_model("vis_only").fuse(ir, vis), vis)
    grey = torch.rand(2, 1, 9, 11)
    assert create_model("vis_only").fuse(ir, grey).shape == (2, 1, 9, 11)
    # 3-channel IR is converted to grey; unbatched C x H x W inputs are accepted
    assert create_model("ir_only").fuse(ir[0].expand(3, -1, -1), vis[0]).shape == (1, 3, 9, 11)


@pytest.mark.parametrize("ir_shape,vis_shape,msg", [
    ((1, 1, 8, 8), (1, 3, 8, 9), "differ in batch or size"),
    ((2, 1, 8, 8), (1, 3, 8, 8), "differ in batch or size"),
    ((1, 2, 8, 8), (1, 3, 8, 8), "ir must be"),
    ((1, 1, 8, 8), (1, 4, 8, 8), "vis must be"),
])
def test_contract_rejects_bad_shapes(ir_shape, vis_shape, msg):
    with pytest.raises(ValueError, match=msg):
        create_model("vis_only").fuse(torch.rand(ir_shape), torch.rand(vis_shape))


class _NeedsMultiple(FusionModel):
    pad_multiple = 8

    def fuse_gray(self, ir, gray):
        assert ir.shape[-1] % 8 == 0 and ir.shape[-2] % 8 == 0
        return (ir + gray) / 2


def test_padding_policy_is_shared_and_cropped_back():
    m = _NeedsMultiple()
    ir, vis = torch.rand(1, 1, 13, 21), torch.rand(1, 1, 13, 21)
    out = m.fuse(ir, vis)
    assert out.shape == (1, 1, 13, 21)
    assert torch.allclose(out, (ir + vis) / 2)


def test_ycrcb_path_keeps_chroma():
    class Bright(FusionModel):
        def fuse_gray(self, ir, gray):
            return gray

    vis = torch.rand(1, 3, 6, 7)
    out = Bright().fuse(torch.rand(1, 1, 6, 7), vis)
    assert (out - vis).abs().max() < 3e-3  # Y unchanged -> RGB back up to coefficient rounding


def test_invalid_precision_rejected():
    with pytest.raises(ValueError, match="precision must be one of"):
        create_model("ir_only", precision="fp8")


def test_build_ignores_a_foreign_default_scope():
    """mmdet/mmseg runners leave a global default scope behind; our registries must not depend on it."""
    from mmengine.registry import DefaultScope

    from sagebench.tasks import build_task

    with DefaultScope.overwrite_default_scope("mmseg"):
        assert isinstance(build_fusion_model(dict(type="ir_only")), FusionModel)
        assert build_task(dict(type="quality")).name == "quality"
