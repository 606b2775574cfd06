"""Window-statistics metrics: VIF (VIFF), SSIM, MS-SSIM.

Each computes local means/variances with a sliding window over the 8 maps A, B, F, A^2, B^2, F^2, AF, BF
(A = infrared, B = visible, F = fused, 0..255). The float64 paths are the exact conventions; the
``precision='float32'`` paths replay the float32 arithmetic of the reference Python code step by step (it
matters for SSIM, whose C ~ 0 constants make flat regions sensitive to float32 cancellation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import (
    by_strips,
    correlate_valid_decimated,
    gaussian_1d,
    matlab_gaussian_window_1d,
    moment_maps,
    moment_spectra,
)

# --------------------------------------------------------------------------------------------------
# VIF
# --------------------------------------------------------------------------------------------------
_VIF_EPS = 1e-10
_SIGMA_NSQ = 2.0


def _vif_terms(s1: torch.Tensor, s2: torch.Tensor, s12: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-window VIF numerator/denominator sums (LIVE ``vifp_mscale`` rules), reduced to ``B``.

    ``s1``, ``s2``: local variances of the reference (a source) and of the fused image, ``s12`` their
    covariance, ``B x h x w`` (``s1`` is overwritten). LIVE's rules: negative variances clip to 0; where
    ``s1 < eps`` the gain g is 0 and ``s1`` counts as 0; where ``s2 < eps`` g is 0; a negative g becomes 0;
    the residual variance ``sv = s2 - g s12`` is at least eps. The numerator
    ``log10(1 + g^2 s1 / (sv + sigma_n^2))`` is therefore 0 wherever g ends up 0, and only the windows with a
    positive gain need ``sv``.
    """
    eps = _VIF_EPS
    s1 = s1.clamp_min_(0)
    s1 = s1.masked_fill_(s1 < eps, 0.0)
    g = s12 / (s1 + eps)
    keep = (g > 0) & (s1 > 0) & (s2 >= eps)
    sv = (s2 - g * s12).clamp_min_(eps)
    t = g.mul_(g).mul_(s1).div_(sv.add_(_SIGMA_NSQ)).masked_fill_(~keep, 0.0)
    num = torch.log10(t.add_(1.0)).flatten(1).sum(1)
    den = torch.log10(s1.div_(_SIGMA_NSQ).add_(1.0)).flatten(1).sum(1)
    return num, den


def _zoo_vif_window(n: int) -> torch.Tensor:
    """IVIF_ZOO's Gaussian: ``linspace(-n//2, n//2, n)`` grid (off-centre, stretched), float32, sum 1."""
    x = torch.linspace(-n // 2, n // 2, n, dtype=torch.float32)
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    g = torch.exp(-(xx ** 2 + yy ** 2) / (2 * (n / 5) ** 2))
    return g / g.sum()


@register_metric("VIFF", "vifp", order=120)
class VIF(Metric):
    """Visual information fidelity (Sheikh & Bovik pixel-domain multiscale ``vifp_mscale``), summed over sources.

    4 scales, Gaussian windows N = 17, 9, 5, 3 (sigma N/5), 'valid' filtering, decimation by 2, sigma_n^2 = 2;
    each source's score is sum(num) / sum(den) over the scales; NaN (flat reference) counts as 1 (CDDFuse).

    ``variant='live'`` (default; = CDDFuse = Tang's MATLAB code), float64.
    ``variant='zoo'``: IVIF_ZOO's version with its off-centre window and zero-padded 'same' filtering in
    float32 (2.5-6.7 % higher than LIVE).
    """

    shares = ("moment_spectra",)

    name = "VIF"
    min_size = 41  # four scales of Gaussian windows (17, 9, 5, 3) on halved images
    direction = "higher"
    reference = "fused+sources: sum of VIF(ir,F) and VIF(vis,F)"
    description = "visual information fidelity of the fused image w.r.t. each source, summed"
    options = {"variant": "live"}
    choices = {"variant": ("live", "zoo")}

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        if self.opts["variant"] == "zoo":
            return self._zoo(x)
        a, b, f = x.a, x.b, x.f
        B = f.shape[0]
        num = torch.zeros(2, B, dtype=torch.float64, device=f.device)
        den = torch.zeros_like(num)
        for scale in range(1, 5):
            n = 2 ** (5 - scale) + 1
            w = matlab_gaussian_window_1d(n, n / 5.0)
            if scale > 1:
                a, b, f = correlate_valid_decimated(torch.stack([a, b, f]), w, w).unbind(0)
            # local moments of the images shifted by the fused image's mean (see moment_spectra); up to
            # MOMENT_STRIPS_ABOVE pixels the full-resolution spectrum is shared with MS-SSIM (and the Gaussian
            # SSIM variants), larger images run in strips (moment_maps)
            maps, _ = moment_maps(a, b, f, w, w, spectra=partial(_spectra, x) if scale == 1 else None)
            ma, mb, mf, eaa, ebb, eff, eaf, ebf = maps
            s2 = eff.sub_(mf * mf)  # (co)variances in the filtered maps' storage: same values, less memory
            for i, (m1, e11, e12) in enumerate(((ma, eaa, eaf), (mb, ebb, ebf))):
                nu, de = _vif_terms(e11.sub_(m1 * m1), s2, e12.sub_(m1 * mf))
                num[i] += nu
                den[i] += de
        vif = num / den
        vif = torch.where(torch.isnan(vif), torch.ones_like(vif), vif)
        return vif.sum(0)

    def _zoo(self, x: GreyTriple) -> torch.Tensor:
        a, b, f = (t.float()[:, None] for t in (x.a, x.b, x.f))
        B = f.shape[0]
        num = torch.zeros(2, B, dtype=torch.float32, device=f.device)
        den = torch.zeros_like(num)

        def conv(t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return F.conv2d(t, w[None, None].to(t.device), padding=w.shape[-1] // 2)

        for scale in range(1, 5):
            n = 2 ** (5 - scale) + 1
            w = _zoo_vif_window(n)
            if scale > 1:
                a, b, f = (conv(t, w)[..., ::2, ::2] for t in (a, b, f))
            mf = conv(f, w)
            s2 = conv(f * f, w) - mf * mf
            for i, r in enumerate((a, b)):
                m1 = conv(r, w)
                s1 = conv(r * r, w) - m1 * m1
                s12 = conv(r * f, w) - m1 * mf
                nu, de = _vif_terms(s1, s2, s12)
                num[i] += nu
                den[i] += de
        return (num / den).sum(0).double()


# --------------------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------------------
def _box_valid_exact(x: torch.Tensor, n: int) -> torch.Tensor:
    """Valid n x n box mean of ``... x H x W``: running sums of shifted slices, then one division.

    On integer-valued float64 maps (8-bit levels and their products) every partial sum is an exact integer,
    so the result does not depend on the summation order (it equals the cumulative-sum form bit for bit).
    Slices of one map stay in cache, which makes this faster than cumulative sums on CPU.
    """
    H, W = x.shape[-2:]
    y = x[..., 0:H - n + 1, :].clone()
    for u in range(1, n):
        y += x[..., u:H - n + 1 + u, :]
    z = y[..., 0:W - n + 1].clone()
    for v in range(1, n):
        z += y[..., v:W - n + 1 + v]
    return z.div_(n * n)


def _box_axis_f32(x32: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """scipy ``uniform_filter1d`` on float32 data, valid part: double accumulation, float32 output."""
    xd = x32.double()
    c = torch.cumsum(xd, dim=dim)
    zero = torch.zeros_like(c.narrow(dim, 0, 1))
    c = torch.cat([zero, c], dim=dim)
    L = c.shape[dim]
    y = (c.narrow(dim, n, L - n) - c.narrow(dim, 0, L - n)) / n
    return y.float()


def _ssim_cdd(f: torch.Tensor, srcs: list[torch.Tensor], precision: str) -> list[torch.Tensor]:
    """scikit-image ``structural_similarity(F, X)``: 7x7 uniform window, sample covariance, data_range 2,
    mean over the map minus a 3-pixel border (= the 'valid' map). ``float32`` replays skimage on float32 input.
    """
    n = 7
    cov = n * n / (n * n - 1)
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
    out = []
    if precision == "float64":
        def maps(strip: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
            f = strip["f"]
            mf = _box_valid_exact(f, n)
            eff = _box_valid_exact(f * f, n)
            vf = cov * (eff - mf * mf)
            res = []
            for s in (strip[str(i)] for i in range(len(srcs))):
                ms = _box_valid_exact(s, n)
                vs = cov * (_box_valid_exact(s * s, n) - ms * ms)
                vfs = cov * (_box_valid_exact(f * s, n) - mf * ms)
                res.append(((2 * mf * ms + c1) * (2 * vfs + c2)) / ((mf * mf + ms * ms + c1) * (vf + vs + c2)))
            return tuple(res)

        # the SSIM maps strip by strip (every window's value by the same operations: bit for bit one pass),
        # the intermediate maps of a strip in the CPU cache; averaged whole, as before
        whole = by_strips(maps, {"f": f, **{str(i): s for i, s in enumerate(srcs)}}, n)
        return [S.flatten(1).mean(1) for S in whole]

    def box(t32: torch.Tensor) -> torch.Tensor:
        return _box_axis_f32(_box_axis_f32(t32, n, -2), n, -1)

    f32 = f.float()
    covf = torch.tensor(cov, dtype=torch.float32)
    c1f, c2f = torch.tensor(c1, dtype=torch.float32), torch.tensor(c2, dtype=torch.float32)
    ux = box(f32)
    uxx = box(f32 * f32)
    vx = covf * (uxx - ux * ux)
    for s in srcs:
        s32 = s.float()
        uy = box(s32)
        uyy = box(s32 * s32)
        uxy = box(f32 * s32)
        vy = covf * (uyy - uy * uy)
        vxy = covf * (uxy - ux * uy)
        a1 = 2 * ux * uy + c1f
        a2 = 2 * vxy + c2f
        b1 = ux ** 2 + uy ** 2 + c1f
        b2 = vx + vy + c2f
        S = (a1 * a2) / (b1 * b2)
        out.append(S.double().flatten(1).mean(1))
    return out


def _zoo_win_f32(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32)
    coords -= size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    return g


def _gauss_filter_f32(t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """IVIF_ZOO / pytorch_msssim separable valid Gaussian: conv along H, then along W (float32 conv2d)."""
    g = g.to(t.device)
    out = F.conv2d(t, g.view(1, 1, -1, 1))
    return F.conv2d(out, g.view(1, 1, 1, -1))


def _ssim_gauss_f32(X: torch.Tensor, Y: torch.Tensor, c1: float, c2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """pytorch_msssim ``_ssim`` (as vendored by IVIF_ZOO) on ``B x 1 x H x W`` float32: (ssim, cs) per image."""
    g = _zoo_win_f32()
    mu1 = _gauss_filter_f32(X, g)
    mu2 = _gauss_filter_f32(Y, g)
    mu1_sq = mu1.pow(2)
    mu2_sq = mu2.pow(2)
    mu1_mu2 = mu1 * mu2
    sigma1_sq = 1.0 * (_gauss_filter_f32(X * X, g) - mu1_sq)
    sigma2_sq = 1.0 * (_gauss_filter_f32(Y * Y, g) - mu2_sq)
    sigma12 = 1.0 * (_gauss_filter_f32(X * Y, g) - mu1_mu2)
    cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
    ssim_map = ((2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
    return torch.flatten(ssim_map, 2).mean(-1)[:, 0], torch.flatten(cs_map, 2).mean(-1)[:, 0]


def _gauss_stats_f64(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor, pad: str,
                     spectra: Callable[[], tuple[list[torch.Tensor], torch.Tensor]] | None = None) -> tuple:
    """float64 11-tap sigma 1.5 Gaussian statistics of F and each source ('valid' or replicate-padded 'same').

    Returns ``(mu_F, var_F, [(mu_A, var_A, cov_AF), (mu_B, var_B, cov_BF)])``. ``spectra``: a function giving
    the triple's shared :func:`moment_spectra` (valid padding only; see :func:`moment_maps`).
    """
    g = gaussian_1d(11, 1.5)
    g = g / g.sum()
    if pad == "replicate":
        f, a, b = (F.pad(t[:, None], (5, 5, 5, 5), mode="replicate")[:, 0] for t in (f, a, b))
    maps, c = moment_maps(a, b, f, g, g, spectra=spectra)
    ma, mb, mf, eaa, ebb, eff, eaf, ebf = maps
    # in the filtered maps' own storage (the same operations as out of place: same values, 8 maps fewer)
    res = [(ma, eaa.sub_(ma * ma), eaf.sub_(mf * ma)), (mb, ebb.sub_(mb * mb), ebf.sub_(mf * mb))]
    vf = eff.sub_(mf * mf)
    for m in (ma, mb, mf):
        m.add_(c)
    return mf, vf, res


def _ssim_gauss_f64(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c1: float, c2: float, pad: str = "valid",
                    want_cs: bool = False,
                    spectra: Callable[[], tuple[list[torch.Tensor], torch.Tensor]] | None = None) -> list:
    """SSIM per source (``want_cs``: only the mean contrast-structure term, what MS-SSIM's finer scales use)."""
    mf, vf, res = _gauss_stats_f64(f, a, b, pad, spectra)
    out = []
    for ms, vs, vfs in res:
        cs_map = (2 * vfs + c2) / (vf + vs + c2)
        if want_cs:
            out.append(cs_map.flatten(1).mean(1))
            continue
        ssim_map = ((2 * mf * ms + c1) / (mf * mf + ms * ms + c1)) * cs_map
        out.append(ssim_map.flatten(1).mean(1))
    return out


def _spectra(x: GreyTriple) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The triple's full-resolution :func:`moment_spectra`, computed once and shared by VIF and the SSIMs."""
    return x.cached("moment_spectra", lambda: moment_spectra(x.a, x.b, x.f))


@register_metric("structural_similarity", order=150)
class SSIM(Metric):
    """Structural similarity of the fused image with each source; four conventions (spec section 2, SSIM).

    ``variant``:
      * ``'cdd'`` (default): scikit-image ``structural_similarity(F, X)`` as CDDFuse calls it: 7x7 uniform
        window, sample covariance, data_range 2 (C1 = 4e-4, C2 = 3.6e-3 on 0..255, i.e. ~0), 3-px border
        cropped; summed over the sources (range 0..2). This is what most published tables print.
      * ``'zoo'``: IVIF_ZOO's pytorch_msssim on data x255 with data_range 255 (C1 = 1e-4, C2 = 9e-4 on 0..255),
        11x11 Gaussian sigma 1.5, valid; summed.
      * ``'wang'``: Wang et al. 2004 constants (L = 255, K = 0.01, 0.03), 11x11 Gaussian, valid; summed (= VIFB).
      * ``'tang'``: MATLAB ``ssim`` on double 0..255 (DynamicRange 1: C1 = 1e-4, C2 = 9e-4), replicate padding,
        full-size map; **mean** of the two (Tang's kit). Follows the MathWorks documentation; not run here.

    ``precision``: ``'float64'`` (default) or ``'float32'`` (replays the float32 arithmetic of CDDFuse's
    skimage call / IVIF_ZOO's torch code; only for ``cdd`` and ``zoo``).
    """

    shares = ("moment_spectra",)

    name = "SSIM"
    direction = "higher"
    description = "structural similarity of the fused image with each source"
    options = {"variant": "cdd", "precision": "float64"}
    choices = {"variant": ("cdd", "zoo", "wang", "tang"), "precision": ("float64", "float32")}

    @property
    def reference(self) -> str:  # type: ignore[override]
        rule = "mean" if self.opts["variant"] == "tang" else "sum"
        return f"fused+sources: {rule} of SSIM(ir,F) and SSIM(vis,F)"

    @property
    def needs_sources(self) -> bool:
        return True

    @property
    def range(self) -> tuple[float, float]:
        return (-1.0, 1.0) if self.opts["variant"] == "tang" else (-2.0, 2.0)

    @property
    def min_size(self) -> int:  # type: ignore[override]
        """The window must fit: 7 x 7 (``cdd``), 11 x 11 valid (``zoo``, ``wang``); ``tang`` pads."""
        return {"cdd": 7, "zoo": 11, "wang": 11}.get(self.opts["variant"], 1)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        v, prec = self.opts["variant"], self.opts["precision"]
        if prec == "float32" and v not in ("cdd", "zoo"):
            raise ValueError(f"SSIM precision='float32' replays CDDFuse/IVIF_ZOO code only (variant {v!r})")
        srcs = [x.a, x.b]
        if v == "cdd":
            s = _ssim_cdd(x.f, srcs, prec)
            return s[0] + s[1]
        if v == "zoo":
            c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
            if prec == "float32":
                fx = (x.f.float() * 255.0)[:, None]
                vals = [_ssim_gauss_f32((s.float() * 255.0)[:, None], fx, c1, c2)[0] for s in srcs]
                return (vals[0] + vals[1]).double()
            # SSIM of (255 X, 255 Y) with C equals SSIM of (X, Y) with C / 255^2
            s = _ssim_gauss_f64(x.f, x.a, x.b, c1 / 255.0 ** 2, c2 / 255.0 ** 2, spectra=partial(_spectra, x))
            return s[0] + s[1]
        if v == "wang":
            s = _ssim_gauss_f64(x.f, x.a, x.b, (0.01 * 255) ** 2, (0.03 * 255) ** 2, spectra=partial(_spectra, x))
            return s[0] + s[1]
        s = _ssim_gauss_f64(x.f, x.a, x.b, 1e-4, 9e-4, pad="replicate")
        return (s[0] + s[1]) / 2


_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@register_metric("MSSSIM", "MS_SSIM", "multiscale_ssim", order=160)
class MS_SSIM(Metric):
    """Multi-scale SSIM (Wang et al. 2003), 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), summed.

    2x2 average-pool downsampling (zero padding of odd sizes counted in the mean), ReLU on the contrast-structure
    terms of scales 1-4 and on the SSIM of scale 5, 11x11 Gaussian sigma 1.5, valid. Needs the shorter side
    > 160 pixels.

    ``constants='zoo'`` (default, IVIF_ZOO): C1 = 1e-4, C2 = 9e-4 on 0..255 (~0). ``'wang'``: L = 255 constants.
    ``precision='float32'`` replays IVIF_ZOO's float32 torch code (with ``constants='zoo'``).
    """

    shares = ("moment_spectra",)

    name = "MS-SSIM"
    min_size = 161  # five scales of the 11 x 11 window on halved images
    direction = "higher"
    reference = "fused+sources: sum of MS-SSIM(ir,F) and MS-SSIM(vis,F)"
    description = "multi-scale structural similarity of the fused image with each source"
    options = {"constants": "zoo", "precision": "float64"}
    choices = {"constants": ("zoo", "wang"), "precision": ("float64", "float32")}

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 2.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        if min(x.f.shape[-2:]) <= 160:
            raise ValueError(f"MS-SSIM needs images whose shorter side is > 160 pixels, got {tuple(x.f.shape[-2:])}")
        zoo = self.opts["constants"] == "zoo"
        f32 = self.opts["precision"] == "float32"
        if f32 and not zoo:
            raise ValueError("MS-SSIM precision='float32' replays IVIF_ZOO code only (constants='zoo')")
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        if f32:  # IVIF_ZOO's float32 code on x255 data, ssim(X=source, Y=fused) once per source
            dtype, scale = torch.float32, 255.0
        else:  # float64 on 0..255: SSIM of (255 X, 255 Y) with C equals SSIM of (X, Y) with C / 255^2
            dtype, scale = torch.float64, 1.0
            if zoo:
                c1, c2 = c1 / 255.0 ** 2, c2 / 255.0 ** 2
        weights = torch.tensor(_MS_WEIGHTS, dtype=dtype, device=x.f.device)
        # B x 1 x H x W maps, pooled per scale: fused, infrared, visible
        ims = [(t.to(dtype) * scale if scale != 1.0 else t.to(dtype))[:, None] for t in (x.f, x.a, x.b)]
        # per source: the contrast-structure means of scales 1-4, then the SSIM of scale 5 (each through ReLU)
        terms: list[list[torch.Tensor]] = [[], []]
        for i in range(5):
            cs_only = i < 4
            if f32:
                vals = [_ssim_gauss_f32(src, ims[0], c1, c2)[1 if cs_only else 0] for src in ims[1:]]
            else:  # both sources share the fused image's filtered maps; full resolution shares VIF's spectrum
                vals = _ssim_gauss_f64(ims[0][:, 0], ims[1][:, 0], ims[2][:, 0], c1, c2, want_cs=cs_only,
                                       spectra=partial(_spectra, x) if i == 0 else None)
            for k in range(2):
                terms[k].append(torch.relu(vals[k]))
            if cs_only:
                pad = [sz % 2 for sz in ims[0].shape[2:]]
                ims = [F.avg_pool2d(t, kernel_size=2, padding=pad) for t in ims]
        total = torch.zeros(x.f.shape[0], dtype=dtype, device=x.f.device)
        for k in range(2):
            stack = torch.stack(terms[k], dim=0)
            total = total + torch.prod(stack ** weights[:, None], dim=0)
        return total.double()
