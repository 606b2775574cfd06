"""Fusion-quality metrics: hand-computable cases, invariances, cross-checks against independent libraries
(scikit-image, scipy, scikit-learn, OpenCV, PIL) and the API contract. Reference-code parity on real images
is in ``test_metrics_reference.py``."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch

from sagebench.errors import ConfigError
from sagebench.tasks.metrics import (
    ALL_METRICS,
    DEFAULT_METRICS,
    PROFILES,
    compute_metrics,
    create_metric,
    list_metrics,
    list_profiles,
    metric_table,
)
from sagebench.tasks.metrics._ops import rgb_to_gray_levels

H, W = 48, 64


def _t(a: np.ndarray) -> torch.Tensor:
    """H x W (or B x H x W) levels 0..255 -> B x 1 x H x W tensor in [0, 1]."""
    t = torch.as_tensor(np.asarray(a, dtype=np.float64)) / 255.0
    return t[None, None] if t.ndim == 2 else t[:, None]


def _smooth_random(rng: np.random.Generator, h: int = H, w: int = W) -> np.ndarray:
    """Textured 8-bit image: random noise plus a smooth gradient (integer levels)."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 60 + 100 * (xx / w) + 40 * np.sin(yy / 5.0)
    return np.clip(np.round(base + rng.normal(0, 18, (h, w))), 0, 255)


@pytest.fixture(scope="module")
def triple():
    rng = np.random.default_rng(0)
    a = _smooth_random(rng)
    b = np.clip(np.round(255 - _smooth_random(rng) * 0.8), 0, 255)
    f = np.clip(np.round(0.6 * a + 0.5 * b - 20 + rng.normal(0, 4, a.shape)), 0, 255)
    return f, a, b


def m(name: str, f, a=None, b=None, **kw) -> float:
    return float(create_metric(name, **kw)(_t(f), None if a is None else _t(a), None if b is None else _t(b))[0])


# ---------------------------------------------------------------------------------------------------------
# Hand-computable cases
# ---------------------------------------------------------------------------------------------------------
def test_entropy_known_histograms():
    const = np.full((H, W), 77.0)
    assert m("EN", const) == 0.0
    two = np.zeros((H, W))
    two[:, W // 2:] = 200
    assert m("EN", two) == pytest.approx(1.0, abs=1e-15)
    four = np.tile(np.repeat([0, 10, 20, 30], W // 4), (H, 1)).astype(float)
    assert m("EN", four) == pytest.approx(2.0, abs=1e-15)
    # IVIF_ZOO's log2(p + 1e-7) lowers EN by ~ sum_k p_k * 1e-7 / (p_k ln 2) = n_levels * 1.44e-7
    zoo = m("EN", four, eps=1e-7)
    assert zoo < 2.0
    assert 2.0 - zoo == pytest.approx(4 * 1e-7 / math.log(2), rel=1e-5)


def test_en_matches_scipy_entropy(triple):
    from scipy.stats import entropy

    f = triple[0]
    hist = np.bincount(f.astype(int).ravel(), minlength=256)
    assert m("EN", f) == pytest.approx(entropy(hist, base=2), rel=1e-13)


def test_sd_sf_ag_hand_values():
    assert m("SD", np.full((H, W), 9.0)) == 0.0
    checker = (np.indices((H, W)).sum(0) % 2) * 255.0
    assert m("SD", checker) == pytest.approx(127.5, rel=1e-14)
    ramp = np.tile(np.arange(W, dtype=float), (H, 1))  # +1 per column
    # horizontal differences all 1 over M(N-1) pairs, vertical all 0
    assert m("SF", ramp) == pytest.approx(1.0, rel=1e-14)
    assert m("SF", ramp, divisor="vifb") == pytest.approx(math.sqrt(H * (W - 1) / (H * W)), rel=1e-14)
    # gx = 1 everywhere (central and one-sided), gy = 0 -> sqrt(1/2) per pixel
    assert m("AG", ramp) == pytest.approx(math.sqrt(0.5), rel=1e-14)
    assert m("AG", ramp, divisor="matlab") == pytest.approx(math.sqrt(0.5) * H * W / ((H - 1) * (W - 1)), rel=1e-14)


def test_mi_identical_and_units(triple):
    _, a, _ = triple
    h_a = m("EN", a)
    assert m("MI", a, a, a) == pytest.approx(2 * h_a, rel=1e-13)
    # bijective grey-level map keeps MI: F = A + 3 (no clipping in this image range)
    assert a.max() <= 252
    assert m("MI", a + 3, a, a) == pytest.approx(2 * h_a, rel=1e-13)
    assert m("MI", a, a, a, unit="nats") == pytest.approx(2 * h_a * math.log(2), rel=1e-13)


def test_mi_matches_sklearn(triple):
    from sklearn.metrics import mutual_info_score

    f, a, b = triple
    ref = mutual_info_score(f.ravel(), a.ravel()) + mutual_info_score(f.ravel(), b.ravel())
    assert m("MI", f, a, b, unit="nats") == pytest.approx(ref, rel=1e-12)
    assert m("MI", f, a, b) == pytest.approx(ref / math.log(2), rel=1e-12)


def test_cc_scd_match_numpy(triple):
    f, a, b = triple
    r = lambda x, y: np.corrcoef(x.ravel(), y.ravel())[0, 1]  # noqa: E731
    assert m("CC", f, a, b) == pytest.approx((r(a, f) + r(b, f)) / 2, rel=1e-12)
    assert m("SCD", f, a, b) == pytest.approx(r(f - b, a) + r(f - a, b), rel=1e-12)
    # F = A = B: both correlations are 1
    assert m("CC", a, a, a) == pytest.approx(1.0, rel=1e-14)


def test_mse_psnr_match_skimage(triple):
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

    f, a, b = triple
    mse = (mean_squared_error(a, f) + mean_squared_error(b, f)) / 2
    assert m("MSE", f, a, b, scale=255) == pytest.approx(mse, rel=1e-13)
    assert m("MSE", f, a, b) == pytest.approx(mse / 255 ** 2, rel=1e-13)
    assert m("PSNR", f, a, a) == pytest.approx(peak_signal_noise_ratio(a, f, data_range=255), rel=1e-12)
    assert m("PSNR", f, a, b) == pytest.approx(10 * math.log10(255 ** 2 / mse), rel=1e-12)
    assert m("PSNR", f, a, b, variant="cdd") == pytest.approx(10 * math.log10(f.max() ** 2 / mse), rel=1e-12)
    # IVIF_ZOO / Tang: MSE on 0..1 with a 255 peak = standard + 20 log10(255)
    assert m("PSNR", f, a, b, variant="zoo_tang") - m("PSNR", f, a, b) == pytest.approx(20 * math.log10(255), rel=1e-12)


def test_ssim_matches_skimage(triple):
    from skimage.metrics import structural_similarity as sk

    f, a, b = triple
    f32, a32, b32 = (x.astype(np.float32) for x in triple)
    # CDDFuse's call: skimage on float32 with the data_range (2) that skimage 0.19 inferred for floats
    cdd32 = sk(f32, a32, data_range=2) + sk(f32, b32, data_range=2)
    assert m("SSIM", f, a, b, precision="float32") == pytest.approx(cdd32, rel=1e-6)
    cdd64 = sk(f, a, data_range=2) + sk(f, b, data_range=2)
    assert m("SSIM", f, a, b) == pytest.approx(cdd64, rel=1e-12)
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    wang = sk(f, a, **kw) + sk(f, b, **kw)
    assert m("SSIM", f, a, b, variant="wang") == pytest.approx(wang, rel=1e-10)
    assert m("SSIM", a, a, a) == pytest.approx(2.0, abs=1e-12)
    assert m("SSIM", a, a, a, variant="tang") == pytest.approx(1.0, abs=1e-12)


def test_identical_images_are_perfect(triple):
    _, a, _ = triple
    a_big = _smooth_random(np.random.default_rng(3), 176, 176)
    assert m("VIF", a, a, a) == pytest.approx(2.0, abs=1e-8)
    assert m("MS-SSIM", a_big, a_big, a_big) == pytest.approx(2.0, abs=1e-12)
    assert m("FMI_pixel", a, a, a) == 1.0
    assert m("FMI_w", a, a, a) == 1.0
    assert m("Qcb", a, a, a) == pytest.approx(1.0, abs=1e-12)
    assert m("Qcv", a, a, a) == 0.0
    assert m("MSE", a, a, a) == 0.0
    assert m("Nabf", a, a, a) == 0.0


def test_constant_fused_image():
    rng = np.random.default_rng(1)
    a, b = _smooth_random(rng), _smooth_random(rng)
    f = np.full((H, W), 100.0)
    assert m("VIF", f, a, b) == 0.0  # sigma_F^2 = 0 -> g = 0 -> no information
    assert m("EN", f) == 0.0 and m("SF", f) == 0.0 and m("AG", f) == 0.0
    assert m("MI", f, a, b) == pytest.approx(0.0, abs=1e-12)


def test_vif_flat_reference_counts_as_one():
    rng = np.random.default_rng(2)
    flat = np.full((H, W), 50.0)
    f = _smooth_random(rng)
    # VIF(flat, F) is 0/0 -> 1 (CDDFuse rule); VIF(F, F) ~ 1
    assert m("VIF", f, flat, f) == pytest.approx(2.0, abs=1e-8)


def test_nabf_zero_for_pixel_mean(triple):
    _, a, b = triple
    mean = (a + b) / 2  # |grad F| <= max(|grad A|, |grad B|) everywhere
    assert m("Nabf", mean, a, b, quantize=False) == 0.0
    stored = np.floor(mean + 0.5)  # as saved in an 8-bit file: rounding adds tiny artefacts only
    assert m("Nabf", stored, a, b) < 1e-3
    mx = np.maximum(a, b)
    assert m("Nabf", mx, a, b) > m("Nabf", mean, a, b, quantize=False)


def test_shifted_image_degrades_similarity(triple):
    _, a, _ = triple
    shifted = np.roll(a, 1, axis=1)
    for name in ("SSIM", "VIF", "Qabf", "FMI_pixel", "CC", "MI"):
        assert m(name, shifted, a, a) < m(name, a, a, a), name
    # statistics of F alone do not see a horizontal roll except at the wrap column
    assert m("EN", shifted) == m("EN", a)
    assert m("SD", shifted) == pytest.approx(m("SD", a), rel=1e-14)


def test_source_symmetry(triple):
    f, a, b = triple
    for name in list_metrics():
        if name in ("MS-SSIM",):
            continue
        if create_metric(name).needs_sources:
            assert m(name, f, a, b) == pytest.approx(m(name, f, b, a), rel=1e-12, abs=1e-15), name


def test_values_inside_declared_ranges(triple):
    f, a, b = triple
    for name in list_metrics():
        if name == "MS-SSIM":
            continue
        met = create_metric(name)
        lo, hi = met.range
        v = m(name, f, a, b)
        assert lo <= v <= hi, (name, v)


# ---------------------------------------------------------------------------------------------------------
# Grey conversion and input scale
# ---------------------------------------------------------------------------------------------------------
def test_gray_conversions_match_opencv_and_pil():
    cv2 = pytest.importorskip("cv2")
    from PIL import Image

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (256, 256, 3)).astype(np.uint8)
    # include exact ties of 0.299 R + 0.587 G + 0.114 B = n + 0.5
    rgb[0, :3] = [[0, 0, 5], [10, 0, 0], [0, 50, 0]]
    t = torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1)[None]
    ocv = np.round(cv2.cvtColor(rgb.astype(np.float32)[..., ::-1].copy(), cv2.COLOR_BGR2GRAY))
    assert np.array_equal(rgb_to_gray_levels(t, "opencv")[0].numpy(), ocv)
    pil = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.float64)
    assert np.array_equal(rgb_to_gray_levels(t, "pil")[0].numpy(), pil)
    bt = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    assert np.allclose(rgb_to_gray_levels(t, "bt601", quantize=False)[0].numpy(), bt, atol=1e-12)


def test_colour_fused_scored_on_luminance(triple):
    f, a, b = triple
    f_rgb = torch.cat([_t(f)] * 3, dim=1)  # grey stored as RGB -> identical luminance
    for name in ("EN", "SSIM", "Qabf"):
        met = create_metric(name)
        assert float(met(f_rgb, _t(a), _t(b))[0]) == pytest.approx(m(name, f, a, b), rel=1e-14)


def test_data_range_255_equals_unit_range(triple):
    f, a, b = triple
    to255 = lambda x: torch.as_tensor(x)[None, None].double()  # noqa: E731
    for name in ("EN", "MI", "VIF", "SSIM"):
        v255 = float(create_metric(name, data_range=255.0)(to255(f), to255(a), to255(b))[0])
        assert v255 == pytest.approx(m(name, f, a, b), rel=1e-13)


def test_batched_equals_single(triple):
    f, a, b = triple
    rng = np.random.default_rng(9)
    f2, a2, b2 = (np.clip(x + rng.integers(-20, 20, x.shape), 0, 255) for x in (f, a, b))
    F_, A_, B_ = (_t(np.stack([x, y])) for x, y in ((f, f2), (a, a2), (b, b2)))
    names = [n for n in ALL_METRICS if n != "MS-SSIM"]
    batched = compute_metrics(F_, A_, B_, metrics=names)  # on CPU: one image at a time
    batched_ops = {n: create_metric(n)(F_, A_, B_) for n in names}  # each metric's batched tensor code
    for i, (ff, aa, bb) in enumerate(((f, a, b), (f2, a2, b2))):
        single = compute_metrics(_t(ff), _t(aa), _t(bb), metrics=names)
        for n in names:
            assert float(batched[n][i]) == pytest.approx(float(single[n][0]), rel=1e-11, abs=1e-14), n
            assert float(batched_ops[n][i]) == pytest.approx(float(single[n][0]), rel=1e-11, abs=1e-14), n
    with pytest.raises(ValueError, match="vis: expected a B x C x H x W tensor with B = 2"):
        compute_metrics(F_, A_, B_[:1], metrics=["EN"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(triple):
    f, a, b = triple
    names = [n for n in ALL_METRICS if n != "MS-SSIM"]
    cpu = compute_metrics(_t(f), _t(a), _t(b), metrics=names)
    gpu = compute_metrics(_t(f).cuda(), _t(a).cuda(), _t(b).cuda(), metrics=names)
    for n in names:
        assert gpu[n].device.type == "cuda"
        assert float(gpu[n][0]) == pytest.approx(float(cpu[n][0]), rel=1e-9, abs=1e-12), n


# ---------------------------------------------------------------------------------------------------------
# API contract
# ---------------------------------------------------------------------------------------------------------
def test_registry_lists_every_delivered_metric():
    names = list_metrics()
    for n in ("EN", "SD", "SF", "AG", "MI", "FMI_pixel", "FMI_w", "SCD", "CC", "MSE", "PSNR", "VIF", "Qabf",
              "Nabf", "SSIM", "MS-SSIM", "Qcb", "Qcv"):
        assert n in names
    assert set(list_profiles()) >= {"default", "cddfuse", "ivif_zoo"}
    assert "Nabf" not in list_metrics("cddfuse") and "Nabf" in list_metrics("ivif_zoo")
    # aliases and case-insensitivity
    assert create_metric("viff").name == "VIF" and create_metric("ms_ssim").name == "MS-SSIM"
    # CE and Qy are VIFB's cross entropy and Yang's metric, not IVIF_ZOO's constant CE / window-sum-7 Qy:
    # that profile does not claim them, and ZOO's values (CE ~0.0836 for every image) are not what they give
    assert "CE" not in list_metrics("ivif_zoo") and "Q_Y" not in list_metrics("ivif_zoo")
    assert create_metric("Qy").name == "Q_Y" and "VIFB" in type(create_metric("CE")).__doc__
    with pytest.raises(ConfigError):
        create_metric("QNCIE_zoo")


def test_declarations():
    for row in metric_table():
        assert row["direction"] in ("higher", "lower")
        assert row["reference"] == "fused" or row["reference"].startswith("fused+sources: ")
        lo, hi = row["range"]
        assert lo < hi
    assert create_metric("MI").unit == "bits" and create_metric("MI", profile="cddfuse").unit == "nats"
    assert create_metric("PSNR").unit == "dB"
    assert create_metric("Nabf").direction == "lower" and create_metric("MSE").direction == "lower"
    assert "mean" in create_metric("SSIM", variant="tang").reference
    assert "sum" in create_metric("SSIM").reference


def test_profiles_are_data_and_options_override():
    assert create_metric("PSNR", profile="cddfuse").opts["variant"] == "cdd"
    assert create_metric("PSNR", profile="cddfuse", variant="standard").opts["variant"] == "standard"
    assert create_metric("EN", profile="ivif_zoo").gray == "pil"
    assert create_metric("EN", profile="cddfuse").gray == "opencv"
    assert PROFILES["ivif_zoo"].metrics["Nabf"] == {"wt_min": 0.0}


def test_bad_inputs_raise_clearly(triple):
    f, a, b = triple
    with pytest.raises(ConfigError, match="unknown metric"):
        create_metric("NOPE")
    with pytest.raises(ConfigError, match="unknown option"):
        create_metric("EN", bins=128)
    with pytest.raises(ConfigError, match="variant"):
        create_metric("SSIM", variant="foo")
    with pytest.raises(ConfigError, match="profile"):
        create_metric("EN", profile="nope")
    with pytest.raises(ValueError, match="shape"):
        create_metric("MI")(_t(f), _t(a[:-1]), _t(b))
    with pytest.raises(ValueError, match="both sources"):
        create_metric("MI")(_t(f))
    with pytest.raises(ValueError, match="160"):
        m("MS-SSIM", f, a, b)
    with pytest.raises(ValueError, match=r"fused: values span .*data_range=255"):
        create_metric("EN")(torch.as_tensor(f)[None, None])  # 0..255 data passed as [0, 1]
    with pytest.raises(ValueError, match="NaN"):
        create_metric("EN")(torch.full((1, 1, 8, 8), float("nan")))


def test_compute_metrics_shares_and_orders(triple):
    f, a, b = triple
    out = compute_metrics(_t(f), _t(a), _t(b), metrics=["SSIM", "EN", "MI"], profile="ivif_zoo")
    assert list(out) == ["SSIM", "EN", "MI"]
    assert all(v.dtype == torch.float64 and v.shape == (1,) for v in out.values())
    assert float(out["MI"][0]) == pytest.approx(m("MI", f, a, b, gray="pil"), rel=1e-14)


def test_default_set_and_all():
    from sagebench.tasks.metrics import resolve_metric_names

    assert "FMI_pixel" not in DEFAULT_METRICS and "FMI_w" in ALL_METRICS
    assert resolve_metric_names(None) == list(DEFAULT_METRICS)
    assert resolve_metric_names("all") == list(ALL_METRICS)
    assert resolve_metric_names("viff,EN,VIF") == ["VIF", "EN"]
    with pytest.raises(ConfigError):
        resolve_metric_names(["EN", "bogus"])


def test_fmi_fast_equals_direct_transcription():
    """The merged-breakpoint FMI equals the cell-by-cell transcription of fmi.m on varied windows."""
    from sagebench.tasks.metrics.fmi import _window_fmi, _window_fmi_dense

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (9, 6000), generator=g).double()
    f = torch.randint(0, 256, (9, 6000), generator=g).double()
    f[:, :1000] = 255 - x[:, :1000]  # negative correlation: Frechet lower bound
    f[:, 1000:1500] = 7  # constant patch
    x[:, 1500:2000] = f[:, 1500:2000]  # identical patches -> 1
    x[:, 2000:2500] = 0
    x[4, 2000:2500] = 9  # one non-zero bin
    f[:, 2500:3000] = 2 * x[:, 2500:3000] + 1  # affine: same normalised PDF
    x[:, 3000:4000] = torch.randint(0, 3, (9, 1000), generator=g).double()  # heavy ties
    f[:, 3000:4000] = torch.randint(0, 2, (9, 1000), generator=g).double()
    dense, fast = _window_fmi_dense(x, f), _window_fmi(x, f)
    assert torch.isfinite(dense).all()
    assert (dense[1500:2000] == 1).all()
    assert torch.allclose(fast, dense, rtol=0, atol=1e-12)


def test_filters_match_scipy():
    """Building blocks against scipy: the shared moment-map FFT filtering, decimated correlation, Qcb's
    zero-padded Gaussians, Sobel paddings."""
    from scipy.ndimage import correlate
    from scipy.signal import correlate2d

    from sagebench.tasks.metrics._ops import (
        MOMENTS,
        correlate_valid_decimated,
        gaussian_1d,
        moment_filter,
        moment_spectra,
        sobel_same,
    )
    from sagebench.tasks.metrics.perceptual import _qcb_contrast_filters

    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (37, 50)).astype(np.float64)
    kv, kh = rng.random(9), rng.random(11)
    kv, kh = kv + kv[::-1], kh + kh[::-1]  # the moment filters take symmetric windows
    ref = correlate2d(x, np.outer(kv, kh), mode="valid")
    # the eight moment maps of a triple (shifted by the fused image's mean), filtered with one kernel
    a, b, f = (rng.integers(0, 256, (2, 37, 50)).astype(np.float64) for _ in range(3))
    spectra, c = moment_spectra(*(torch.from_numpy(t) for t in (a, b, f)))
    got = moment_filter(spectra, torch.from_numpy(kv), torch.from_numpy(kh), 37, 50)
    cs = c.numpy()
    sh = {"a": a - cs, "b": b - cs, "f": f - cs}
    for name, g in zip(MOMENTS, got):
        m = sh[name[0]] * sh[name[1]] if len(name) == 2 else sh[name]
        for i in range(2):
            exp = correlate2d(m[i], np.outer(kv, kh), mode="valid")
            assert np.allclose(g[i].numpy(), exp, rtol=1e-12, atol=1e-9), name
    dec = correlate_valid_decimated(torch.from_numpy(x)[None], torch.from_numpy(kv), torch.from_numpy(kh))[0]
    assert np.allclose(dec.numpy(), ref[::2, ::2], rtol=0, atol=1e-10)
    # Qcb: an all-pass CSF leaves zero-padded 'same' correlations with the 31-tap Gaussians / (2 pi sigma^2)
    imgs = torch.from_numpy(rng.random((3, 1, 40, 52)))
    b1, b2 = _qcb_contrast_filters(imgs, torch.ones(40, 52 // 2 + 1, dtype=torch.float64))
    for out, sigma in ((b1, 2.0), (b2, 4.0)):
        g = gaussian_1d(31, sigma).numpy()
        for i in range(3):
            exp = correlate(imgs[i, 0].numpy(), np.outer(g, g), mode="constant", cval=0.0) / (2 * np.pi * sigma ** 2)
            assert np.allclose(out[i, 0].numpy(), exp, rtol=0, atol=1e-12)
    whole = _qcb_contrast_filters(imgs, torch.ones(40, 52 // 2 + 1, dtype=torch.float64), per_image=False)
    assert all(torch.allclose(w, p, rtol=0, atol=1e-13) for w, p in zip(whole, (b1, b2)))  # the GPU path
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    for mode, sp_mode in (("zeros", "constant"), ("reflect", "mirror")):  # scipy 'mirror' = reflect-101
        gx, gy = (t[0].numpy() for t in sobel_same(torch.from_numpy(x)[None], mode))
        assert np.array_equal(gx, correlate(x, kx, mode=sp_mode, cval=0.0))
        assert np.array_equal(gy, correlate(x, kx.T, mode=sp_mode, cval=0.0))


def test_strips_hold_enough_pixels():
    """A strip is at least 64 rows and about 64 Ki output pixels: narrow images are cut into few strips."""
    from sagebench.tasks.metrics._ops import strip_rows

    assert strip_rows(1024) == 64 and strip_rows(4096) == 64 and strip_rows(256) == 256 and strip_rows(90) == 728


def test_tiles_do_not_grow_with_the_image():
    """``by_strips`` cuts wide strips into equal column blocks of at most about 64 Ki windows: one block for a
    1024-window-wide image, four of 1024 for 4096; a narrow image's strips are whole rows."""
    from sagebench.tasks.metrics._ops import by_strips

    def tiles(h: int, w: int, n: int) -> set[tuple[int, int]]:
        seen = set()

        def fn(t: dict[str, torch.Tensor]) -> tuple[torch.Tensor]:
            shape = (t["x"].shape[-2] - n + 1, t["x"].shape[-1] - n + 1)
            seen.add(shape)
            return (torch.zeros((1, *shape)),)

        (out,) = by_strips(fn, {"x": torch.zeros(1, h, w)}, n)
        assert out.shape == (1, h - n + 1, w - n + 1)
        return seen

    assert tiles(138, 4106, 11) == {(64, 1024)}
    assert tiles(138, 1034, 11) == {(64, 1024)}
    assert tiles(128, 2049, 1) == {(64, 683)}  # three equal blocks, not 1024 + 1024 + 1
    assert tiles(300, 90, 3) == {(298, 88)}  # strip_rows(88) = 744 rows: one tile


@pytest.mark.parametrize("rows", [1, 5, 64])
def test_window_metrics_by_strips_equal_whole_image(rows, monkeypatch):
    """Piella's, Yang's, Cvejic's, MEF-SSIM's, SSIM's, Qcb's and Qabf's per-window maps are computed tile by
    tile (in the CPU cache): bit for bit the values of one pass over the whole image, for tiles that split the
    image unevenly in both directions, one row per strip included, in a batch, with flat regions."""
    from sagebench.tasks.metrics import _ops  # where the strip sizes live

    rng = np.random.default_rng(11)
    f, a, b = (np.stack([_smooth_random(rng, 150, 97) for _ in range(2)]) for _ in range(3))
    for x in (f, a, b):
        x[:, :30, :40] = 128  # flat windows take the metrics' special cases
    names = ["Q_0", "Q_W", "Q_E", "Q_Y", "Q_C", "MEF-SSIM", "SSIM", "Qcb", "Qabf"]
    monkeypatch.setattr(_ops, "_STRIP_ROWS", 10**6)
    monkeypatch.setattr(_ops, "_STRIP_PIXELS", 10**12)
    whole = compute_metrics(_t(f), _t(a), _t(b), metrics=names)
    monkeypatch.setattr(_ops, "_STRIP_ROWS", rows)
    monkeypatch.setattr(_ops, "_STRIP_PIXELS", rows * 23)  # column blocks of about 23 windows (4 or 5 per row)
    strips = compute_metrics(_t(f), _t(a), _t(b), metrics=names)
    for m in names:
        assert torch.equal(whole[m], strips[m]), m


def test_large_images_filter_in_strips_to_float_rounding(monkeypatch):
    """Above ``MOMENT_STRIPS_ABOVE`` pixels the whole-image transforms of VIF, the Gaussian SSIMs, MS-SSIM and
    Qcb's Gaussians run in strips of rows (cost per pixel that does not grow with the image): the values
    agree with the whole-image transforms to float rounding, uneven last strips, flat regions and a batch
    included; at or below it (every reference image) the whole-image path runs, so stored values stay as
    they were. The strips here are forced on a small image."""
    from sagebench.tasks.metrics import _ops, perceptual, structural

    rng = np.random.default_rng(5)
    f, a, b = (np.stack([_smooth_random(rng, 203, 231) for _ in range(2)]) for _ in range(3))
    for x in (f, a, b):
        x[:, :40, :50] = 97
    names = ["VIF", "MS-SSIM", "Qcb"]
    whole = compute_metrics(_t(f), _t(a), _t(b), metrics=names)
    wang = compute_metrics(_t(f), _t(a), _t(b), metrics=["SSIM"], variant="wang")
    calls = []
    real = _ops.moment_spectra

    def spy(*args, **kw):
        calls.append(args[0].shape[-2])
        return real(*args, **kw)

    monkeypatch.setattr(structural, "moment_spectra", spy)
    monkeypatch.setattr(_ops, "moment_spectra", spy)
    for mod in (_ops, perceptual):
        monkeypatch.setattr(mod, "MOMENT_STRIPS_ABOVE", 203 * 231 - 1)
    # strips of 64 input rows for VIF's 17 taps (at least 4 x 16), 60 for the SSIMs' 11 (uneven last strips)
    monkeypatch.setattr(_ops, "_STRIP_ELEMENTS", 60 * 240)
    monkeypatch.setattr(perceptual, "_STRIP_ELEMENTS", 100 * 256)  # Qcb: strips of 94, 94 and 15 output rows
    strips = compute_metrics(_t(f), _t(a), _t(b), metrics=names)
    strips_wang = compute_metrics(_t(f), _t(a), _t(b), metrics=["SSIM"], variant="wang")
    assert 60 in calls and max(calls) < 203  # strips at full resolution, whole transforms at coarser scales
    for m in names:
        # MS-SSIM's C ~ 0 turns a flat window's covariance over variances (rounding over rounding) into its
        # value, so it moves most (as between whole-image transform lengths, docs/metrics.md)
        torch.testing.assert_close(strips[m], whole[m], rtol=1e-9 if m == "MS-SSIM" else 1e-13, atol=0, msg=m)
        assert not torch.equal(strips[m], whole[m]) or m == "Qcb"  # a different path, not the same one twice
    torch.testing.assert_close(strips_wang["SSIM"], wang["SSIM"], rtol=1e-13, atol=0)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_shared_terms_are_declared_and_freed(profile, monkeypatch):
    """Each metric declares the shared terms it reads (``Metric.shares``), under every profile's options, and
    ``compute_metrics`` frees each term after its last declared user: nothing is recomputed, nothing shared
    outlives the metrics that need it, and the values are those of a call that keeps everything."""
    from sagebench.tasks.metrics import _core

    rng = np.random.default_rng(5)
    f, a, b = (_t(_smooth_random(rng, 176, 176)) for _ in range(3))
    used: dict[str, set] = {}
    built: dict[tuple, int] = {}  # (triple, term) -> times computed
    current = [""]
    real_cached, real_evaluate = _core.GreyTriple.cached, _core.Metric.evaluate

    def cached(self, key, fn):
        used.setdefault(current[0], set()).add(key)
        if key not in self.cache:
            built[(id(self), key)] = built.get((id(self), key), 0) + 1
        return real_cached(self, key, fn)

    triples = []

    def evaluate(self, x):
        current[0] = self.name
        triples.append(x)
        return real_evaluate(self, x)

    names = [n for n in ALL_METRICS if n != "Q_P"]  # (Q_P shares nothing and takes seconds)
    with pytest.warns() if profile == "tang" else contextlib.nullcontext():
        keep = compute_metrics(f, a, b, metrics=names, profile=profile)
    monkeypatch.setattr(_core.GreyTriple, "cached", cached)
    monkeypatch.setattr(_core.Metric, "evaluate", evaluate)
    with pytest.warns() if profile == "tang" else contextlib.nullcontext():
        got = compute_metrics(f, a, b, metrics=names, profile=profile)
    for name in names:
        m = create_metric(name, profile)
        assert used.get(m.name, set()) <= set(m.shares), (name, used.get(m.name), m.shares)
        assert torch.equal(got[m.name], keep[m.name]) or (got[m.name].isnan() & keep[m.name].isnan()).all()
    assert all(n == 1 for n in built.values()), built  # freed only after the last user: never rebuilt
    assert built and not any(t.cache for t in triples)  # and freed: nothing shared is left at the end


def test_metrics_sharing_a_term_are_evaluated_together(monkeypatch):
    """The users of a shared term run one after another from the first one's place (so the term is freed
    before unrelated metrics run), while the result keeps the requested order."""
    from sagebench.tasks.metrics import _core

    seen: list[str] = []
    real_evaluate = _core.Metric.evaluate

    def evaluate(self, x):
        seen.append(self.name)
        return real_evaluate(self, x)

    monkeypatch.setattr(_core.Metric, "evaluate", evaluate)
    rng = np.random.default_rng(2)
    f, a, b = (_t(_smooth_random(rng, 176, 176)) for _ in range(3))
    names = ["VIF", "EN", "PSNR", "Qabf", "SSIM", "MSE", "MS-SSIM"]
    out = compute_metrics(f, a, b, metrics=names)
    assert list(out) == names
    assert seen == ["VIF", "SSIM", "MS-SSIM", "EN", "PSNR", "MSE", "Qabf"]  # the spectra's, then mse255's
