"""Edge-based metrics: Qabf (Xydeas & Petrovic edge transfer) and Nabf (Kumar's modified fusion artefacts).

Both compare Sobel edge strength and orientation of the fused image with those of each source and combine
the two per-pixel terms with edge-strength weights.
"""

from __future__ import annotations

import math

import torch

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import by_strips, sobel_same, sobel_valid


def _qabf_edges(padded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Edge strength and orientation of ``B x H x W`` (given zero-padded by one pixel, ``B x (H + 2) x (W + 2)``,
    or rows of it) as Xydeas & Petrovic's MATLAB code computes them.

    MATLAB ``conv2`` (true convolution, zero padding) with ``h3 = [-1 0 1; -2 0 2; -1 0 1]`` and
    ``h1 = [1 2 1; 0 0 0; -1 -2 -1]`` is correlation with their 180-degree rotations: ``Sx = -gx``,
    ``Sy = gy``; ``alpha = atan(Sy / Sx)``, pi/2 where ``Sx == 0``.
    """
    gx, gy = sobel_valid(padded)
    sx = gx.neg_()
    g = torch.sqrt(sx * sx + gy * gy)
    alpha = torch.atan(gy.div_(sx)).masked_fill_(sx == 0, math.pi / 2)
    return g, alpha


def _qabf_q(ga: torch.Tensor, aa: torch.Tensor, gf: torch.Tensor, af: torch.Tensor) -> torch.Tensor:
    """Per-pixel edge preservation ``Q_XF = Q_g Q_alpha`` of a source X in the fused image F."""
    # Relative strength min/max, with the original MATLAB quirk: G = gF (not 1) where gA == gF.
    G = torch.minimum(ga, gf).div_(torch.maximum(ga, gf))
    G = torch.where(ga == gf, gf, G)
    A = torch.abs(aa - af).div_(-math.pi / 2).add_(1)
    qg = G.sub_(0.5).mul_(-15).exp_().add_(1).reciprocal_().mul_(0.9994)
    qa = A.sub_(0.8).mul_(-22).exp_().add_(1).reciprocal_().mul_(0.9879)
    return qg.mul_(qa)


@register_metric("QABF", "Q_abf", "Qab/f", order=130)
class Qabf(Metric):
    """Edge-information transfer ``sum(Q_AF g_A + Q_BF g_B) / sum(g_A + g_B)`` (Xydeas & Petrovic, L = 1).

    Sobel responses by MATLAB ``conv2(I, h, 'same')`` (zero padding; orientation pi/2 where Sx == 0), sigmoid
    constants Gamma_g 0.9994, k_g -15, s_g 0.5, Gamma_a 0.9879, k_a -22, s_a 0.8, and the quirk every port keeps
    (relative strength = g_F where g_A == g_F). CDDFuse, IVIF_ZOO, Tang and VIFB agree on this metric.
    """

    name = "Qabf"
    degenerate = ("NaN when both sources are all black (no edge anywhere: 0/0); the zero padding gives every "
                  "other constant image edges at its border, so three constant grey images score about 0.975")
    direction = "higher"
    reference = "fused+sources: edge-strength-weighted mean of Q(ir,F) and Q(vis,F)"
    description = "edge information transferred from the sources to the fused image"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        def terms(strip: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            (gf, af), (ga, aa), (gb, ab) = (_qabf_edges(strip[k]) for k in "fab")
            qa = _qabf_q(ga, aa, gf, af)
            qb = _qabf_q(gb, ab, gf, af)
            return qa * ga + qb * gb, ga + gb

        # per-pixel terms strip by strip on the zero-padded images (3 x 3 windows; each pixel by the same
        # operations: bit for bit one pass), a strip's maps in the CPU cache; the two whole maps summed as before
        padded = {k: torch.nn.functional.pad(t[:, None], (1, 1, 1, 1))[:, 0] for k, t in zip("fab", (x.f, x.a, x.b))}
        num_map, den_map = by_strips(terms, padded, 3)
        return num_map.flatten(1).sum(1) / den_map.flatten(1).sum(1)


def _nabf_sobel(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sobel/8 on the reflect-101 extended image (Kumar's ``sobel_fn`` / ``per_extn_im_fn``): ``(gv, gh, g)``.

    The kernels' sign convention does not matter here (both responses flip together).
    """
    gx, gy = sobel_same(img, "reflect")
    gv, gh = gx.div_(8), gy.div_(8)
    return gv, gh, torch.sqrt(gv * gv + gh * gh)


def _nabf_alpha(gv: torch.Tensor, gh: torch.Tensor) -> torch.Tensor:
    """Edge orientation ``atan(gv / gh)``, 0 where both responses are 0."""
    return torch.atan(gv / gh).masked_fill_((gv == 0) & (gh == 0), 0.0)


def _nabf_q(gx: torch.Tensor, ax: torch.Tensor, gf: torch.Tensor, af: torch.Tensor) -> torch.Tensor:
    """``sqrt(Q_g Q_alpha)`` at pixels where ``gf > gx`` (so the relative strength min/max is ``gx / gf``)."""
    qg = (gx / gf).sub_(0.5).mul_(-19).exp_().add_(1).reciprocal_().mul_(0.9999)
    axf = torch.abs(torch.abs(ax - af).sub_(math.pi / 2)).mul_(2).div_(math.pi)
    qa = axf.sub_(0.5).mul_(-22).exp_().add_(1).reciprocal_().mul_(0.9995)
    return qg.mul_(qa).sqrt_()


@register_metric("NABF", "N_abf", order=140)
class Nabf(Metric):
    """Fusion artefacts (B. K. Shreyamsha Kumar's modified N_ABF), fused image first (lower is better).

    Sobel/8 on a reflect-101 extended image; sums ``(1 - Q_AF) w_A + (1 - Q_BF) w_B`` over the pixels where the
    fused edge is stronger than both sources' (``g_F > g_A`` and ``g_F > g_B``) and divides by ``sum(w_A + w_B)``.
    Weights ``w = g^1.5`` where ``g >= 2``, else ``wt_min``: 0.001 (default, Kumar's MATLAB code) or 0 (IVIF_ZOO).
    Zero for any fusion whose gradient never exceeds both sources', e.g. the pixel mean (up to rounding).

    ``call='tang'`` reproduces Tang's ``analysis_Reference.m``, which calls ``analysis_nabf(ir, vis, fused)``
    although the function takes the fused image first: the infrared image is scored as the fused one, against
    the visible and the fused images (-24 % on SAGE outputs; it ranks pixel averaging as the most
    artefact-laden fusion). Only for reproducing that kit's tables.
    """

    name = "Nabf"
    degenerate = ("NaN with wt_min=0 (the ivif_zoo profile) when both sources are constant (the edge weights "
                  "sum to 0); finite otherwise")
    min_size = 2  # the 3 x 3 Sobel operator with edge padding
    direction = "lower"
    reference = "fused+sources: edge-strength-weighted artefact terms of ir and vis, summed"
    description = "noise/artefacts added by fusion (edges in F stronger than in either source)"
    options = {"wt_min": 0.001, "call": "fused_first"}
    choices = {"call": ("fused_first", "tang")}

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        f, a, b = (x.a, x.b, x.f) if self.opts["call"] == "tang" else (x.f, x.a, x.b)
        (fv, fh, gf), (av, ah, ga), (bv, bh, gb) = (_nabf_sobel(t) for t in (f, a, b))
        wmin = float(self.opts["wt_min"])
        wa = torch.where(ga >= 2, ga * torch.sqrt(ga), wmin)  # g^1.5
        wb = torch.where(gb >= 2, gb * torch.sqrt(gb), wmin)
        den = (wa + wb).flatten(1).sum(1)
        # Artefacts count only where the fused edge is stronger than both sources' edges: evaluate the
        # orientation and sigmoid terms on those pixels alone (usually a minority of the image).
        art = ((gf > ga) & (gf > gb)).reshape(-1)
        sel = art.nonzero().squeeze(1)

        def at(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(-1).index_select(0, sel)

        af, gfa = _nabf_alpha(at(fv), at(fh)), at(gf)
        terms = (1 - _nabf_q(at(ga), _nabf_alpha(at(av), at(ah)), gfa, af)) * at(wa) \
            + (1 - _nabf_q(at(gb), _nabf_alpha(at(bv), at(bh)), gfa, af)) * at(wb)
        num = torch.zeros_like(den).index_add_(0, sel // gf[0].numel(), terms)
        return num / den


@register_metric("edge_intensity", order=46)
class EI(Metric):
    """Edge intensity: mean Sobel gradient magnitude ``sqrt(gx^2 + gy^2)`` of the fused image (VIFB
    ``metricsEdge_intensity.m``: ``imfilter`` with ``fspecial('sobel')`` and its transpose; Zhang, Ye & Xiao,
    CVPRW 2020, after Rajalingam & Priya 2018).

    ``padding='replicate'`` (default, VIFB's ``imfilter(..., 'replicate')``) or ``'zeros'`` (IVIF_ZOO's EI,
    about 4 % higher: the zero border counts as an edge).
    """

    name = "EI"
    direction = "higher"
    description = "mean Sobel gradient magnitude of the fused image"
    options = {"padding": "replicate"}
    choices = {"padding": ("replicate", "zeros")}

    @property
    def unit(self) -> str:
        return "grey levels"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 255.0 * 4 * math.sqrt(2.0))

    def compute(self, x: GreyTriple) -> torch.Tensor:
        f = x.f
        if self.opts["padding"] == "replicate":
            f = torch.nn.functional.pad(f.unsqueeze(1), (1, 1, 1, 1), mode="replicate")[:, 0]
            gx, gy = sobel_same(f, "zeros")
            gx, gy = gx[:, 1:-1, 1:-1], gy[:, 1:-1, 1:-1]
        else:
            gx, gy = sobel_same(f, "zeros")
        return torch.sqrt(gx * gx + gy * gy).flatten(1).mean(1)


def _haar_level(x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One level of the orthonormal 2-D Haar transform of ``B x H x W`` -> (approximation, (three details)).

    Samples are paired ``(2i, 2i + 1)``; an odd side drops its last sample, as matlabPyrTools' ``buildWpyr``
    (``corrDn`` from the second sample in steps of 2) does with the Haar filter."""
    def split(t: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = t.shape[dim] - t.shape[dim] % 2
        even, odd = t.narrow(dim, 0, n).unflatten(dim, (n // 2, 2)).unbind(dim + 1)
        return (even + odd) / math.sqrt(2.0), (even - odd) / math.sqrt(2.0)

    lo, hi = split(x, 1)
    ll, lh = split(lo, 2)
    hl, hh = split(hi, 2)
    return ll, (lh, hl, hh)


@register_metric("QM", "Q_M", "wang_liu", order=137)
class Q_M(Metric):
    """Multiscale edge preservation (Wang & Liu, "A novel image fusion metric based on multi-scale analysis",
    ICSP 2008): a 2-level Haar wavelet decomposition; per level s,
    ``Q_s = sum(EP_A W_A + EP_B W_B) / sum(W_A + W_B)`` with ``EP_X = sum_bands exp(-|d_X - d_F|)`` over the
    three detail bands and ``W_X = sum_bands d_X^2``; ``Q_M = Q_1^(2/3) Q_2^(1/3)``. As Liu et al.'s toolbox
    ``metricPWW`` computes it (orthonormal Haar of matlabPyrTools; the three band terms are summed, so the
    range is [0, 3]).
    """

    name = "Q_M"
    min_size = 4
    degenerate = "NaN when both sources are constant (no detail coefficients: 0/0)"
    direction = "higher"
    reference = "fused+sources: detail-energy-weighted edge preservation of ir and vis over 2 Haar levels"
    description = "multiscale (wavelet) edge preservation of the sources in the fused image"
    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 3.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        a, b, f = x.a, x.b, x.f
        q = []
        for _level in range(2):
            (a, da), (b, db), (f, df) = (_haar_level(t) for t in (a, b, f))
            ep_a = sum(torch.exp(-(s - t).abs()) for s, t in zip(da, df))
            ep_b = sum(torch.exp(-(s - t).abs()) for s, t in zip(db, df))
            w_a = sum(s * s for s in da)
            w_b = sum(s * s for s in db)
            q.append((ep_a * w_a + ep_b * w_b).flatten(1).sum(1) / (w_a + w_b).flatten(1).sum(1))
        return q[0].pow(2.0 / 3.0) * q[1].pow(1.0 / 3.0)
