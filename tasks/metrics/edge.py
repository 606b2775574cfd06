"""Edge-based metrics: Qabf (Xydeas & Petrovic edge transfer) and Nabf (Kumar's modified fusion artefacts).

Both compare Sobel edge strength and orientation of the fused image with those of each source and combine
the two per-pixel terms with edge-strength weights.
"""

from __future__ import annotations

import math

import torch

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import sobel_same


def _qabf_edges(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # MATLAB conv2 (true convolution, zero padding) with h3 = [-1 0 1; -2 0 2; -1 0 1] and
    # h1 = [1 2 1; 0 0 0; -1 -2 -1] is correlation with their 180-degree rotations: Sx = -gx, Sy = gy.
    gx, gy = sobel_same(img, "zeros")
    sx, sy = -gx, gy
    g = torch.sqrt(sx * sx + sy * sy)
    zero = sx == 0
    ratio = sy / torch.where(zero, torch.ones_like(sx), sx)
    alpha = torch.where(zero, torch.full_like(sx, math.pi / 2), torch.atan(ratio))
    return g, alpha


def _qabf_q(ga, aa, gf, af) -> torch.Tensor:
    # Relative strength with the original MATLAB quirk: G = gF (not 1) where gA == gF.
    G = torch.where(ga > gf, gf / torch.where(ga > gf, ga, torch.ones_like(ga)),
                    torch.where(ga == gf, gf, ga / torch.where(ga < gf, gf, torch.ones_like(gf))))
    A = 1 - torch.abs(aa - af) / (math.pi / 2)
    qg = 0.9994 / (1 + torch.exp(-15 * (G - 0.5)))
    qa = 0.9879 / (1 + torch.exp(-22 * (A - 0.8)))
    return qg * qa


@register_metric("QABF", "Q_abf", "Qab/f")
class Qabf(Metric):
    """Edge-information transfer ``sum(Q_AF g_A + Q_BF g_B) / sum(g_A + g_B)`` (Xydeas & Petrovic, L = 1).

    Sobel responses by MATLAB ``conv2(I, h, 'same')`` (zero padding; orientation pi/2 where Sx == 0), sigmoid
    constants Gamma_g 0.9994, k_g -15, s_g 0.5, Gamma_a 0.9879, k_a -22, s_a 0.8, and the quirk every port keeps
    (relative strength = g_F where g_A == g_F). CDDFuse, IVIF_ZOO, Tang and VIFB agree on this metric.
    """

    name = "Qabf"
    direction = "higher"
    reference = "fused+sources: edge-strength-weighted mean of Q(ir,F) and Q(vis,F)"
    description = "edge information transferred from the sources to the fused image"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        gf, af = _qabf_edges(x.f)
        ga, aa = _qabf_edges(x.a)
        gb, ab = _qabf_edges(x.b)
        qa = _qabf_q(ga, aa, gf, af)
        qb = _qabf_q(gb, ab, gf, af)
        num = (qa * ga + qb * gb).flatten(1).sum(1)
        return num / (ga + gb).flatten(1).sum(1)


def _nabf_edges(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Sobel/8 on the reflect-101 extended image (Kumar's sobel_fn / per_extn_im_fn); the kernels' sign
    # convention does not matter here (both responses flip together).
    gx, gy = sobel_same(img, "reflect")
    gv, gh = gx / 8, gy / 8
    g = torch.sqrt(gv * gv + gh * gh)
    both0 = (gv == 0) & (gh == 0)
    alpha = torch.where(both0, torch.zeros_like(gv), torch.atan(gv / torch.where(both0, torch.ones_like(gh), gh)))
    return g, alpha


def _nabf_q(gx, ax, gf, af) -> torch.Tensor:
    zero = (gx == 0) | (gf == 0)
    hi = torch.maximum(gx, gf)
    ratio = torch.minimum(gx, gf) / torch.where(zero, torch.ones_like(hi), hi)
    gxf = torch.where(zero, torch.zeros_like(ratio), ratio)
    axf = torch.abs(torch.abs(ax - af) - math.pi / 2) * 2 / math.pi
    qg = 0.9999 / (1 + torch.exp(-19 * (gxf - 0.5)))
    qa = 0.9995 / (1 + torch.exp(-22 * (axf - 0.5)))
    return torch.sqrt(qg * qa)


@register_metric("NABF", "N_abf")
class Nabf(Metric):
    """Fusion artefacts (B. K. Shreyamsha Kumar's modified N_ABF), fused image first (lower is better).

    Sobel/8 on a reflect-101 extended image; sums ``(1 - Q_AF) w_A + (1 - Q_BF) w_B`` over the pixels where the
    fused edge is stronger than both sources' (``g_F > g_A`` and ``g_F > g_B``) and divides by ``sum(w_A + w_B)``.
    Weights ``w = g^1.5`` where ``g >= 2``, else ``wt_min``: 0.001 (default, Kumar's MATLAB code) or 0 (IVIF_ZOO).
    Zero for any fusion whose gradient never exceeds both sources', e.g. the pixel mean (up to rounding).
    """

    name = "Nabf"
    direction = "lower"
    reference = "fused+sources: edge-strength-weighted artefact terms of ir and vis, summed"
    description = "noise/artefacts added by fusion (edges in F stronger than in either source)"
    options = {"wt_min": 0.001}

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        gf, af = _nabf_edges(x.f)
        ga, aa = _nabf_edges(x.a)
        gb, ab = _nabf_edges(x.b)
        qa = _nabf_q(ga, aa, gf, af)
        qb = _nabf_q(gb, ab, gf, af)
        wmin = float(self.opts["wt_min"])
        wa = torch.where(ga >= 2, ga ** 1.5, torch.full_like(ga, wmin))
        wb = torch.where(gb >= 2, gb ** 1.5, torch.full_like(gb, wmin))
        art = (gf > ga) & (gf > gb)
        num = torch.where(art, (1 - qa) * wa + (1 - qb) * wb, torch.zeros_like(wa)).flatten(1).sum(1)
        return num / (wa + wb).flatten(1).sum(1)
