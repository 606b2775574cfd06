"""Human-perception metrics: Qcb (Chen & Blum 2009) and Qcv (Chen & Varshney 2007).

Reference behaviour: VIFB's ``metricsQcb.m`` / ``metricsQcv.m`` (Z. Liu's code); ``Qcb(variant='zoo')`` is the
IVIF_ZOO port (no rounding, CSF at half the radial frequency, 1e-10 guards).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import (
    _STRIP_ELEMENTS,
    MOMENT_STRIPS_ABOVE,
    _fast_len,
    by_strips,
    centred_kernel_spectrum,
    gaussian_1d,
    sobel_same,
)


def _minmax(x: torch.Tensor, rounded: bool) -> torch.Tensor:
    """Per-image min-max stretch: to 0..255 rounded (VIFB ``normalize1``) or to 0..1 (IVIF_ZOO).

    VIFB keeps an all-zero image as is; any other constant image gives NaN (0/0), as in the MATLAB code.
    """
    B = x.shape[0]
    lo = x.reshape(B, -1).amin(1)[:, None, None]
    hi = x.reshape(B, -1).amax(1)[:, None, None]
    y = (x - lo) / (hi - lo)
    if rounded:  # MATLAB round: half away from zero (torch.round rounds half to even)
        y = torch.floor(y * 255 + 0.5)
        allzero = (hi == 0) & (lo == 0)
        y = torch.where(allzero, x, y)
    return y


def _freq_radius(h: int, w: int, scale_h: float, scale_w: float, device) -> torch.Tensor:
    """Radial frequency on the unshifted FFT grid (rfft2 half-plane): MATLAB ``freqspace`` (Nyquist = 1)
    scaled by ``scale_h`` along rows and ``scale_w`` along columns."""
    v = torch.fft.fftfreq(h, device=device, dtype=torch.float64) * 2 * scale_h
    u = torch.fft.rfftfreq(w, device=device, dtype=torch.float64) * 2 * scale_w
    return torch.sqrt(u[None, :] ** 2 + v[:, None] ** 2)


def _freq_filter(x: torch.Tensor, resp: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return torch.fft.irfft2(torch.fft.rfft2(x) * resp, s=(h, w))


def _qcb_contrast_filters(imgs: torch.Tensor, csf: torch.Tensor,
                          per_image: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CSF-filter ``... x H x W`` images (circularly, as the MATLAB code does with its FFTs), then correlate them
    with Qcb's unnormalised 31x31 Gaussians (sigma 2 and 4) with zero padding ('same' size).

    ``csf``: the filter's real response on the ``rfft2`` half-plane ``H x (W // 2 + 1)``. The second stage
    transforms the filtered maps zero-extended to at least ``H + 15 x W + 15`` with the kernels centred on
    index 0, which is exactly zero-padded 'same' filtering (no wrap-around reaches the kept part).
    Returns ``(G2 * filtered / (2 pi 2^2), G4 * filtered / (2 pi 4^2))``, each shaped like ``imgs``.
    """
    H, W = imgs.shape[-2:]
    strips = H * W > MOMENT_STRIPS_ABOVE
    # rows of filtered output per transform: all of them, or strips of about _STRIP_ELEMENTS (with 30 rows of
    # context), whose transforms stay in the CPU's cache; the same arithmetic either way, to float rounding
    rows = max(64, _STRIP_ELEMENTS // _fast_len(W + 30)) if strips else H
    b1, b2 = torch.empty_like(imgs), torch.empty_like(imgs)
    # ``per_image`` (default: on CPU) transforms one image at a time: small transforms stay in cache and
    # below the allocator's mmap threshold. On a GPU all images go at once.
    if per_image is None:
        per_image = imgs.device.type == "cpu"
    items = itertools.product(*(range(n) for n in imgs.shape[:-2])) if per_image else [(...,)]
    kernels: dict[tuple[int, int], list[torch.Tensor]] = {}  # per transform size (a last strip may differ)
    for idx in items:
        filtered = _freq_filter(imgs[idx], csf)
        if strips:  # the zero padding of 'same' filtering, so each strip's context is its neighbours' rows
            filtered = F.pad(filtered, (15, 15, 15, 15))
        for r in range(0, H, rows):
            k = min(rows, H - r)
            if strips:  # a padded strip's valid centre
                part, o, (P, Q) = filtered[..., r:r + k + 30, :], 15, (_fast_len(k + 30), _fast_len(W + 30))
            else:  # the whole image zero-extended: its origin
                part, o, (P, Q) = filtered, 0, (_fast_len(H + 15), _fast_len(W + 15))
            spec = torch.fft.rfft2(part, s=(P, Q))
            if (P, Q) not in kernels:
                kernels[P, Q] = _qcb_kernels(P, Q, imgs.device)
            for out, kernel in zip((b1, b2), kernels[P, Q]):
                out[idx][..., r:r + k, :] = torch.fft.irfft2(spec * kernel, s=(P, Q))[..., o:o + k, o:o + W]
    return b1, b2


def _qcb_kernels(P: int, Q: int, device: torch.device) -> list[torch.Tensor]:
    """Qcb's two unnormalised 31 x 31 Gaussians (sigma 2 and 4, divided by 2 pi sigma^2) as real half-plane
    spectra of size ``P x Q``, centred on index 0."""
    kernels = []
    for sigma in (2.0, 4.0):
        g = gaussian_1d(31, sigma)
        kernels.append(centred_kernel_spectrum(g, g, P, Q, device, real_half=True) / (2 * math.pi * sigma * sigma))
    return kernels


@register_metric("QCB", "chen_blum", order=170)
class Qcb(Metric):
    """Chen-Blum perceptual contrast-preservation metric.

    Images are min-max stretched (VIFB: to 0..255 and rounded), filtered with the CSF
    ``S(r) = exp(-(r/15.3870)^2) - 0.7622 exp(-(r/1.3456)^2)`` (r = MATLAB freqspace x size/30), local
    contrast ``C = (G_2 * I) / (G_4 * I) - 1`` with unnormalised 31x31 Gaussians (sigma 2, 4; zero padding),
    masked ``C' = |C|^3 / (|C|^2 + 1e-4)``; ``Q = mean(lambda_A Q_AF + lambda_B Q_BF)`` with saliency
    ``lambda_X = C'_X^2 / (C'_A^2 + C'_B^2)`` and ``Q_XF = min/max(C'_X, C'_F)``.

    ``variant='vifb'`` (default) or ``'zoo'`` (IVIF_ZOO: no rounding, half radial frequency, 1e-10 guards).
    """

    name = "Qcb"
    degenerate = ("NaN when any of the three images is constant: its min-max stretch is 0/0")
    direction = "higher"
    reference = "fused+sources: saliency-weighted mean of Q(ir,F) and Q(vis,F)"
    description = "perceptual contrast preserved from the sources (Chen-Blum)"
    options = {"variant": "vifb"}
    choices = {"variant": ("vifb", "zoo")}

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        zoo = self.opts["variant"] == "zoo"
        imgs = torch.stack([_minmax(t, rounded=not zoo) for t in (x.a, x.b, x.f)], 0)  # 3 x B x H x W
        h, w = imgs.shape[-2:]
        k = 1.0 if zoo else 2.0  # fftfreq (cycles/sample) vs freqspace (Nyquist = 1)
        r = _freq_radius(h, w, k * h / 30 / 2, k * w / 30 / 2, imgs.device)
        sd = torch.exp(-(r / 15.3870) ** 2) - 0.7622 * torch.exp(-(r / 1.3456) ** 2)
        b1, b2 = _qcb_contrast_filters(imgs, sd)
        guard = 1e-10 if zoo else 0.0
        def terms(strip: dict[str, torch.Tensor]) -> tuple[torch.Tensor]:
            b2 = strip["b2"]
            c = strip["b1"].div_(b2.add_(guard) if guard else b2).sub_(1).abs_()  # |G2 I / G4 I - 1|
            c2 = c * c
            cp = c2.mul(c).div_(c2.add_(1e-4))  # masked contrast |C|^3 / (|C|^2 + 1e-4)
            ca, cb, cf = cp[0], cp[1], cp[2]

            def pres(cx: torch.Tensor) -> torch.Tensor:  # min/max of C'_X and C'_F
                return torch.minimum(cx, cf).div_(torch.maximum(cx, cf))

            wa, wb = ca * ca, cb * cb
            den = wa + wb
            if guard:
                den.add_(guard)
            return (wa.div_(den).mul_(pres(ca)).add_(wb.div_(den).mul_(pres(cb))),)

        # the per-pixel terms strip by strip (the same operations per pixel: bit for bit one pass), with a
        # strip's maps in the CPU cache; the whole map is averaged as before
        (q,) = by_strips(terms, {"b1": b1, "b2": b2}, 1)
        return q.flatten(1).mean(1)


def _block_reduce(x: torch.Tensor, size: int, op: str) -> torch.Tensor:
    """MATLAB ``blkproc`` over ``size x size`` blocks (zero padding at the bottom/right): sum or mean."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % size, (-w) % size
    xp = F.pad(x, (0, pw, 0, ph)) if ph or pw else x
    B = x.shape[0]
    blocks = xp.reshape(B, (h + ph) // size, size, (w + pw) // size, size)
    s = blocks.sum(dim=(2, 4))
    return s / (size * size) if op == "mean" else s


@register_metric("QCV", "chen_varshney", order=180)
class Qcv(Metric):
    """Chen-Varshney regional perceptual distortion (VIFB ``metricsQcv.m``); lower is better.

    Min-max stretch to 0..255 (rounded); saliency ``lambda = sum(g^5)`` of the Sobel magnitude over 16x16
    blocks; the differences X - F filtered with the Mannos-Sakrison CSF
    ``2.6 (0.0192 + 0.144 r) exp(-(0.144 r)^1.1)`` (r = freqspace x size/8) give block mean squares D;
    ``Qcv = sum(lambda_A D_A + lambda_B D_B) / sum(lambda_A + lambda_B)``.
    """

    name = "Qcv"
    degenerate = ("NaN when any of the three images is constant: its min-max stretch is 0/0")
    direction = "lower"
    reference = "fused+sources: saliency-weighted mean of the regional distortions of ir and vis"
    description = "perceptual distortion of the fused image w.r.t. the sources (Chen-Varshney)"

    @property
    def unit(self) -> str:
        return "(0..255)^2"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        a, b, f = (_minmax(t, rounded=True) for t in (x.a, x.b, x.f))

        def saliency(img: torch.Tensor) -> torch.Tensor:
            gx, gy = sobel_same(img, "zeros")  # filter2 with [-1 0 1; -2 0 2; -1 0 1] and its transpose
            g2 = gx.mul_(gx).add_(gy * gy)
            g = torch.sqrt(g2)
            return _block_reduce(g2.mul_(g2).mul_(g), 16, "sum")  # g^5

        la, lb = saliency(a), saliency(b)
        h, w = f.shape[-2:]
        r = _freq_radius(h, w, h / 8, w / 8, f.device)
        theta = 2.6 * (0.0192 + 0.144 * r) * torch.exp(-((0.144 * r) ** 1.1))
        da, db = (_block_reduce(_freq_filter(src - f, theta).square_(), 16, "mean") for src in (a, b))
        return (la * da + lb * db).flatten(1).sum(1) / (la + lb).flatten(1).sum(1)
