"""SAGE teacher: architecture facts of the spec (parameter counts, shapes), the persistent repository
(keys/values handed from the image stream to the mask streams, not detached), and the registry entry."""

from __future__ import annotations

import pytest
import torch

from sagebench.fusion_models import create_model, list_models
from sagebench.fusion_models.sage.attention import SpatialTransformer
from sagebench.fusion_models.sage.student import SAGEStudentNet
from sagebench.fusion_models.sage.teacher import SAGETeacherNet, SPABlock, unmasked_inputs

pytestmark = pytest.mark.usefixtures("one_thread")


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_match_spec():
    net = SAGETeacherNet()
    # 2,787,025 upstream minus the never-used compress_and_upsample (147,520)
    assert _count(net) == 2_639_505
    assert _count(SpatialTransformer(64, 2, 32)) == 91_456
    assert _count(net.img_decoder1) == 1_106_368
    assert _count(net.img_decoder2) == 78_593
    assert _count(net.encoder_img1) == 4_944
    assert _count(net.encoder_mask2_ir) == 18_496
    assert _count(net.spa.middle_img) == 73_792
    assert _count(net.compress_and_downsample_img1) == 147_520
    assert _count(net.compress_to_32[0]) == 8_224
    # no BatchNorm anywhere, LeakyReLU as the last op of the decoder (unbounded output)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert isinstance(net.img_decoder2[-1], torch.nn.LeakyReLU)


def test_intermediates_match_student_shapes():
    torch.manual_seed(0)
    teacher, student = SAGETeacherNet(), SAGEStudentNet()
    y, ir = torch.rand(2, 1, 32, 48), torch.rand(2, 1, 32, 48)
    vm, im = torch.rand(2, 4, 32, 48), torch.rand(2, 4, 32, 48)
    with torch.no_grad():
        out, feats = teacher(y, ir, vm, im)
        _, s_feats = student(y, ir)
    assert out.shape == (2, 1, 32, 48)
    assert [f.shape for f in feats] == [f.shape for f in s_feats]
    assert [tuple(f.shape[-2:]) for f in feats] == [(32, 48), (16, 24), (8, 12), (16, 24), (32, 48)]


def test_wrong_mask_count_is_rejected():
    net = SAGETeacherNet(width=16)
    x = torch.rand(1, 1, 32, 32)
    with pytest.raises(ValueError, match="4 mask channels"):
        net(x, x, torch.rand(1, 3, 32, 32), torch.rand(1, 4, 32, 32))


def _randomise_proj_out(block: SPABlock) -> None:
    for m in block.modules():
        if isinstance(m, SpatialTransformer):
            torch.nn.init.normal_(m.proj_out.weight, std=0.2)


def test_repository_routes_image_keys_to_mask_streams():
    """The mask streams see the image only through the repository (keys/values of img_transformer1)."""
    torch.manual_seed(0)
    spa = SPABlock(16, heads=2, dim_head=8)
    _randomise_proj_out(spa)
    img, vi, ir = torch.randn(1, 16, 16, 16), torch.randn(1, 16, 16, 16), torch.randn(1, 16, 16, 16)
    _, vi_a, _ = spa(img, vi, ir)
    _, vi_b, _ = spa(img + torch.randn_like(img), vi, ir)
    assert not torch.allclose(vi_a, vi_b)
    # not detached: a loss on the visible mask stream reaches img_transformer1's key projection
    img.requires_grad_(True)
    _, vi2, _ = spa(img, vi, ir)
    vi2.square().mean().backward()
    g = spa.img_transformer1.block.attn2.to_k.weight.grad
    assert g is not None and g.abs().sum() > 0
    assert img.grad is not None and img.grad.abs().sum() > 0


def test_spa_weights_shared_across_scales():
    net = SAGETeacherNet(width=16)
    calls = []
    net.spa.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape[-2:])))
    x = torch.rand(1, 1, 32, 64)
    with torch.no_grad():
        net(x, x, *unmasked_inputs(x, x, 4))
    assert calls == [(32, 64), (16, 32), (8, 16), (16, 32), (32, 64)]


def test_registered_fusion_model_fuses_colour_and_pads():
    assert "sage_teacher" in list_models()
    model = create_model("sage_teacher", width=16)
    ir, vis = torch.rand(1, 1, 40, 56), torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        fused = model.fuse(ir, vis)
    assert fused.shape == (1, 3, 40, 56)
    assert 0 <= float(fused.min()) and float(fused.max()) <= 1


def test_teacher_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    a = create_model("sage_teacher", width=16)
    path = tmp_path / "teacher.pt"
    torch.save(a.state_dict(), path)
    b = create_model("sage_teacher", width=16, weights=str(path))
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    assert b.weights_sha256 is not None
