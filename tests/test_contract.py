"""The FusionModel contract, checked over the registry itself (every registered method, and methods
included from outside with ``--include``): shapes, range, dtype, device, a batch equals its images fused
one by one, and the same input gives the same output. Methods are built with random weights
(``weights=None``) where they take weights, so no download or ``../shared`` is needed."""

from __future__ import annotations

import pytest
import torch

from sagebench.fusion_models import FusionModel, create_model, list_models


def build(name: str) -> FusionModel:
    torch.manual_seed(0)
    try:
        return create_model(name, weights=None)
    except TypeError:  # parameter-free methods take no weights
        return create_model(name)


def inputs(batch: int, colour: bool, h: int = 32, w: int = 40, m=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs, ``h x w`` or, for a method with a larger ``min_size`` (CrossFuse: 136), that plus 8."""
    if m is not None and getattr(m, "min_size", 1) > h:
        h, w = m.min_size, m.min_size + 8
    g = torch.Generator().manual_seed(batch * 10 + colour)
    return torch.rand(batch, 1, h, w, generator=g), torch.rand(batch, 3 if colour else 1, h, w, generator=g)


@pytest.fixture(params=list_models(), scope="module")
def model(request):
    return request.param, build(request.param)


@pytest.mark.parametrize("colour", [True, False], ids=["rgb", "grey"])
def test_output_shape_range_dtype_device(model, colour):
    name, m = model
    ir, vis = inputs(2, colour, m=m)
    with torch.inference_mode():
        out = m.fuse(ir, vis)
    assert out.shape == (2, 3 if colour else 1, *ir.shape[-2:]), name
    assert out.dtype == torch.float32 and out.device.type == "cpu", name
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1, name


def test_a_batch_equals_its_images_one_by_one(model):
    name, m = model
    ir, vis = inputs(2, True, m=m)
    with torch.inference_mode():
        both = m.fuse(ir, vis)
        single = torch.cat([m.fuse(ir[i:i + 1], vis[i:i + 1]) for i in range(2)])
    assert torch.allclose(both, single, atol=2e-5), (name, float((both - single).abs().max()))


def test_the_same_input_gives_the_same_output(model):
    name, m = model
    ir, vis = inputs(1, True, m=m)
    with torch.inference_mode():
        assert torch.equal(m.fuse(ir, vis), m.fuse(ir, vis)), name


def test_included_methods_get_the_same_contract(tmp_path):
    from sagebench.fusion_models.external import include

    (tmp_path / "contract_plugin.py").write_text(
        "from sagebench.fusion_models import FUSION_MODELS, FusionModel\n\n\n"
        "@FUSION_MODELS.register_module(name='_contract_plugin_mean', force=True)\n"
        "class Mean(FusionModel):\n    def fuse_gray(self, ir, gray):\n        return (ir + gray) / 2\n")
    include(str(tmp_path / "contract_plugin.py"))
    try:
        assert "_contract_plugin_mean" in list_models()
        m = build("_contract_plugin_mean")
        ir, vis = inputs(2, True)
        out = m.fuse(ir, vis)
        assert out.shape == (2, 3, 32, 40) and out.dtype == torch.float32 and 0 <= out.min() <= out.max() <= 1
    finally:
        from sagebench.fusion_models import FUSION_MODELS

        FUSION_MODELS.module_dict.pop("_contract_plugin_mean", None)
