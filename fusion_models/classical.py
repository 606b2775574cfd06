"""Classical (training-free) fusion methods: the baselines every IVIF paper compares against.

All methods fuse the IR image with the visible **luminance** (``colour = "ycrcb"``: a colour visible
image is split into YCrCb, Y is fused, the visible chroma is put back), take and return float tensors
``B x 1 x H x W`` in [0, 1], are vectorised over the batch, deterministic, and run on whatever device
the inputs are on (torch ops only, except :class:`DWTFusion`, which uses PyWavelets on the CPU).
They have no parameters. GFF, MSVD and TIF are methods of the VIFB benchmark (Zhang et al., CVPRW 2020),
so their scores can be compared with its tables; they are re-implemented from the papers, so values
agree with VIFB's MATLAB code up to boundary handling and floating-point details, not bit for bit.

Building blocks (public, used by the tests): :func:`box_mean`, :func:`guided_filter`,
:func:`select_max_abs`, :func:`laplacian_pyramid`, :func:`reconstruct_laplacian_pyramid`,
:func:`msvd_decompose`, :func:`msvd_reconstruct`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS

__all__ = [
    "AverageFusion", "MaxAbsFusion", "LaplacianPyramidFusion", "DWTFusion", "GFFFusion", "MSVDFusion",
    "TIFFusion", "box_mean", "guided_filter", "select_max_abs", "laplacian_pyramid",
    "reconstruct_laplacian_pyramid", "msvd_decompose", "msvd_reconstruct",
]


# ---------------------------------------------------------------------------------------------- helpers
def select_max_abs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Element-wise choose the coefficient of larger magnitude (``a`` on ties)."""
    return torch.where(a.abs() >= b.abs(), a, b)


def _box_mean_last(x: torch.Tensor, r: int) -> torch.Tensor:
    """Truncated-window mean of radius ``r`` along the last axis (cumulative sums, O(1) per element)."""
    n = x.shape[-1]
    c = F.pad(x.cumsum(-1), (1, 0))
    idx = torch.arange(n, device=x.device)
    lo, hi = (idx - r).clamp(min=0), (idx + r + 1).clamp(max=n)
    return (c.index_select(-1, hi) - c.index_select(-1, lo)) / (hi - lo).to(x.dtype)


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over the ``(2r+1) x (2r+1)`` window around each pixel of ``B x C x H x W`` ``x``; at the
    borders the window is truncated to the image and the mean is over the pixels inside it (the box
    filter of He et al.'s guided filter). Separable cumulative sums in float64, O(1) per pixel."""
    if r <= 0:
        return x
    xd = _box_mean_last(x.double(), r)
    xd = _box_mean_last(xd.transpose(-1, -2), r).transpose(-1, -2)
    return xd.to(x.dtype).contiguous()


def _filter2d(x: torch.Tensor, kernel: torch.Tensor, mode: str = "replicate") -> torch.Tensor:
    """Correlate each channel of ``x`` with a 2-D ``kernel`` (odd size), same-size output."""
    kh, kw = kernel.shape
    c = x.shape[1]
    xp = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode=mode)
    k = kernel.to(x.dtype).to(x.device).expand(c, 1, kh, kw)
    return F.conv2d(xp, k, groups=c)


def _mean_filter(x: torch.Tensor, r: int) -> torch.Tensor:
    """``(2r+1) x (2r+1)`` mean filter with replicate borders (separable)."""
    if r <= 0:
        return x
    k = 2 * r + 1
    c = x.shape[1]
    row = torch.full((c, 1, 1, k), 1.0 / k, dtype=x.dtype, device=x.device)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), row, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), row.view(c, 1, k, 1), groups=c)


def _gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return (k / k.sum()).float()


def _median3(x: torch.Tensor) -> torch.Tensor:
    """3 x 3 median filter with replicate borders."""
    b, c, h, w = x.shape
    patches = F.unfold(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3)  # B x (C*9) x HW
    return patches.view(b, c, 9, h * w).median(dim=2).values.view(b, c, h, w)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, r: int, eps: float) -> torch.Tensor:
    """Grey-guide guided filter (He, Sun, Tang, TPAMI 2013): edge-preserving smoothing of ``src``
    (``B x C x H x W``) steered by ``guide`` (``B x 1 x H x W``, or ``B x C x H x W``: channel c of
    ``src`` guided by channel c of ``guide``), window radius ``r``, regulariser ``eps``."""
    mean_i = box_mean(guide, r)
    mean_p = box_mean(src, r)
    cov_ip = box_mean(guide * src, r) - mean_i * mean_p
    var_i = box_mean(guide * guide, r) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, r) * guide + box_mean(b, r)


_BINOMIAL5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _pyr_blur(x: torch.Tensor) -> torch.Tensor:
    k = _BINOMIAL5.to(x.device, x.dtype)
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _pyr_blur(x)[..., ::2, ::2]


def _pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, size[0], size[1])
    up[..., ::2, ::2] = x[..., : (size[0] + 1) // 2, : (size[1] + 1) // 2]
    return 4.0 * _pyr_blur(up)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Burt-Adelson Laplacian pyramid of ``B x C x H x W`` ``x``: ``levels`` band-pass images (finest
    first) followed by the low-pass residual. Any H, W (odd sizes are handled)."""
    out = []
    cur = x
    for _ in range(levels):
        if min(cur.shape[-2:]) < 2:
            break
        low = _pyr_down(cur)
        out.append(cur - _pyr_up(low, cur.shape[-2:]))
        cur = low
    out.append(cur)
    return out


def reconstruct_laplacian_pyramid(pyr: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`laplacian_pyramid` (exact up to float rounding)."""
    cur = pyr[-1]
    for band in reversed(pyr[:-1]):
        cur = band + _pyr_up(cur, band.shape[-2:])
    return cur


def msvd_decompose(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One level of multi-resolution SVD (Naidu 2011) of ``B x 1 x H x W`` ``x`` (H, W even).

    Every 2 x 2 block becomes a column of a ``4 x (HW/4)`` matrix ``X``; ``U`` (``B x 4 x 4``) are the
    eigenvectors of ``X X^T`` by decreasing eigenvalue (signs fixed so each column sums to >= 0), and
    ``T = U^T X`` reshaped to ``B x 4 x H/2 x W/2``: channel 0 is the approximation, 1-3 the details.
    """
    b, _, h, w = x.shape
    blocks = F.pixel_unshuffle(x, 2).reshape(b, 4, -1).double()  # B x 4 x N
    cov = blocks @ blocks.transpose(1, 2)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    u = evecs.flip(-1)
    sign = torch.where(u.sum(dim=1, keepdim=True) < 0, -1.0, 1.0).to(u.dtype)
    u = u * sign
    t = (u.transpose(1, 2) @ blocks).reshape(b, 4, h // 2, w // 2)
    return t.to(x.dtype), u.to(x.dtype)


def msvd_reconstruct(t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`msvd_decompose`: ``X = U T`` folded back to ``B x 1 x H x W``."""
    b, _, h2, w2 = t.shape
    blocks = (u.double() @ t.reshape(b, 4, -1).double()).reshape(b, 4, h2, w2)
    return F.pixel_shuffle(blocks, 2).to(t.dtype)


class _Classical(FusionModel):
    """Shared bits: no parameters, ``weights`` accepted (must be None) so every model builds alike, and
    computation always in float32: the selection rules (max-abs, most-salient source) flip on rounding
    noise, so half precision changes results without making these cheap methods meaningfully faster."""

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        if weights is not None:
            raise ValueError(f"{type(self).__name__} has no weights (got weights={weights!r})")

    def configure(self, device=None, precision: str | None = None, channels_last: bool = False,
                  fold_bn: bool = False, compile: bool = False) -> FusionModel:
        if precision not in (None, "fp32"):
            warnings.warn(f"{type(self).__name__}: classical methods compute in fp32; precision={precision!r} "
                          "is ignored", stacklevel=2)
            precision = None
        return super().configure(device, precision, channels_last, fold_bn, compile)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not k.startswith("_") and k not in ("training", "compute_dtype", "channels_last",
                                                                "weights_name", "weights_sha256"))


# ---------------------------------------------------------------------------------------------- methods
@FUSION_MODELS.register_module(name="average")
class AverageFusion(_Classical):
    """Pixel average ``(ir + vis) / 2`` of the IR image and the visible luminance."""

    card = {
        "paper": "pixel-level averaging (textbook baseline; e.g. Piella, Information Fusion 2003, survey)",
        "year": None, "venue": None, "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "checked": "average of identical inputs is the identity; symmetric in its inputs (tested)",
    }

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return 0.5 * (ir + gray)


@FUSION_MODELS.register_module(name="max_abs")
class MaxAbsFusion(_Classical):
    """Pixel-wise maximum-absolute selection. On intensities (non-negative) this is the pixel maximum."""

    card = {
        "paper": "choose-max rule (textbook baseline; Piella, Information Fusion 2003, survey)",
        "year": None, "venue": None, "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "checked": "picks the larger-magnitude value; identity on identical inputs (tested)",
    }

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return select_max_abs(ir, gray)


@FUSION_MODELS.register_module(name="laplacian_pyramid")
class LaplacianPyramidFusion(_Classical):
    """Laplacian-pyramid fusion (Burt & Adelson 1983): band-pass levels by max-abs selection, the
    low-pass residual averaged.

    Args:
        levels: number of band-pass levels (fewer if the image gets smaller than 2 pixels).
    """

    card = {
        "paper": "Burt & Adelson, The Laplacian Pyramid as a Compact Image Code",
        "year": 1983, "venue": "IEEE Trans. Communications",
        "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "rule": "detail: max-abs; base: average; 5-tap binomial kernel, replicate borders",
        "checked": "pyramid of one image reconstructs it; fusion of identical inputs is the identity (tested)",
    }

    def __init__(self, levels: int = 4, weights: str | None = None) -> None:
        super().__init__(weights)
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = levels

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        pa, pb = laplacian_pyramid(ir, self.levels), laplacian_pyramid(gray, self.levels)
        fused = [select_max_abs(a, b) for a, b in zip(pa[:-1], pb[:-1])] + [0.5 * (pa[-1] + pb[-1])]
        return reconstruct_laplacian_pyramid(fused)


@FUSION_MODELS.register_module(name="dwt")
class DWTFusion(_Classical):
    """Discrete-wavelet-transform fusion (Li, Manjunath, Mitra 1995) with PyWavelets: approximation
    averaged, detail coefficients by max-abs selection. Computed on the CPU in float64.

    Args:
        wavelet: PyWavelets wavelet name.
        level: decomposition levels (capped at the maximum useful level for the image size).
        mode: signal extension mode.
    """

    card = {
        "paper": "Li, Manjunath, Mitra, Multisensor Image Fusion Using the Wavelet Transform",
        "year": 1995, "venue": "Graphical Models and Image Processing",
        "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "rule": "approximation: average; details: max-abs; default db2, 3 levels, symmetric extension",
        "checked": "identity on identical inputs; max-abs rule picks larger-magnitude coefficients (tested)",
    }

    def __init__(self, wavelet: str = "db2", level: int = 3, mode: str = "symmetric",
                 weights: str | None = None) -> None:
        super().__init__(weights)
        import pywt

        self.wavelet = wavelet if wavelet in pywt.wavelist(kind="discrete") else None
        if self.wavelet is None:
            raise ValueError(f"unknown discrete wavelet {wavelet!r}; see pywt.wavelist(kind='discrete')")
        if level < 1:
            raise ValueError(f"level must be >= 1, got {level}")
        self.level, self.mode = level, mode

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        import pywt

        h, w = ir.shape[-2:]
        level = max(1, min(self.level, pywt.dwtn_max_level((h, w), self.wavelet)))
        a = ir.detach().double().cpu().numpy()
        b = gray.detach().double().cpu().numpy()
        with warnings.catch_warnings():  # images smaller than the filter: one level, boundary-dominated
            warnings.simplefilter("ignore", UserWarning)
            ca = pywt.wavedec2(a, self.wavelet, mode=self.mode, level=level, axes=(-2, -1))
            cb = pywt.wavedec2(b, self.wavelet, mode=self.mode, level=level, axes=(-2, -1))
        fused = [0.5 * (ca[0] + cb[0])]
        for da, db in zip(ca[1:], cb[1:]):
            fused.append(tuple(np.where(np.abs(x) >= np.abs(y), x, y) for x, y in zip(da, db)))
        rec = pywt.waverec2(fused, self.wavelet, mode=self.mode, axes=(-2, -1))[..., :h, :w]
        return torch.from_numpy(np.ascontiguousarray(rec)).to(ir.device, ir.dtype)


@FUSION_MODELS.register_module(name="gff")
class GFFFusion(_Classical):
    """Guided-filter fusion (GFF; Li, Kang, Hu, IEEE TIP 2013).

    Two-scale split (base = ``(2*base_r+1)^2`` mean, detail = rest); saliency = Gaussian-smoothed
    absolute Laplacian; binary weight maps from the per-pixel most salient source, refined by guided
    filtering with the source as guide (``r1, eps1`` for the base layer, ``r2, eps2`` for details) and
    normalised to sum to one.
    """

    card = {
        "paper": "Li, Kang, Hu, Image Fusion With Guided Filtering",
        "year": 2013, "venue": "IEEE Transactions on Image Processing",
        "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "defaults": "mean 31x31, Laplacian 3x3, Gaussian 11x11 sigma 5, r1=45 eps1=0.3, r2=7 eps2=1e-6 (paper)",
        "vifb": "GFF is one of the VIFB (CVPRW 2020) methods",
        "checked": "weights sum to one; identity on identical inputs (tested)",
    }

    def __init__(self, base_r: int = 15, r1: int = 45, eps1: float = 0.3, r2: int = 7, eps2: float = 1e-6,
                 gauss_r: int = 5, gauss_sigma: float = 5.0, weights: str | None = None) -> None:
        super().__init__(weights)
        self.base_r, self.r1, self.eps1, self.r2, self.eps2 = base_r, r1, eps1, r2, eps2
        self.gauss_r, self.gauss_sigma = gauss_r, gauss_sigma

    def weight_maps(self, ir: torch.Tensor, gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised weight maps ``(w_base, w_detail)``, each ``B x 2 x H x W`` (IR, visible) summing to one."""
        src = torch.cat([ir, gray], dim=1)
        lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        sal = _filter2d(_filter2d(src, lap).abs(), _gaussian_kernel(2 * self.gauss_r + 1, self.gauss_sigma))
        p_ir = (sal[:, :1] >= sal[:, 1:]).to(src.dtype)
        p = torch.cat([p_ir, 1.0 - p_ir], dim=1)
        # each source's weight map is filtered with that source as its guide (channel-wise guides)
        wb = guided_filter(src, p, self.r1, self.eps1)
        wd = guided_filter(src, p, self.r2, self.eps2)
        return _normalise(wb), _normalise(wd)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        src = torch.cat([ir, gray], dim=1)
        base = _mean_filter(src, self.base_r)
        detail = src - base
        wb, wd = self.weight_maps(ir, gray)
        return (wb * base).sum(1, keepdim=True) + (wd * detail).sum(1, keepdim=True)


def _normalise(w: torch.Tensor) -> torch.Tensor:
    """Clip negative weights (guided filtering can overshoot) and make the channels sum to one
    (equal weights where all are zero)."""
    w = w.clamp(min=0.0)
    s = w.sum(1, keepdim=True)
    return torch.where(s > 1e-12, w / s.clamp(min=1e-12), torch.full_like(w, 1.0 / w.shape[1]))


@FUSION_MODELS.register_module(name="msvd")
class MSVDFusion(_Classical):
    """Multi-resolution SVD fusion (Naidu, Defence Science Journal 2011): per level, approximation
    averaged, the three detail bands by max-abs selection, the two images' bases ``U`` averaged.
    Inputs are reflect-padded to a multiple of ``2**levels`` and the result cropped back."""

    card = {
        "paper": "Naidu, Image Fusion Technique using Multi-resolution Singular Value Decomposition",
        "year": 2011, "venue": "Defence Science Journal",
        "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "vifb": "MSVD is one of the VIFB (CVPRW 2020) methods",
        "checked": "MSVD of one image reconstructs it; identity on identical inputs (tested)",
    }

    def __init__(self, levels: int = 1, weights: str | None = None) -> None:
        super().__init__(weights)
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = levels

    def _fuse(self, a: torch.Tensor, b: torch.Tensor, level: int) -> torch.Tensor:
        ta, ua = msvd_decompose(a)
        tb, ub = msvd_decompose(b)
        if level > 1 and min(ta.shape[-2:]) >= 2 and ta.shape[-1] % 2 == 0 and ta.shape[-2] % 2 == 0:
            approx = self._fuse(ta[:, :1], tb[:, :1], level - 1)
        else:
            approx = 0.5 * (ta[:, :1] + tb[:, :1])
        t = torch.cat([approx, select_max_abs(ta[:, 1:], tb[:, 1:])], dim=1)
        return msvd_reconstruct(t, 0.5 * (ua + ub))

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        h, w = ir.shape[-2:]
        m = 2**self.levels
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            ir, gray = F.pad(ir, (0, pw, 0, ph), mode=mode), F.pad(gray, (0, pw, 0, ph), mode=mode)
        return self._fuse(ir, gray, self.levels)[..., :h, :w]


@FUSION_MODELS.register_module(name="tif")
class TIFFusion(_Classical):
    """Two-scale image fusion with visual saliency (TIF; Bavirisetti & Dhuli, Infrared Physics &
    Technology 2016): base = ``(2*base_r+1)^2`` mean filter, averaged; detail weighted by the saliency
    ``|mean3x3 - median3x3|`` normalised over the two sources."""

    card = {
        "paper": "Bavirisetti & Dhuli, Two-scale image fusion of visible and infrared images using saliency detection",
        "year": 2016, "venue": "Infrared Physics & Technology",
        "licence": "n/a (own implementation)",
        "input": "IR grey + visible Y (YCrCb, chroma from visible), [0, 1]",
        "params": 0,
        "defaults": "base mean filter 35x35, saliency from 3x3 mean and 3x3 median (paper)",
        "vifb": "TIF is one of the VIFB (CVPRW 2020) methods",
        "checked": "detail weights sum to one; identity on identical inputs (tested)",
    }

    def __init__(self, base_r: int = 17, weights: str | None = None) -> None:
        super().__init__(weights)
        self.base_r = base_r

    def detail_weights(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        """``B x 2 x H x W`` detail weights (IR, visible), summing to one."""
        src = torch.cat([ir, gray], dim=1)
        sal = (_filter2d(src, torch.full((3, 3), 1.0 / 9.0)) - _median3(src)).abs()
        return _normalise(sal)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        src = torch.cat([ir, gray], dim=1)
        base = _mean_filter(src, self.base_r)
        detail = src - base
        wd = self.detail_weights(ir, gray)
        return base.mean(1, keepdim=True) + (wd * detail).sum(1, keepdim=True)
