"""Architecture parity of the ports whose released weights are not in ../shared: the port's state_dict has
exactly the authors' keys and shapes, and filled with the same seeded random values it computes what the
authors' own modules computed on the same small input (tests/data/parity: made outside the repository
from fetched copies of the authors' code by ``make_parity.py``, which says how)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

PARITY = Path(__file__).parent / "data" / "parity"
_spec = importlib.util.spec_from_file_location("make_parity", PARITY / "make_parity.py")
make_parity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_parity)


def _cddfuse():
    from sagebench.fusion_models.zoo.cddfuse import CDDFuseNet

    return CDDFuseNet(), lambda net, x: net(x["ir"], x["vis"])


def _emma():
    from sagebench.fusion_models.zoo.emma import EMMANet

    return EMMANet(), lambda net, x: net(x["ir"], x["vis"])


def _rfn_nest():
    from sagebench.fusion_models.zoo.rfn_nest import RFNNestNet

    return RFNNestNet(), lambda net, x: net(x["ir"], x["vis"])


def _ignet():
    from sagebench.fusion_models.zoo.ignet import IGNetNet

    return IGNetNet(), lambda net, x: net(x["vis"], x["ir"])


def _coconet():
    from sagebench.fusion_models.zoo.coconet import CoCoNetNet

    return CoCoNetNet(), lambda net, x: net(x["vis"], x["ir"])


def _piafusion():
    from sagebench.fusion_models.zoo.piafusion import PIAFusionNet

    return PIAFusionNet(), lambda net, x: net(x["vis"], x["ir"])


def _crossfuse():
    from sagebench.fusion_models.zoo.crossfuse import CrossFuseNet

    return CrossFuseNet(), lambda net, x: net(x["ir"], x["vis"])


def _swinfusion():
    from sagebench.fusion_models.zoo.swinfusion import SwinFusionNet, mirror_pad

    def call(net, x):  # test_swinfusion.py: mirror padding above each side, model(A=ir, B=vis), crop
        h, w = x["ir"].shape[-2:]
        return net(mirror_pad(x["ir"]), mirror_pad(x["vis"]))[..., :h, :w]

    return SwinFusionNet(), call


def _metafusion():
    from sagebench.fusion_models.zoo.metafusion import MetaFusionNet

    return MetaFusionNet(), lambda net, x: net.fuse_brightness(x["ir"], x["vis"])


#: method -> (bare network, how the authors' composition calls it)
PORTS = {"cddfuse": _cddfuse, "crossfuse": _crossfuse, "coconet": _coconet, "emma": _emma, "ignet": _ignet,
         "metafusion": _metafusion, "piafusion": _piafusion, "rfn_nest": _rfn_nest, "swinfusion": _swinfusion}
#: ports whose release is a TensorFlow checkpoint: the seeded values are keyed by its variable names and
#: reach the port through the port's own checkpoint mapping
TF_PORTS = {"piafusion": "sagebench.fusion_models.zoo.piafusion"}


def _filled(net: torch.nn.Module, ref: dict, method: str = "") -> torch.nn.Module:
    if method in TF_PORTS:
        import importlib

        variables = {k: v.numpy() for k, v in make_parity.seeded_state(ref["shapes"], float(ref["scale"])).items()}
        net.load_state_dict(importlib.import_module(TF_PORTS[method]).state_from_tf(variables, net), strict=True)
        return net.eval()
    own = {k: tuple(v.shape) for k, v in net.state_dict().items() if v.is_floating_point()}
    assert own == ref["shapes"], "state_dict keys / shapes differ from the authors' modules"
    state = make_parity.seeded_state(own, float(ref["scale"]))
    net.load_state_dict({**net.state_dict(), **state}, strict=True)
    return net.eval()


#: absolute tolerance per port beyond the default 1e-6: float32 rounding of a deep network on another CPU. The
#: references were made on an AMD Zen 5 machine; on an Intel Xeon (AVX-512) oneDNN's other kernels move
#: CrossFuse's 0..255 output by up to 0.0037 (1.4e-5 of its range) in 53 of 43,500 pixels.
_ATOL = {"crossfuse": 5e-3}


def _atol(method: str) -> float:
    return _ATOL.get(method, 1e-6)


@pytest.mark.parametrize("method", sorted(PORTS))
def test_port_computes_what_the_authors_modules_compute(method, one_thread):
    ref = torch.load(PARITY / f"{method}.pt", map_location="cpu", weights_only=True)
    net, call = PORTS[method]()
    net = _filled(net, ref, method)
    with torch.no_grad():
        out = call(net, ref["inputs"])
    torch.testing.assert_close(out, ref["output"], rtol=1e-5, atol=_atol(method))
    assert ref["output"].std() > 1e-3  # the seeded net does not collapse to a constant


@pytest.mark.parametrize("method", sorted(PORTS))
def test_parity_fails_when_a_layer_changes(method, one_thread):
    """Changing one layer of the port (noise on a kernel) breaks parity: the check is not vacuous."""
    ref = torch.load(PARITY / f"{method}.pt", map_location="cpu", weights_only=True)
    net, call = PORTS[method]()
    net = _filled(net, ref, method)
    called: list[torch.nn.Module] = []  # convolutions the forward pass runs, in order (a release may hold
    hooks = [m.register_forward_hook(lambda m, i, o: called.append(m) if m not in called else None)  # unused ones)
             for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        call(net, ref["inputs"])
    for h in hooks:
        h.remove()
    for conv in (called[0], called[len(called) // 4], called[-1]):
        saved = conv.weight.detach().clone()
        with torch.no_grad():
            conv.weight.add_(0.5 * torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(1)))
            out = call(net, ref["inputs"])
            conv.weight.copy_(saved)
        assert not torch.allclose(out, ref["output"], rtol=1e-5, atol=_atol(method))


def test_cddfuse_loads_a_release_shaped_checkpoint(tmp_path):
    """The release holds four nn.DataParallel state_dicts; all four load strictly, a missing one is named."""
    from sagebench.errors import WeightsError
    from sagebench.fusion_models import build_fusion_model
    from sagebench.fusion_models.zoo.cddfuse import PARTS, CDDFuseNet

    net = CDDFuseNet()
    ckpt = {key: {f"module.{k}": v for k, v in getattr(net, attr).state_dict().items()} for key, attr in PARTS.items()}
    torch.save(ckpt, tmp_path / "CDDFuse_IVF.pth")
    model = build_fusion_model(dict(type="cddfuse", weights=str(tmp_path / "CDDFuse_IVF.pth")))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), net.state_dict().values()))
    with torch.no_grad():
        fused = model.fuse(torch.rand(1, 1, 16, 20), torch.rand(1, 3, 16, 20))
    assert fused.shape == (1, 3, 16, 20) and 0 <= float(fused.min()) and float(fused.max()) <= 1
    del ckpt["DetailFuseLayer"]
    torch.save(ckpt, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match="needs entries"):
        build_fusion_model(dict(type="cddfuse", weights=str(tmp_path / "partial.pth")))


@pytest.mark.parametrize("name, size", [("cddfuse", (20, 24)), ("emma", (40, 50)), ("rfn_nest", (20, 26)),
                                        ("ignet", (21, 30)), ("coconet", (20, 36)), ("piafusion", (18, 22)),
                                        ("crossfuse", (140, 150))])
def test_ports_fuse_any_size_in_range(name, size, one_thread):
    """Random-init models through the FusionModel contract: colour in, colour out, [0, 1]; EMMA's corner
    crops (40 x 50 is not a multiple of 32) and IGNet's padding to multiples of 8 keep the size."""
    from sagebench.fusion_models import create_model

    model = create_model(name, weights=None)
    g = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(1, 1, *size, generator=g), torch.rand(1, 3, *size, generator=g)
    with torch.no_grad():
        out = model.fuse(ir, vis)
    assert out.shape == (1, 3, *size) and 0 <= float(out.min()) and float(out.max()) <= 1
    assert float(out.max()) - float(out.min()) > 0.5  # stretched per image


def test_emma_fuses_corner_crops_as_its_test_script():
    """40 x 50: the 32 x 32 corners are fused separately; the top-left block is that crop's own output."""
    from sagebench.fusion_models.zoo.emma import EMMA, EMMANet

    model = EMMA(weights=None).eval()
    g = torch.Generator().manual_seed(3)
    ir, gray = torch.rand(1, 1, 40, 50, generator=g), torch.rand(1, 1, 40, 50, generator=g)
    with torch.no_grad():
        out = model.fuse_gray(ir, gray)
        raw = EMMANet.forward(model, ir[..., :32, :32], gray[..., :32, :32])
        corner = EMMANet.forward(model, ir[..., -32:, -32:], gray[..., -32:, -32:])
    a, b = out[..., :32, :32].flatten(), raw.flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.999999  # equal up to the global stretch
    c, d = out[..., 32:, 32:].flatten(), corner[..., 32 - 8:, 32 - 18:].flatten()
    assert torch.corrcoef(torch.stack([c, d]))[0, 1] > 0.999999


def test_piafusion_maps_every_variable_of_the_release():
    """The release's own .index (names and shapes, tests/data/parity/piafusion_release_index.json) maps onto
    the port strictly; the illumination classifier's variables are the only ones left over, and a missing
    fusion variable is an error naming it."""
    import json

    import numpy as np

    from sagebench.errors import WeightsError
    from sagebench.fusion_models.zoo.piafusion import PIAFusionNet, state_from_tf

    listing = json.loads((PARITY / "piafusion_release_index.json").read_text())["variables"]
    variables = {k: np.zeros(shape, np.float32) for k, shape in listing.items()}
    net = PIAFusionNet()
    state = state_from_tf(variables, net)
    assert set(state) == set(net.state_dict())
    assert {k for k in listing if not k.startswith("PIAFusion/")} == {k for k in listing if k.startswith("classifier/")}
    del variables["PIAFusion/encoder/conv5x5_ir/kernel"]
    with pytest.raises(WeightsError, match="conv5x5_ir/kernel"):
        state_from_tf(variables, net)


@pytest.mark.parametrize("name, parts", [("rfn_nest", ("nest", "rfn")), ("crossfuse", ("ae_ir", "ae_vi", "trans"))])
def test_multi_file_releases_load_each_part(name, parts, tmp_path):
    """RFN-Nest (auto-encoder + fusion network) and CrossFuse (two auto-encoders + fusion network) are
    released as one file per part: each loads strictly into its part; the identity combines their hashes."""
    from sagebench.errors import WeightsError
    from sagebench.fusion_models import create_model

    src = create_model(name, weights=None)
    files = []
    for part in parts:
        torch.save(getattr(src, part).state_dict(), tmp_path / f"{part}.model")
        files.append(str(tmp_path / f"{part}.model"))
    model = create_model(name, weights=tuple(files))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), src.state_dict().values()))
    assert model.weights_sha256 and len(model.weights_sha256) == 64
    with pytest.raises(WeightsError, match="does not match"):
        create_model(name, weights=tuple(reversed(files)) if len(files) == 2 else (files[2], files[1], files[0]))


def test_swinfusion_masks_and_window_chunks(monkeypatch, one_thread):
    """SwinFusion's stored 128 x 128 shifted-window masks are the authors' (sha256 of their buffer, recorded by
    make_parity.py), so the release's buffers load as they are; attention over windows in chunks (one image's
    windows split, or several whole images per call) gives the values of one call over all windows."""
    import hashlib

    from sagebench.fusion_models.zoo import swinfusion

    ref = torch.load(PARITY / "swinfusion.pt", map_location="cpu", weights_only=True)
    net = swinfusion.SwinFusionNet().eval()
    stored = net.state_dict()["layers_Ex_A.0.residual_group.blocks.1.attn_mask"]
    assert hashlib.sha256(stored.numpy().tobytes()).hexdigest() == ref["attn_mask_128_sha256"]
    g = torch.Generator().manual_seed(5)
    ir, vis = torch.rand(2, 1, 40, 56, generator=g), torch.rand(2, 1, 40, 56, generator=g)  # 5 x 7 windows each
    with torch.no_grad():
        whole = net(ir, vis)
        for chunk in (3, 70):  # 3: each image's 35 windows in 12 calls; 70: both images in one call
            monkeypatch.setattr(swinfusion, "_WINDOW_CHUNK", chunk)
            torch.testing.assert_close(net(ir, vis), whole, rtol=1e-6, atol=1e-7)


def test_swinfusion_and_metafusion_through_the_contract(one_thread):
    """Random-init models through ``fuse``: any size at or above the minimum, colour in and out, [0, 1].
    MetaFusion replaces the HSV value only: hue and saturation (channel ratios) stay the visible image's, the
    value is the clipped fused brightness, and a grey visible image gives grey."""
    from sagebench.fusion_models import create_model

    g = torch.Generator().manual_seed(0)
    ir, rgb = torch.rand(1, 1, 19, 27, generator=g), torch.rand(1, 3, 19, 27, generator=g)
    with torch.no_grad():
        swin = create_model("swinfusion", weights=None).fuse(ir, rgb)
        meta = create_model("metafusion", weights=None)
        out = meta.fuse(ir, rgb)
        bright = meta.fuse_brightness(ir, rgb).clamp(0, 1)
        grey = meta.fuse(ir, rgb[:, :1])
    assert swin.shape == out.shape == (1, 3, 19, 27) and grey.shape == (1, 1, 19, 27)
    for t in (swin, out, grey):
        assert 0 <= float(t.min()) and float(t.max()) <= 1
    torch.testing.assert_close(out.amax(1, keepdim=True), bright)
    ratio_in, ratio_out = rgb / rgb.amax(1, keepdim=True), out / out.amax(1, keepdim=True)
    torch.testing.assert_close(ratio_out, ratio_in, rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="at least 8 x 8"):
        create_model("swinfusion", weights=None).fuse(ir[..., :7, :], rgb[..., :7, :])
