"""SAM priors: tiny SAM through the real segment_anything code, area-sorted top-K masks, the compact
on-disk cache (reused without calling SAM), the teacher's mask inputs, checkpoint resolution and the SAM
feature encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagebench.errors import ConfigError, DataError, WeightsError
from sagebench.fusion_models.sage.sam_priors import (
    PAPER_AMG_SETTINGS,
    SAM_CHECKPOINTS,
    MaskCache,
    SamFeatureEncoder,
    SamPriors,
    build_feature_encoder,
    build_mask_inputs,
    build_sam,
    load_state_dict_safely,
)

TEST_AMG = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, crop_n_layers=0,
                box_nms_thresh=0.95)


pytestmark = pytest.mark.usefixtures("one_thread")


def _pair(seed: int = 0, h: int = 48, w: int = 64):
    g = torch.Generator().manual_seed(seed)
    ir = torch.rand(1, h, w, generator=g) * 0.2
    ir[:, 10:30, 8:30] = 0.9
    vis = torch.rand(3, h, w, generator=g) * 0.3
    vis[:, 20:40, 30:60] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)
    return ir, vis


def test_paper_settings_and_manifest():
    assert PAPER_AMG_SETTINGS == dict(points_per_side=128, pred_iou_thresh=0.86, stability_score_thresh=0.92,
                                      crop_n_layers=1, crop_n_points_downscale_factor=2, min_mask_region_area=100)
    assert set(SAM_CHECKPOINTS) == {"vit_b", "vit_l", "vit_h"}
    base = "https://dl.fbaipublicfiles.com/segment_anything/"
    assert all(v["url"] == base + v["filename"] for v in SAM_CHECKPOINTS.values())


def test_official_sam_checkpoints_are_sha256_checked(tmp_path, monkeypatch):
    """The official SAM files are manifest entries: a local copy is accepted only with the right digest,
    and without one (offline) the error names the upstream URL."""
    from sagebench.errors import WeightsError
    from sagebench.fusion_models.sage.sam_priors import resolve_sam_checkpoint
    from sagebench.weights import get_spec

    for t, info in SAM_CHECKPOINTS.items():
        spec = get_spec(f"sam_{t}")
        assert spec.url == info["url"] and spec.filename == info["filename"] and spec.licence == "Apache-2.0"
        assert len(spec.sha256) == 64 and spec.size > 300_000_000
    monkeypatch.setenv("SAGEBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("SAGEBENCH_OFFLINE", "1")
    with pytest.raises(WeightsError, match="sam_vit_b_01ec64.pth"):
        resolve_sam_checkpoint("vit_b", None)
    bad = tmp_path / "weights" / "sam" / "sam_vit_b_01ec64.pth"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a SAM checkpoint")
    with pytest.raises(WeightsError, match="weights 'sam_vit_b' .* have 20 bytes, expected 375042383"):
        resolve_sam_checkpoint("vit_b", None)
    # a user-given file is used as is (fine-tuned SAMs are allowed); its digest keys the mask cache
    assert resolve_sam_checkpoint("vit_b", bad) == bad


def test_tiny_sam_masks_sorted_and_cached(tmp_path):
    ir, vis = _pair()
    priors = SamPriors("tiny", amg=TEST_AMG, top_k=5, cache_dir=tmp_path)
    ir_m, vis_m = priors.masks_for("a" * 64, ir, vis)
    assert priors.sam_calls == 2
    assert ir_m.dtype == bool and ir_m.shape[1:] == (48, 64) and len(ir_m) == len(vis_m) <= 5
    assert len(ir_m) >= 1
    for m in (ir_m, vis_m):
        areas = m.reshape(len(m), -1).sum(1)
        assert list(areas) == sorted(areas, reverse=True)
    path = priors.cache.path("a" * 64, priors.settings_key)
    assert path.is_file()
    # compact: bit-packed and compressed, far below a dense bool array; no pickles inside
    assert path.stat().st_size < (ir_m.size + vis_m.size) / 4
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"ir", "vis", "shape", "format"}

    # a fresh object with the same settings reads the cache and never builds or calls SAM
    again = SamPriors("tiny", amg=TEST_AMG, top_k=5, cache_dir=tmp_path)
    ir2, vis2 = again.masks_for("a" * 64, ir, vis)
    assert again.sam_calls == 0 and again._sam is None
    assert np.array_equal(ir2, ir_m) and np.array_equal(vis2, vis_m)
    # pickled copies (data-loader workers) leave the SAM model behind but keep the settings
    import pickle

    clone = pickle.loads(pickle.dumps(priors))
    assert clone._sam is None and clone.settings_key == priors.settings_key


def test_settings_change_the_cache_key(tmp_path):
    keys = {SamPriors("tiny", amg=TEST_AMG, top_k=5, cache_dir=tmp_path).settings_key,
            SamPriors("tiny", amg=TEST_AMG, top_k=6, cache_dir=tmp_path).settings_key,
            SamPriors("tiny", amg=TEST_AMG, top_k=5, channel_order="bgr", cache_dir=tmp_path).settings_key,
            SamPriors("tiny", amg=dict(TEST_AMG, points_per_side=8), top_k=5, cache_dir=tmp_path).settings_key,
            SamPriors("tiny", amg=TEST_AMG, top_k=5, seed=1, cache_dir=tmp_path).settings_key}
    assert len(keys) == 5


def test_bgr_order_flips_the_visible_image(tmp_path, monkeypatch):
    seen = []
    priors = SamPriors("tiny", amg=TEST_AMG, channel_order="bgr", cache_dir=tmp_path)
    monkeypatch.setattr(priors, "_generate",
                        lambda img: seen.append(img.copy()) or np.zeros((0,) + img.shape[:2], bool))
    ir, vis = _pair()
    priors.masks_for("b" * 64, ir, vis)
    vis8 = (vis.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(seen[1], vis8[..., ::-1])
    assert np.array_equal(seen[0][..., 0], seen[0][..., 2])   # grey IR repeated to 3 channels


def test_corrupt_cache_entry_names_the_file(tmp_path):
    cache = MaskCache(tmp_path)
    p = cache.path("c" * 64, "k")
    p.parent.mkdir(parents=True)
    p.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=str(p.name)):
        cache.load("c" * 64, "k")


def test_mask_inputs_intensity_and_binary():
    y, ir = torch.full((1, 4, 4), 0.5), torch.full((1, 4, 4), 0.8)
    ir_m = np.zeros((3, 4, 4), bool)
    vis_m = np.zeros((3, 4, 4), bool)
    ir_m[0, :2] = True
    vis_m[0, :, :1] = True
    ir_m[1, 3] = True          # pair 1 skipped: its visible mask is empty
    ir_m[2, 2:] = True
    vis_m[2, :, 3:] = True
    v, i = build_mask_inputs(y, ir, ir_m, vis_m, mask_num=4, mode="intensity")
    assert v.shape == i.shape == (4, 4, 4)
    assert torch.equal(i[0], 0.8 * torch.as_tensor(ir_m[0]).float())
    assert torch.equal(v[1], 0.5 * torch.as_tensor(vis_m[2]).float())
    assert torch.equal(v[2], y[0]) and torch.equal(i[3], ir[0])        # padded with the full images
    vb, ib = build_mask_inputs(y, ir, ir_m, vis_m, mask_num=4, mode="binary")
    assert torch.equal(ib[1], torch.as_tensor(ir_m[2]).float())
    assert torch.equal(vb[3], torch.ones(4, 4))
    with pytest.raises(ConfigError):
        build_mask_inputs(y, ir, ir_m, vis_m, mode="soft")
    with pytest.raises(DataError):
        build_mask_inputs(y, ir, np.zeros((1, 5, 5), bool), np.zeros((1, 5, 5), bool))


def test_missing_checkpoint_explains_download(monkeypatch, tmp_path):
    monkeypatch.setenv("SAGEBENCH_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="sam_vit_b_01ec64.pth"):
        build_sam("vit_b")
    with pytest.raises(WeightsError, match="not found"):
        build_sam("vit_b", tmp_path / "nope.pth")
    with pytest.raises(ConfigError):
        build_sam("vit_x")


def test_tiny_checkpoint_loads_safely(tmp_path):
    a, b = build_sam("tiny", seed=0), build_sam("tiny", seed=1)
    path = tmp_path / "tiny.pth"
    torch.save(a.state_dict(), path)
    c = build_sam("tiny", checkpoint=path, seed=1)
    assert all(torch.equal(a.state_dict()[k], v) for k, v in c.state_dict().items())
    assert not all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    assert not any(p.requires_grad for p in c.parameters())
    torch.save({"bogus": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="missing keys"):
        load_state_dict_safely(build_sam("tiny"), tmp_path / "bad.pth")


def test_feature_encoder_modes():
    sam = build_sam("tiny")
    enc = build_feature_encoder(sam, "pretrained_normalised", "tiny", n_blocks=2)
    assert isinstance(enc, SamFeatureEncoder) and enc.normalise
    x = torch.rand(2, 1, 40, 60)              # padded to a multiple of the patch size (8)
    feats = enc(x)
    assert [tuple(f.shape) for f in feats] == [(2, 32, 5, 8)] * 2
    raw = build_feature_encoder(None, "random_raw", "tiny", n_blocks=2, seed=3)
    assert raw.pos_embed is None and not raw.normalise
    assert not any(p.requires_grad for p in raw.parameters())
    assert not torch.allclose(raw(x)[0], feats[0])
    with pytest.raises(ConfigError):
        build_feature_encoder(None, "pretrained_normalised")


def test_teacher_mask_provider(tmp_path):
    from sagebench.fusion_models import create_model

    priors = SamPriors("tiny", amg=TEST_AMG, top_k=4, cache_dir=tmp_path)
    teacher = create_model("sage_teacher", width=16, mask_provider=priors.teacher_inputs_for_tensors)
    ir, vis = _pair(h=32, w=48)
    with torch.no_grad():
        out = teacher.fuse(ir[None], vis[None])
    assert out.shape == (1, 3, 32, 48) and priors.sam_calls == 2


@pytest.mark.slow
def test_vit_b_loads_through_the_safe_path(tmp_path, monkeypatch):
    """The real ViT-B architecture round-trips through a checkpoint file; the loss encoder gives the
    feature shapes of the spec on a 192x256 crop (2 x B x 768 x 12 x 16)."""
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    ref = sam_model_registry["vit_b"](checkpoint=None)
    path = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save(ref.state_dict(), path)
    sam = build_sam("vit_b", path)  # a user-given file (by name alone it would need the official sha256)
    assert torch.equal(sam.image_encoder.patch_embed.proj.weight, ref.image_encoder.patch_embed.proj.weight)
    del ref
    enc = build_feature_encoder(sam, "pretrained_normalised", "vit_b")
    with torch.no_grad():
        feats = enc(torch.rand(1, 1, 192, 256))
    assert [tuple(f.shape) for f in feats] == [(1, 768, 12, 16)] * 2
    raw = build_feature_encoder(None, "random_raw", "vit_b")
    assert sum(p.numel() for p in raw.parameters()) > 14_000_000
