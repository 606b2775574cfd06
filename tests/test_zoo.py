"""Ported deep methods: manifest, strict loading of the released weights, conventions, and parity with
the authors' own published fused images (``../shared/reference``, see ``reference/SOURCE.zoo.md``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sagebench.errors import ConfigError, WeightsError
from sagebench.fusion_models import create_model, list_models
from sagebench.fusion_models import zoo as manifest  # the ports' weights entries (zoo.ZOO_WEIGHTS)
from sagebench.fusion_models.zoo._common import load_state, opencv_ycrcb_to_rgb_8bit
from sagebench.io import read_image, to_gray_if_equal, to_tensor, to_uint8
from sagebench.weights import MANIFEST, get_weights, sha256_file

ZOO = ["seafusion", "ifcnn_max", "tardal", "tardal_plus", "tardal_plusplus", "didfuse", "densefuse",
       "densefuse_rgb", "datfuse", "lrrnet", "ship", "u2fusion"]
UNLICENSED = {"ifcnn_max", "didfuse_encoder", "didfuse_decoder", "densefuse_gray", "densefuse_rgb", "datfuse",
              "lrrnet", "ship", "u2fusion_data", "u2fusion_index"}


# ------------------------------------------------------------------------------------------ no shared data
def test_all_registered_with_cards():
    for name in ZOO:
        assert name in list_models()
        card = create_model(name, weights=None).card
        for key in ("paper", "year", "venue", "licence", "input", "params", "checked", "code"):
            assert card.get(key), f"{name}: card lacks {key}"


@pytest.mark.parametrize("name", ZOO)
def test_random_init_builds_and_fuses(name):
    m = create_model(name, weights=None)
    assert m.weights_sha256 is None
    assert m.num_parameters() == m.card["params"]
    torch.manual_seed(0)
    ir, vis = torch.rand(1, 1, 24, 30), torch.rand(1, 3, 24, 30)
    with torch.no_grad():
        out = m.fuse(ir, vis)
        grey = m.fuse(ir, vis[:, :1])
    assert out.shape == (1, 3, 24, 30) and grey.shape == (1, 1, 24, 30)
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_manifest_entries():
    for spec in manifest.ZOO_WEIGHTS:
        assert MANIFEST[spec.name] is spec or MANIFEST[spec.name] == spec
        assert spec.url.startswith("https://github.com/") and len(spec.sha256) == 64 and spec.size > 0
        assert spec.licence and spec.source
        assert spec.redistributable == (spec.name not in UNLICENSED), spec.name
        assert spec.relpath.split("/")[0] in {"seafusion", "ifcnn", "tardal", "didfuse", "densefuse", "datfuse",
                                              "lrrnet", "ship", "u2fusion"}
    for spec in manifest.UPSTREAM_WEIGHTS:  # architecture-parity ports: upstream only, pinned on first use
        assert MANIFEST[spec.name] is spec and spec.url.startswith("https://github.com/")
        assert spec.redistributable == spec.licence.startswith("MIT"), spec.name
        assert (len(spec.sha256) == 64 and spec.size > 0) or (spec.pinned_on_first_use and (
            len(spec.git_blob) == 40 or "no git blob id" in spec.source))


def test_opencv_ycrcb_to_rgb_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    t = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    ours = to_uint8(opencv_ycrcb_to_rgb_8bit(t)[0])
    np.testing.assert_array_equal(ours, cv2.cvtColor(a, cv2.COLOR_YCrCb2RGB))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        create_model("datfuse", weights=str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="bad.pth"):
        load_state(bad)
    with pytest.raises(WeightsError, match="two checkpoints"):
        create_model("didfuse", weights="only_one.pkl")


def test_tardal_batch_statistics(tmp_path):
    m = create_model("tardal", weights=None)
    torch.manual_seed(1)
    ir, vis = torch.rand(2, 1, 20, 24), torch.rand(2, 1, 20, 24)
    with torch.no_grad():
        both = m.fuse(ir, vis)
        one = m.fuse(ir[1:], vis[1:])
        # per-image statistics: the result for image 1 does not depend on the batch it is in
        torch.testing.assert_close(both[1:], one, atol=1e-6, rtol=0)
        # and differs from running-statistics (eval) BatchNorm
        m_run = create_model("tardal", weights=None, bn_mode="running")
        m_run.load_state_dict(m.state_dict())
        assert (m_run.fuse(ir, vis) - both).abs().max() > 1e-3
    # running buffers are never touched
    assert all(int(b.num_batches_tracked) == 0 for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    with pytest.raises(ConfigError, match="cannot be folded"):
        create_model("tardal", weights=None, fold_bn=True)
    assert create_model("tardal_plus", weights=None, fold_bn=True).bn_mode == "running"
    with pytest.raises(ConfigError, match="bn_mode"):
        create_model("tardal", weights=None, bn_mode="train")


def test_seafusion_output_is_stretched():
    m = create_model("seafusion", weights=None)
    with torch.no_grad():
        out = m.fuse(torch.rand(2, 1, 16, 16), torch.rand(2, 3, 16, 16))
    for img in out:
        assert img.min() == 0.0 and img.max() == 1.0


def test_official_8bit_outputs_lie_on_the_8bit_grid():
    for name in ("datfuse", "ifcnn_max", "seafusion", "densefuse"):
        m = create_model(name, weights=None)
        with torch.no_grad():
            out = m.fuse(torch.rand(1, 1, 12, 12), torch.rand(1, 1, 12, 12))
        torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)


# ------------------------------------------------------------------------------------------ shared weights
@pytest.mark.parametrize("spec", manifest.ZOO_WEIGHTS, ids=lambda s: s.name)
def test_local_weights_match_manifest(shared_dir, spec):
    path = shared_dir / "weights" / spec.relpath
    assert path.is_file(), path
    assert get_weights(spec.name) == path
    assert path.stat().st_size == spec.size and sha256_file(path) == spec.sha256


@pytest.mark.parametrize("name", ZOO)
def test_release_loads_strictly(shared_dir, name):
    m = create_model(name)  # default = the authors' release, strict=True, weights_only=True
    assert m.weights_sha256 and len(m.weights_sha256) == 64
    assert m.num_parameters() == m.card["params"]


def test_didfuse_accepts_explicit_paths(shared_dir):
    d = shared_dir / "weights" / "didfuse"
    m = create_model("didfuse", weights=(d / "Encoder_weight_IJCAI.pkl", d / "Decoder_weight_IJCAI.pkl"))
    ref = create_model("didfuse")
    assert m.weights_sha256 == ref.weights_sha256
    for (k, a), b in zip(m.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), k


def _load_pair(shared: Path, subset: str, ir_name: str, vis_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    base = shared / "reference" / "inputs" / subset
    ir = to_tensor(to_gray_if_equal(read_image(base / "ir" / ir_name)))
    vis = to_tensor(to_gray_if_equal(read_image(base / "vis" / vis_name)))
    return ir[None], vis[None]


# (model, set, ir file, vis file, published output); the first case of each model runs by default
PARITY = [
    ("seafusion", "tno_eval", "01.png", "01.png", "seafusion/tno_eval/01.png"),
    ("seafusion", "tno_eval", "02.png", "02.png", "seafusion/tno_eval/02.png"),
    ("seafusion", "tno_eval", "03.png", "03.png", "seafusion/tno_eval/03.png"),
    ("ifcnn_max", "ifcnn_iv", "Camp_IR.png", "Camp_Vis.png", "ifcnn/ifcnn_iv/IFCNN-MAX-IV-Camp.png"),
    ("ifcnn_max", "ifcnn_iv", "Gun_IR.png", "Gun_Vis.png", "ifcnn/ifcnn_iv/IFCNN-MAX-IV-Gun.png"),
    ("ifcnn_max", "ifcnn_iv", "Road_IR.png", "Road_Vis.png", "ifcnn/ifcnn_iv/IFCNN-MAX-IV-Road.png"),
    ("tardal", "tardal_sample", "M3FD_00471.png", "M3FD_00471.png", "tardal/tardal_sample/M3FD_00471.png"),
    ("didfuse", "didfuse_flir", "IR2.jpg", "VIS2.jpg", "didfuse/didfuse_flir/F2.png"),
    ("didfuse", "didfuse_flir", "IR1.jpg", "VIS1.jpg", "didfuse/didfuse_flir/F1.png"),
    ("didfuse", "didfuse_tno", "IR1.bmp", "VIS1.bmp", "didfuse/didfuse_tno/F1.png"),
    ("didfuse", "didfuse_tno", "IR2.bmp", "VIS2.bmp", "didfuse/didfuse_tno/F2.png"),
    ("didfuse", "didfuse_tno", "IR3.bmp", "VIS3.bmp", "didfuse/didfuse_tno/F3.png"),
    ("datfuse", "datfuse", "2.bmp", "2.bmp", "datfuse/datfuse/2.bmp"),
    ("datfuse", "datfuse", "1.bmp", "1.bmp", "datfuse/datfuse/001.bmp"),
    *[("lrrnet", "tno21", f"IR{k}.png", f"VIS{k}.png", f"lrrnet/tno21/result_lrrnet_IR{k}.png") for k in range(1, 7)],
    # SHIP: no published outputs; outputs of the authors' code run by the suite's makers (reference/ship/SOURCE.md)
    *[("ship", "tno_eval", f"0{k}.png", f"0{k}.png", f"ship/tno_eval/0{k}.png") for k in range(1, 4)],
    # U2Fusion: third-party outputs (L. Tang) of the authors' TF checkpoint, IR first (reference/SOURCE.zoo.md)
    *[("u2fusion", "tno_eval", f"0{k}.png", f"0{k}.png", f"u2fusion/tno_eval/0{k}.png") for k in range(1, 4)],
]


def _parity_params():
    seen: set[str] = set()
    out = []
    for case in PARITY:
        marks = [pytest.mark.slow] if case[0] in seen else []
        seen.add(case[0])
        out.append(pytest.param(*case, marks=marks, id=f"{case[0]}-{case[1]}-{Path(case[4]).stem}"))
    return out


@pytest.mark.parametrize("name,subset,ir_name,vis_name,expected", _parity_params())
def test_parity_with_published_outputs(shared_dir, name, subset, ir_name, vis_name, expected):
    ir, vis = _load_pair(shared_dir, subset, ir_name, vis_name)
    model = create_model(name)
    with torch.inference_mode():
        fused = model.fuse(ir, vis)[0]
    ours = to_uint8(fused).astype(np.int16)
    ref = read_image(shared_dir / "reference" / expected).astype(np.int16)
    if ref.ndim == 3 and ours.ndim == 2:  # grey input, saved by the authors as an RGB image
        ours = np.repeat(ours[..., None], 3, axis=2)
    assert ours.shape == ref.shape
    diff = np.abs(ours - ref)
    assert diff.max() <= 1, f"{name} {expected}: max diff {diff.max()}"
    assert diff.mean() < 1e-3, f"{name} {expected}: mean diff {diff.mean():.5f} grey levels"


@pytest.mark.parametrize("name", ["densefuse", "densefuse_rgb"])
def test_densefuse_release_gives_a_sane_image(shared_dir, name):
    """No published outputs of the PyTorch DenseFuse weights exist: check strict load + a sane result."""
    ir, vis = _load_pair(shared_dir, "ifcnn_iv", "Camp_IR.png", "Camp_Vis.png")
    ir, vis = ir[..., 40:200, 60:260], vis[..., 40:200, 60:260]  # a 160 x 200 crop keeps the test fast
    m = create_model(name)
    with torch.inference_mode():
        out = m.fuse(ir, vis)
    assert out.shape == vis.shape
    o = out.flatten().double()
    assert 0.05 < o.mean() < 0.95 and o.std() > 0.05
    for src in (ir, vis):
        corr = torch.corrcoef(torch.stack([o, src.flatten().double()]))[0, 1]
        assert corr > 0.3, f"{name}: fused image barely related to an input (corr {corr:.2f})"
    # averaging encodings: fusing an image with itself is close to reconstructing it (autoencoder)
    with torch.inference_mode():
        rec = m.fuse(vis, vis)
    assert (rec - vis).abs().mean() < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs,suffix", [("seafusion", {}, "SeAFusion"),
                                                ("ifcnn_max", {"normalize": "imagenet"}, "IFCNN")])
@pytest.mark.parametrize("image", ["carLight", "fight"])
def test_colour_sanity_against_vifb_jpegs(shared_dir, name, kwargs, suffix, image):
    """Third-party VIFB outputs are JPEG-compressed (q ~75): only a loose check of the colour path."""
    ir, vis = _load_pair(shared_dir, "vifb", f"{image}.jpg", f"{image}.jpg")
    assert vis.shape[1] == 3
    with torch.inference_mode():
        fused = create_model(name, **kwargs).fuse(ir, vis)[0]
    ref = read_image(shared_dir / "reference" / name.split("_")[0] / "vifb" / f"{image}_{suffix}.jpg")
    diff = np.abs(to_uint8(fused).astype(np.int16) - ref.astype(np.int16))
    assert diff.mean() < 2.5, f"{name} {image}: mean diff {diff.mean():.2f} (JPEG loss alone is ~1-1.7)"


def test_models_command_lists_every_method_with_parameters():
    from sagebench.benchmark.commands.models import model_table

    df = model_table().set_index("model")
    for name in ZOO:
        cls_card = create_model(name, weights=None).card
        assert df.loc[name, "params"] == cls_card["params"]
        assert df.loc[name, "paper"] == cls_card["paper"]


def test_quickstart_auto_includes_zoo_when_weights_are_local(shared_dir):
    from sagebench.benchmark.runner import auto_methods

    chosen, excluded = auto_methods(str(shared_dir / "weights"))
    assert set(ZOO) <= {m["type"] for m in chosen}, excluded


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs,case", [
    ("seafusion", {"stretch": False}, PARITY[0]),             # without the min-max stretch: mean 7-20
    ("tardal", {"bn_mode": "running"}, PARITY[6]),            # stored BN statistics of tardal.pt: mean ~19
    ("ifcnn_max", {"normalize": "imagenet"}, PARITY[3]),     # the multi-focus convention on IV images
    ("ifcnn_max", {}, ("ifcnn_max", "ifcnn_iv", "Camp_IR.png", "Camp_Vis.png",
                       "ifcnn/ifcnn_iv_old/IFCNN-MAX-IV-Camp.png")),  # older results, earlier model
], ids=["seafusion-no-stretch", "tardal-running-bn", "ifcnn-imagenet", "ifcnn-old-results"])
def test_conventions_matter(shared_dir, name, kwargs, case):
    """The documented quirks are necessary: dropping one breaks parity by many grey levels."""
    _, subset, ir_name, vis_name, expected = case
    ir, vis = _load_pair(shared_dir, subset, ir_name, vis_name)
    with torch.inference_mode():
        fused = create_model(name, **kwargs).fuse(ir, vis)[0]
    ours = to_uint8(fused).astype(np.int16)
    ref = read_image(shared_dir / "reference" / expected).astype(np.int16)
    if ref.ndim == 3 and ours.ndim == 2:
        ours = np.repeat(ours[..., None], 3, axis=2)
    assert np.abs(ours - ref).mean() > 3.0


@pytest.mark.parametrize("name", ["tardal", "didfuse", "densefuse", "densefuse_rgb"])
def test_too_small_images_are_a_clear_error(name):
    with pytest.raises(ValueError, match="at least 2 x 2"):
        create_model(name, weights=None).fuse(torch.rand(1, 1, 1, 5), torch.rand(1, 1, 1, 5))


def test_datfuse_quantises_like_the_official_uint8_cast(shared_dir):
    """The official ``(out * 255).astype(uint8)`` wraps negative outputs (numpy's cast); ``quantize='clip'``
    clips them to 0. TNO 07 (CDDFuse's numbering) has three such pixels."""
    from sagebench.fusion_models.zoo.datfuse import numpy_uint8_cast

    x = np.array([-254.9, -5.3, -0.7, 0.0, 0.4, 3.99, 254.99], dtype=np.float32)
    assert numpy_uint8_cast(torch.from_numpy(x)).numpy().tolist() == x.astype(np.uint8).tolist()
    ir = to_tensor(to_gray_if_equal(read_image(shared_dir / "data" / "TNO" / "ir" / "07.png")))[None]
    vis = to_tensor(to_gray_if_equal(read_image(shared_dir / "data" / "TNO" / "vis" / "07.png")))[None]
    with torch.inference_mode():
        official = to_uint8(create_model("datfuse").fuse(ir, vis)[0]).astype(int)
        clipped = to_uint8(create_model("datfuse", quantize="clip").fuse(ir, vis)[0]).astype(int)
    differ = official != clipped
    assert differ.sum() == 3 and (official[differ] >= 241).all() and (clipped[differ] == 0).all()
    with pytest.raises(ConfigError, match="quantize must be one of"):
        create_model("datfuse", quantize="round", weights=None)


def test_densefuse_l1_norm_strategy():
    """The paper's l1-norm rule: with r = 0 it is the authors' TensorFlow ``L1_norm`` (per-pixel channel-l1
    shares), with r = 1 the shares of 3 x 3 block means; it is not the release's addition."""
    from sagebench.fusion_models.zoo.densefuse import l1_norm_fusion

    torch.manual_seed(0)
    fa, fb = torch.rand(1, 64, 9, 11), torch.rand(1, 64, 9, 11) * 2
    a, b = fa.numpy(), fb.numpy()
    la, lb = np.abs(a).sum(1), np.abs(b).sum(1)
    expected = (la / (la + lb))[:, None] * a + (lb / (la + lb))[:, None] * b
    assert np.allclose(l1_norm_fusion(fa, fb, 0).numpy(), expected, atol=1e-6)
    pad_a, pad_b = np.pad(la[0], 1), np.pad(lb[0], 1)
    count = np.pad(np.ones_like(la[0]), 1)
    box = lambda m: sum(m[i:i + 9, j:j + 11] for i in range(3) for j in range(3))  # noqa: E731
    wa = (box(pad_a) / box(count)) / (box(pad_a) / box(count) + box(pad_b) / box(count))
    assert np.allclose(l1_norm_fusion(fa, fb, 1).numpy(), wa[None, None] * a + (1 - wa)[None, None] * b, atol=1e-6)
    assert torch.equal(l1_norm_fusion(fa, torch.zeros_like(fb)), fa)
    zero = torch.zeros_like(fa)
    assert torch.equal(l1_norm_fusion(zero, zero), zero)  # no activity anywhere: equal shares, no NaN
    m = create_model("densefuse.l1", weights=None)
    assert m.strategy == "l1_norm" and create_model("densefuse", weights=None).strategy == "addition"
    with pytest.raises(ConfigError, match="strategy must be one of"):
        create_model("densefuse", weights=None, strategy="max")


def test_u2fusion_reads_the_tf_checkpoint_and_states_its_order(shared_dir, tmp_path):
    """The TF1 checkpoint is read without TensorFlow (every variable, strict); the authors' own order
    (visible first, max scaling) is a different image from the published one; a broken file is named."""
    from sagebench.tf_checkpoint import read_tf_checkpoint

    vars_ = read_tf_checkpoint(shared_dir / "weights" / "u2fusion" / "model.ckpt")
    assert len(vars_) == 20 and vars_["Generator/encoder/conv1_1/kernel"].shape == (3, 3, 2, 44)
    ir, vis = _load_pair(shared_dir, "tno_eval", "01.png", "01.png")
    ir, vis = ir[..., :200, :240], vis[..., :200, :240]
    with torch.inference_mode():
        ours = create_model("u2fusion").fuse(ir, vis)
        authors = create_model("u2fusion.authors").fuse(ir, vis)
    assert (ours - authors).abs().mean() * 255 > 3
    (tmp_path / "bad.index").write_bytes(b"not a table" * 8)
    (tmp_path / "bad.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(WeightsError, match="bad.index: not a TensorFlow checkpoint index"):
        create_model("u2fusion", weights=tmp_path / "bad")
