"""Classical fusion methods: registration, cards, and the defining property of each method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagebench.fusion_models import create_model, list_models
from sagebench.fusion_models.classical import (
    GFFFusion,
    TIFFusion,
    box_mean,
    guided_filter,
    laplacian_pyramid,
    msvd_decompose,
    msvd_reconstruct,
    reconstruct_laplacian_pyramid,
    select_max_abs,
)

CLASSICAL = ["average", "max_abs", "laplacian_pyramid", "dwt", "gff", "msvd", "tif"]


def _img(seed: int, shape=(2, 1, 37, 50)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(shape, generator=g), 5, 1, 2, count_include_pad=False)
    return (0.6 * smooth + 0.4 * torch.rand(shape, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("name", CLASSICAL)
def test_registered_with_card_and_no_parameters(name):
    assert name in list_models()
    m = create_model(name)
    assert m.num_parameters() == 0
    assert m.card["params"] == 0
    assert m.card["paper"] and m.card["input"] and m.card["checked"]


@pytest.mark.parametrize("name", CLASSICAL)
def test_identical_inputs_give_the_input(name):
    x = _img(0)
    out = create_model(name).fuse(x, x)
    torch.testing.assert_close(out, x, atol=2e-5, rtol=0)


@pytest.mark.parametrize("name", CLASSICAL)
def test_batched_equals_single_and_colour_path(name):
    m = create_model(name)
    ir, vis = _img(1, (2, 1, 33, 40)), _img(2, (2, 3, 33, 40))
    out = m.fuse(ir, vis)
    assert out.shape == (2, 3, 33, 40) and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    torch.testing.assert_close(out[1:], m.fuse(ir[1:], vis[1:]), atol=1e-5, rtol=0)
    torch.testing.assert_close(m.fuse(ir, vis), out, atol=0, rtol=0)  # deterministic


@pytest.mark.parametrize("name", CLASSICAL)
def test_rejects_weights(name):
    with pytest.raises(ValueError, match="no weights"):
        create_model(name, weights="something.pth")


def test_average_is_mean_and_symmetric():
    a, b = _img(3), _img(4)
    m = create_model("average")
    torch.testing.assert_close(m.fuse(a, b), (a + b) / 2)
    torch.testing.assert_close(m.fuse(a, b), m.fuse(b, a))


def test_select_max_abs_picks_larger_magnitude():
    a = torch.tensor([1.0, -3.0, 0.5, -0.2, 2.0])
    b = torch.tensor([-2.0, 1.0, 0.4, 0.3, -2.0])
    torch.testing.assert_close(select_max_abs(a, b), torch.tensor([-2.0, -3.0, 0.5, 0.3, 2.0]))
    a, b = _img(5), _img(6)
    torch.testing.assert_close(create_model("max_abs").fuse(a, b), torch.maximum(a, b))


def test_laplacian_pyramid_reconstructs_odd_sizes():
    x = _img(7, (1, 1, 45, 61))
    pyr = laplacian_pyramid(x, 4)
    assert len(pyr) == 5 and pyr[-1].shape[-2:] == (3, 4)
    torch.testing.assert_close(reconstruct_laplacian_pyramid(pyr), x, atol=1e-6, rtol=0)


def test_laplacian_pyramid_fusion_rule():
    """Fused band-pass levels hold the larger-magnitude coefficient; the residual is the average."""
    a, b = _img(8, (1, 1, 32, 32)), _img(9, (1, 1, 32, 32))
    m = create_model("laplacian_pyramid", levels=3)
    fused = laplacian_pyramid(m.fuse_gray(a, b), 3)
    pa, pb = laplacian_pyramid(a, 3), laplacian_pyramid(b, 3)
    # the finest level of the fused image equals the selected coefficients (the coarser levels are
    # re-derived from a blurred reconstruction, so they are only compared through reconstruction)
    expected = [select_max_abs(x, y) for x, y in zip(pa[:-1], pb[:-1])] + [(pa[-1] + pb[-1]) / 2]
    torch.testing.assert_close(reconstruct_laplacian_pyramid(expected), m.fuse_gray(a, b))
    assert fused[0].abs().mean() >= max(pa[0].abs().mean(), pb[0].abs().mean()) * 0.99


def test_dwt_coefficient_rule():
    pywt = pytest.importorskip("pywt")
    a, b = _img(10, (1, 1, 64, 64)) - 0.5, _img(11, (1, 1, 64, 64)) - 0.5
    m = create_model("dwt", wavelet="haar", level=2, mode="periodization")
    out = m.fuse_gray(a, b).double().numpy()
    co = pywt.wavedec2(out, "haar", mode="periodization", level=2, axes=(-2, -1))
    ca = pywt.wavedec2(a.double().numpy(), "haar", mode="periodization", level=2, axes=(-2, -1))
    cb = pywt.wavedec2(b.double().numpy(), "haar", mode="periodization", level=2, axes=(-2, -1))
    np.testing.assert_allclose(co[0], (ca[0] + cb[0]) / 2, atol=1e-6)
    for do, da, db in zip(co[1:], ca[1:], cb[1:]):
        for x, y, z in zip(do, da, db):
            np.testing.assert_allclose(np.abs(x), np.maximum(np.abs(y), np.abs(z)), atol=1e-6)


def test_dwt_unknown_wavelet():
    with pytest.raises(ValueError, match="wavelet"):
        create_model("dwt", wavelet="nope")


def test_box_mean_matches_direct_mean():
    x = _img(12, (1, 2, 9, 11)).double()
    r = 2
    out = box_mean(x, r)
    i, j = 0, 5  # truncated window at the border
    torch.testing.assert_close(out[0, 1, i, j], x[0, 1, 0:3, 3:8].mean())
    torch.testing.assert_close(out[0, 0, 4, 5], x[0, 0, 2:7, 3:8].mean())


def test_guided_filter_preserves_constant_and_guide():
    g = _img(13, (1, 1, 30, 30))
    torch.testing.assert_close(guided_filter(g, torch.full_like(g, 0.7), 4, 0.01), torch.full_like(g, 0.7))
    # with a tiny eps the guide reproduces itself
    torch.testing.assert_close(guided_filter(g, g, 3, 1e-8), g, atol=1e-4, rtol=0)


def test_gff_weights_sum_to_one():
    ir, vis = _img(14), _img(15)
    wb, wd = GFFFusion().weight_maps(ir, vis)
    for w in (wb, wd):
        assert w.shape == (2, 2, 37, 50) and w.min() >= 0 and w.max() <= 1
        torch.testing.assert_close(w.sum(1), torch.ones(2, 37, 50))


def test_gff_prefers_the_salient_source():
    flat = torch.full((1, 1, 40, 40), 0.5)
    texture = _img(16, (1, 1, 40, 40))
    _, wd = GFFFusion().weight_maps(texture, flat)
    assert wd[:, 0].mean() > 0.9  # the textured IR wins the detail layer


def test_tif_weights_sum_to_one():
    w = TIFFusion().detail_weights(_img(17), _img(18))
    torch.testing.assert_close(w.sum(1), torch.ones(2, 37, 50))


def test_msvd_roundtrip_and_orthonormal_basis():
    x = _img(19, (2, 1, 20, 30))
    t, u = msvd_decompose(x)
    assert t.shape == (2, 4, 10, 15)
    torch.testing.assert_close(u.transpose(1, 2) @ u, torch.eye(4).expand(2, 4, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(msvd_reconstruct(t, u), x, atol=1e-5, rtol=0)
    # the approximation band carries the energy
    assert t[:, 0].abs().mean() > 10 * t[:, 1:].abs().mean()


def test_msvd_multilevel_and_odd_size():
    x = _img(20, (1, 1, 31, 45))
    torch.testing.assert_close(create_model("msvd", levels=3).fuse(x, x), x, atol=2e-5, rtol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", [n for n in CLASSICAL if n != "dwt"])
def test_gpu_matches_cpu(name):
    ir, vis = _img(21, (1, 1, 64, 80)), _img(22, (1, 3, 64, 80))
    cpu = create_model(name).fuse(ir, vis)
    gpu = create_model(name, device="cuda").fuse(ir.cuda(), vis.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", ["laplacian_pyramid", "gff"])
def test_low_precision_request_keeps_fp32(name):
    ir, vis = _img(23), _img(24)
    ref = create_model(name).fuse(ir, vis)
    with pytest.warns(UserWarning, match="fp32"):
        m = create_model(name, precision="bf16")
    assert m.compute_dtype == torch.float32
    torch.testing.assert_close(m.fuse(ir, vis), ref)


def test_quickstart_auto_includes_classical_methods():
    from sagebench.benchmark.runner import auto_methods

    chosen, _ = auto_methods()
    assert set(CLASSICAL) <= {m["type"] for m in chosen}


@pytest.mark.parametrize("name", CLASSICAL)
@pytest.mark.parametrize("hw", [(1, 1), (2, 3), (3, 5)])
def test_tiny_images(name, hw):
    ir, vis = torch.rand(1, 1, *hw), torch.rand(1, 3, *hw)
    out = create_model(name).fuse(ir, vis)
    assert out.shape == (1, 3, *hw) and torch.isfinite(out).all()


def test_guided_filter_channelwise_guides_equal_separate_calls():
    g, p = _img(25, (1, 2, 30, 34)), _img(26, (1, 2, 30, 34))
    both = guided_filter(g, p, 4, 0.01)
    for c in range(2):
        torch.testing.assert_close(both[:, c:c + 1], guided_filter(g[:, c:c + 1], p[:, c:c + 1], 4, 0.01))
