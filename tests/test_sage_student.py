"""SAGE student: architecture, strict loading of the released weights, parity with the authors'
fused images, and the optional inference speed-ups."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagebench.errors import WeightsError
from sagebench.fusion_models import create_model
from sagebench.fusion_models.sage.student import SAGEStudentNet
from sagebench.io import read_image, to_gray_if_equal, to_tensor, to_uint8

PARITY_IDS = [f"0000{i}" for i in range(6)]


def _pair(shared, stem):
    ir = to_tensor(to_gray_if_equal(read_image(shared / "data/M3FD/ir" / f"{stem}.png")))[None]
    vis = to_tensor(read_image(shared / "data/M3FD/vis" / f"{stem}.png"))[None]
    return ir, vis


def test_architecture_matches_release():
    net = SAGEStudentNet()
    assert sum(p.numel() for p in net.parameters()) == 135_617
    sd = net.state_dict()
    assert len(sd) == 121 and sum(v.numel() for v in sd.values()) == 136_722
    out, feats = net(torch.rand(1, 1, 37, 45), torch.rand(1, 1, 37, 45))
    assert out.shape == (1, 1, 37, 45)
    assert [f.shape[-2:] for f in feats] == [(37, 45), (18, 22), (9, 11), (18, 22), (37, 45)]


def test_random_init_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("SAGEBENCH_OFFLINE", "1")
    with pytest.raises(WeightsError, match="sage_student_official"):
        create_model("sage_student")
    m = create_model("sage_student", weights=None)
    assert m.weights_sha256 is None


def test_missing_checkpoint_path_is_named(tmp_path):
    with pytest.raises(WeightsError, match="nothing.pt: checkpoint not found"):
        create_model("sage_student", weights=str(tmp_path / "nothing.pt"))


@pytest.mark.parametrize("stem", PARITY_IDS)
def test_parity_with_official_outputs(shared_dir, stem):
    model = create_model("sage_student")
    assert model.weights_sha256.startswith("ecfde477")
    ir, vis = _pair(shared_dir, stem)
    with torch.inference_mode():
        ours = to_uint8(model.fuse(ir, vis)[0]).astype(np.int16)
    ref = read_image(shared_dir / "reference/sage_official" / f"{stem}.png").astype(np.int16)
    diff = np.abs(ours - ref)
    assert diff.max() <= 1, f"{stem}: max abs diff {diff.max()}"
    assert diff.mean() < 1e-3, f"{stem}: mean abs diff {diff.mean()}"


def test_weights_load_strict_from_manifest(shared_dir):
    state = torch.load(shared_dir / "weights/sage_student_official.pt", map_location="cpu", weights_only=True)
    net = SAGEStudentNet()
    net.load_state_dict(state, strict=True)


@pytest.fixture(scope="module")
def crop():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 1, 96, 128, generator=g), torch.rand(2, 3, 96, 128, generator=g)


@pytest.mark.parametrize("opts,tol", [
    (dict(fold_bn=True), 1e-5),
    (dict(channels_last=True), 1e-5),
    (dict(fold_bn=True, channels_last=True), 1e-5),
    (dict(precision="bf16"), 3e-2),
    (dict(precision="fp16"), 3e-2),
])
def test_speedups_keep_outputs(shared_dir, crop, opts, tol):
    """Stated tolerances (max abs, [0, 1] scale): fp32 rewrites 1e-5, half precision 3e-2."""
    ir, vis = crop
    plain = create_model("sage_student")
    fast = create_model("sage_student", **opts)
    if opts.get("precision") == "fp16" and not torch.cuda.is_available():
        try:
            fast.fuse(ir[:1, :, :8, :8], vis[:1, :, :8, :8])
        except RuntimeError as exc:  # some CPU builds lack fp16 kernels
            pytest.skip(f"fp16 not supported on this CPU build: {exc}")
    with torch.inference_mode():
        a, b = plain.fuse(ir, vis), fast.fuse(ir, vis)
    assert b.dtype == torch.float32
    assert (a - b).abs().max().item() < tol


def test_fold_bn_replaces_batchnorm(shared_dir):
    m = create_model("sage_student", fold_bn=True)
    assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())


def test_cpu_default_is_the_fast_path_and_equivalent():
    """On the CPU in fp32 the student fuses through a folded channels_last copy unless told otherwise; the
    model, its state_dict and its parameter count stay as released; the copy follows new weights; its output
    equals the plain path's to 1e-4."""
    import torch
    from torch import nn

    from sagebench.fusion_models import create_model

    fast = create_model("sage_student", weights=None)
    plain = create_model("sage_student", weights=None, fold_bn=False, channels_last=False)
    assert fast._fast_default and not plain._fast_default
    assert list(fast.state_dict()) == list(plain.state_dict())  # saving it gives a normal checkpoint
    assert any(isinstance(m, nn.BatchNorm2d) for m in fast.modules()) and fast.num_parameters() == 135_617
    torch.manual_seed(1)
    sd = {k: (torch.randn_like(v) * 0.1 if v.is_floating_point() else v) for k, v in plain.state_dict().items()}
    for k in sd:
        if k.endswith("running_var"):
            sd[k] = sd[k].abs() + 0.5
    ir, vis = torch.rand(1, 1, 40, 56), torch.rand(1, 1, 40, 56)
    with torch.inference_mode():
        fast.fuse(ir, vis)  # builds the copy from the first weights
    plain.load_state_dict(sd)
    fast.load_state_dict(sd)  # new weights in place: the copy must follow
    with torch.inference_mode():
        a, b = plain.fuse(ir, vis), fast.fuse(ir, vis)
    assert (a - b).abs().max() < 1e-4 and not torch.equal(a, b)  # the folded arithmetic, not the plain one
    assert not create_model("sage_student", weights=None, device="cpu", precision="bf16")._fast_default


def test_receptive_field_fits_the_tiling_halo():
    """An output pixel's gradient reaches 37 input pixels each way (max pooling passes it to one pixel of
    each window, so a batch of random inputs is taken together): the tiling halo, a multiple of 4, covers it
    and the next smaller multiple of 4 does not."""
    from sagebench.fusion_models.sage import student as mod

    torch.manual_seed(0)
    net = mod.SAGEStudentNet().double().eval()
    vis = torch.rand(16, 1, 160, 160, dtype=torch.float64, requires_grad=True)
    ir = torch.rand(16, 1, 160, 160, dtype=torch.float64, requires_grad=True)
    net(vis, ir)[0][:, :, 80, 80].sum().backward()
    support = ((vis.grad != 0) | (ir.grad != 0)).any(0).any(0)
    reach = max((support.any(d).nonzero().flatten() - 80).abs().max().item() for d in (0, 1))
    assert reach == 37
    assert mod._HALO % 4 == 0 and mod._HALO - 4 < reach <= mod._HALO


def test_tile_shape_follows_the_allocator(monkeypatch):
    """Small tiles under glibc's own settings (activations stay below its mmap ceiling: what the CPU
    inference gets with ``SAGEBENCH_ALLOCATOR=system``), large ones under sagebench's setting (the command's,
    or the scoped one the inference runs in); one pass for images within a tile and its halo or with sides
    not multiples of 4."""
    from sagebench import memory
    from sagebench.fusion_models.sage import student as mod

    monkeypatch.setattr(memory, "_applied", None)
    monkeypatch.setattr(memory, "_scoped", None)  # not a setting lingering from an earlier test's block
    monkeypatch.setattr(mod, "_TILE_SMALL", 320)
    assert mod.tile_shape(768, 1024) == (256, 256)  # 3 x 4 equal tiles, not 320, 320, 128 x 320, 320, 320, 64
    assert mod.tile_shape(360, 360) is None and mod.tile_shape(364, 360) == (184, 180)
    assert mod.tile_shape(766, 1024) is None
    assert mod.tile_shape(768, 1024, "cuda") is None  # small tiles are for glibc's heap, not a GPU
    monkeypatch.setattr(memory, "_applied", {"mmap_threshold": 1 << 30})
    assert mod.tile_shape(768, 1024) is None and mod.tile_shape(4096, 4096) == (1368, 1368)
    monkeypatch.setattr(memory, "_applied", None)
    monkeypatch.setattr(memory, "_scoped", dict(memory.TUNED))
    assert mod.tile_shape(768, 1024) is None


@pytest.mark.parametrize("fast", [True, False])
def test_large_images_are_fused_in_tiles_with_the_same_values(monkeypatch, fast):
    """Images larger than a tile run on overlapping tiles: the values of one pass over the whole image (to
    float rounding), on both inference paths; sides that are not multiples of 4 are not tiled (the
    upsampling scale would change). The weights are all positive averages, so every pixel inside the
    receptive field matters: a 16-pixel halo is visibly wrong, the shipped one is not."""
    from sagebench.fusion_models.sage import student as mod

    model = mod.SAGEStudent(weights=None).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
                m.bias.fill_(0.01)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    if not fast:
        model.configure(fold_bn=False, channels_last=False)
    g = torch.Generator().manual_seed(0)
    ir, gray = torch.rand(1, 1, 232, 296, generator=g), torch.rand(1, 1, 232, 296, generator=g)
    calls = []
    real = mod.tiled

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    with torch.no_grad():
        whole = model.fuse_gray(ir, gray)  # within one tile: one pass
        monkeypatch.setattr(mod, "_TILE_SMALL", 64)
        monkeypatch.setattr(mod, "_TILE_LARGE", 64)
        monkeypatch.setattr(mod, "tiled", spy)
        parts = model.fuse_gray(ir, gray)
        model.fuse_gray(ir[..., :230, :], gray[..., :230, :])
        monkeypatch.setattr(mod, "_HALO", 16)
        short = model.fuse_gray(ir, gray)
    assert len(calls) == 2  # 230 rows: not tiled
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-5)  # float rounding of other conv shapes
    assert (short - whole).abs().max() > 1e-3


def test_tiles_keep_the_released_outputs_at_1024x768(shared_dir):
    """With the released weights the default path's tiles give the one-pass output of a 1024 x 768 image
    to within 1e-6 (in practice bit for bit: the fused images and every reference result stay as they were)."""
    from sagebench.fusion_models.sage import student as mod

    model = mod.SAGEStudent().eval()
    g = torch.Generator().manual_seed(1)
    ir, gray = torch.rand(1, 1, 768, 1024, generator=g), torch.rand(1, 1, 768, 1024, generator=g)
    with torch.inference_mode():
        net = model._fast_copy()
        cl = torch.channels_last
        whole = mod.SAGEStudentNet.forward(net, gray.contiguous(memory_format=cl), ir.contiguous(memory_format=cl))[0]
        tiled = mod.tiled(lambda a, b: mod.SAGEStudentNet.forward(net, a, b)[0], gray, ir,
                          (256, 256), mod._HALO)
    assert (tiled - whole).abs().max().item() <= 1e-6
