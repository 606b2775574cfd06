"""Information-theoretic fusion metrics built on grey-level histograms: CE, Q_MI, Q_TE, Q_NCIE.

All use 256-bin (joint) histograms of the integer grey levels 0..255 (``histogram_256``,
``joint_histogram_256``); entropies follow ``0 log 0 = 0``.
"""

from __future__ import annotations

import math

import torch

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import entropy_from_counts, histogram_256, joint_histogram_256
from sagebench.tasks.metrics.basic import joint_with_fused


@register_metric("cross_entropy", order=52)
class CE(Metric):
    """Cross entropy of the sources' grey-level distributions relative to the fused image's, mean of the two:
    ``(D(p_ir || p_F) + D(p_vis || p_F)) / 2`` with ``D(p || q) = sum_k p_k log2(p_k / q_k)`` over the levels
    where both are non-zero (VIFB ``metricsCross_entropy.m``; Zhang, Ye & Xiao, CVPRW 2020, after
    Shannon's relative entropy). Lower is better: 0 when F has both sources' histograms.

    IVIF_ZOO's ``CE`` (binary cross entropy of sigmoids on 0..255 values) is constant (~0.0836) and is not
    offered.
    """

    shares = ("hist_a", "hist_b", "hist_f")

    name = "CE"
    direction = "lower"
    reference = "fused+sources: mean of CE(ir,F) and CE(vis,F)"
    description = "cross entropy of the sources' histograms relative to the fused image's"

    @property
    def unit(self) -> str:
        return "bits"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        pf = x.cached("hist_f", lambda: histogram_256(x.f))
        pf = pf / pf.sum(1, keepdim=True)
        total = torch.zeros(x.f.shape[0], dtype=torch.float64, device=x.f.device)
        for key, src in (("a", x.a), ("b", x.b)):
            p = x.cached(f"hist_{key}", lambda src=src: histogram_256(src))
            p = p / p.sum(1, keepdim=True)
            both = (p > 0) & (pf > 0)
            ratio = torch.where(both, p / torch.where(both, pf, torch.ones_like(pf)), torch.ones_like(p))
            total = total + (p * torch.log2(ratio)).sum(1)
        return total / 2


@register_metric("NMI", "Q_MI", "QMI", "hossny", order=54)
class Q_MI(Metric):
    """Normalised mutual information (Hossny, Nahavandi & Creighton, Electronics Letters 2008):
    ``2 [I(A;F) / (H(A) + H(F)) + I(B;F) / (H(B) + H(F))]``, in [0, 2] (log base cancels).

    Unlike IVIF_ZOO's ``NMI`` (``2 (I(A;F) + I(B;F)) / (H(A) + H(B))``), each term is normalised by the
    entropies of its own pair, as the paper defines it and Liu et al.'s toolbox (``metricMI``, sw 1) computes it.
    """

    shares = ("joint_af", "joint_bf")

    name = "Q_MI"
    degenerate = "NaN when a source and the fused image are both constant (0 / 0 entropy)"
    direction = "higher"
    reference = "fused+sources: sum of 2 I(X;F) / (H(X) + H(F)) over ir and vis"
    description = "mutual information normalised by the entropies (Hossny)"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 2.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        total = torch.zeros(x.f.shape[0], dtype=torch.float64, device=x.f.device)
        for key in ("a", "b"):
            joint = joint_with_fused(x, key)
            h_x = entropy_from_counts(joint.sum(2), dims=(1,))
            h_f = entropy_from_counts(joint.sum(1), dims=(1,))
            h_xf = entropy_from_counts(joint, dims=(1, 2))
            total = total + 2 * (h_x + h_f - h_xf) / (h_x + h_f)
        return total


def tsallis_mi(joint: torch.Tensor, q: float) -> torch.Tensor:
    """Tsallis mutual information ``(1 - sum p(x,y)^q / (p(x) p(y))^(q-1)) / (1 - q)`` of ``B x 256 x 256``
    joint counts (cells with p(x,y) = 0 add nothing)."""
    p = joint / joint.sum(dim=(1, 2), keepdim=True)
    px = p.sum(2, keepdim=True)
    py = p.sum(1, keepdim=True)
    nz = p > 0
    prod = torch.where(nz, px * py, torch.ones_like(p))
    s = torch.where(nz, p.clamp_min(1e-300).pow(q) / prod.pow(q - 1.0), torch.zeros_like(p)).sum(dim=(1, 2))
    return (1.0 - s) / (1.0 - q)


@register_metric("QTE", "Q_TE", "tsallis", order=56)
class Q_TE(Metric):
    """Tsallis-entropy mutual information ``I_q(A;F) + I_q(B;F)`` (Cvejic, Canagarajah & Bull, Electronics
    Letters 2006), ``I_q(X;F) = (1 - sum_{x,f} p(x,f)^q / (p(x) p(f))^(q-1)) / (1 - q)``; option ``q``
    (default 1.85, Cvejic's value, as in Liu et al.'s toolbox ``metricMI`` sw 2, whose ``tsallis.m`` pairs
    each joint cell with the *transposed* marginals; this follows the paper).
    """

    shares = ("joint_af", "joint_bf")

    name = "Q_TE"
    direction = "higher"
    reference = "fused+sources: sum of I_q(ir;F) and I_q(vis;F)"
    description = "Tsallis mutual information between each source and the fused image, summed"
    options = {"q": 1.85}

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        q = float(self.opts["q"])
        if q == 1.0:
            raise ValueError("Q_TE: q = 1 is Shannon's mutual information (use MI)")
        return tsallis_mi(joint_with_fused(x, "a"), q) + tsallis_mi(joint_with_fused(x, "b"), q)


def _ncc(joint: torch.Tensor) -> torch.Tensor:
    """Nonlinear correlation coefficient ``H(X) + H(Y) - H(X,Y)`` with logarithms to base b = 256."""
    h_x = entropy_from_counts(joint.sum(2), dims=(1,), log_base=256.0)
    h_y = entropy_from_counts(joint.sum(1), dims=(1,), log_base=256.0)
    return h_x + h_y - entropy_from_counts(joint, dims=(1, 2), log_base=256.0)


@register_metric("QNCIE", "Q_NCIE", "NCIE", order=58)
class Q_NCIE(Metric):
    """Nonlinear correlation information entropy (Wang, Shen & Zhang, Physica D 2005; Wang, Shen & Jin,
    "Performance evaluation of image fusion techniques", 2008): the 3 x 3 matrix R of nonlinear correlation
    coefficients NCC(A,B), NCC(A,F), NCC(B,F) (1 on the diagonal) has eigenvalues lambda_i;
    ``Q_NCIE = 1 + sum_i (lambda_i / 3) log_256(lambda_i / 3)``, in [0, 1].

    NCC(X,Y) = H(X) + H(Y) - H(X,Y) with base-256 logarithms over the 256 grey levels as bins (Liu et al.'s
    toolbox ``metricWang``/``NCC``; the paper's rank-based bins are ill-defined with tied grey levels).
    IVIF_ZOO's QNCIE uses Pearson correlations instead and is not offered.
    """

    shares = ("joint_ab", "joint_af", "joint_bf")

    name = "Q_NCIE"
    direction = "higher"
    reference = "fused+sources: eigen-entropy of the NCC matrix of ir, vis and F"
    description = "nonlinear correlation information entropy of the sources and the fused image"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        ab = x.cached("joint_ab", lambda: joint_histogram_256(x.a, x.b))
        n_ab, n_af, n_bf = _ncc(ab), _ncc(joint_with_fused(x, "a")), _ncc(joint_with_fused(x, "b"))
        one = torch.ones_like(n_ab)
        R = torch.stack([torch.stack([one, n_ab, n_af], -1), torch.stack([n_ab, one, n_bf], -1),
                         torch.stack([n_af, n_bf, one], -1)], -2)
        lam = torch.linalg.eigvalsh(R).clamp_min(0.0) / 3.0
        terms = torch.where(lam > 0, lam * torch.log(lam.clamp_min(1e-300)), torch.zeros_like(lam))
        return 1.0 + terms.sum(-1) / math.log(256.0)
