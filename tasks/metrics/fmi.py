"""Feature mutual information (Haghighat et al. 2011; the Fast-FMI of Haghighat & Razian 2014).

For every w x w window (w = 3) the source and fused feature patches are min-max normalised and read as
w^2-bin PDFs (MATLAB column-major order). The joint PDF comes from Nelsen's construction between the product
copula and the Frechet upper (c >= 0) or lower (c < 0) bound, mixed by the Pearson correlation c of the two
PDFs. Each window gives ``2 MI / (H_X + H_F)`` (1 for identical patches), the two sources are averaged per
window, and FMI is the mean over all windows. Vectorised over windows in chunks; float64.

There is no Python reference implementation; this follows Haghighat's MATLAB ``fmi.m`` (as in Tang's kit,
``analysis_fmi.m``) step by step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric

_CHUNK = 1 << 16


def _windows(x: torch.Tensor, w: int) -> torch.Tensor:
    """``B x H x W`` -> ``B x w*w x L`` patches, bins in MATLAB column-major order (``A(:)`` of each patch)."""
    cols = F.unfold(x[:, None], kernel_size=w)  # B x (w*w, row-major) x L
    order = [c * w + r for c in range(w) for r in range(w)]  # column-major
    return cols[:, order, :]


def _normalise(p: torch.Tensor) -> torch.Tensor:
    lo = p.amin(0, keepdim=True)
    hi = p.amax(0, keepdim=True)
    const = hi == lo
    return torch.where(const, torch.ones_like(p), (p - lo) / torch.where(const, torch.ones_like(hi), hi - lo))


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """``-sum p log2 |p|`` over dim 0, terms with p == 0 skipped (MATLAB ``real(-p .* log2(p))``)."""
    safe = torch.where(p != 0, p.abs(), torch.ones_like(p))
    return -(p * torch.log2(safe)).sum(0)


def _window_fmi_dense(xs: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
    """Per-window normalised FMI of patches ``xs``, ``fs`` (``l x N``, bins first) -> ``N``.

    Direct transcription of fmi.m (all l x l joint cells); :func:`_window_fmi` is the fast equivalent.
    """
    l, n = xs.shape
    same = (xs == fs).all(0)
    xp = _normalise(xs)
    fp = _normalise(fs)
    xp = xp / xp.sum(0, keepdim=True)
    fp = fp / fp.sum(0, keepdim=True)
    xc = torch.cumsum(xp, 0)
    fc = torch.cumsum(fp, 0)
    xt = xp - xp.mean(0, keepdim=True)
    ft = fp - fp.mean(0, keepdim=True)
    s = (xt * ft).sum(0)
    c = torch.where(s == 0, torch.zeros_like(s), s / torch.sqrt((xt * xt).sum(0) * (ft * ft).sum(0)))
    idx = torch.arange(1, l + 1, dtype=xs.dtype, device=xs.device)[:, None]
    xsd = torch.sqrt((((idx * idx) * xp).sum(0) - (idx * xp).sum(0) ** 2).clamp_min(0))
    fsd = torch.sqrt((((idx * idx) * fp).sum(0) - (idx * fp).sum(0) ** 2).clamp_min(0))
    fci = fc[:, None, :]
    xcj = xc[None, :, :]
    pos = c >= 0
    # Frechet bound between the CDFs: upper min(Fi, Xj) for c >= 0, lower max(Fi + Xj - 1, 0) for c < 0.
    bound = torch.where(pos, torch.minimum(fci, xcj), torch.clamp(fci + xcj - 1, min=0))
    prod_c = fci * xcj
    cov = (bound - prod_c).sum((0, 1))
    degenerate = (xsd == 0) | (fsd == 0) | (pos & (c == 0))
    corr_b = cov / (fsd * xsd)
    mix = torch.where(degenerate, torch.zeros_like(c), c / torch.where(degenerate, torch.ones_like(corr_b), corr_b))
    # Joint PDF: second differences of the bound (zero before the first bin), mixed with the product PDF.
    bp = F.pad(bound, (0, 0, 1, 0, 1, 0))
    mass = bp[1:, 1:] - bp[:-1, 1:] - bp[1:, :-1] + bp[:-1, :-1]
    jpdf = mix * mass + (1 - mix) * (fp[:, None, :] * xp[None, :, :])
    hj = _entropy(jpdf.reshape(l * l, n))
    hx = _entropy(xp)
    hf = _entropy(fp)
    mi = hx + hf - hj
    val = torch.where(mi == 0, torch.zeros_like(mi), 2 * mi / (hx + hf))
    return torch.where(same, torch.ones_like(val), val)


class _Side(NamedTuple):
    """Per-window quantities of one patch set (``l x N``): PDF, CDF, centred PDF and its sum of squares,
    population SD of the bin index, Shannon entropy (bits)."""

    pdf: torch.Tensor
    cdf: torch.Tensor
    centred: torch.Tensor
    ss: torch.Tensor
    sd: torch.Tensor
    h: torch.Tensor


def _side(ps: torch.Tensor) -> _Side:
    l = ps.shape[0]
    p = _normalise(ps)
    p = p / p.sum(0, keepdim=True)
    t = p - p.mean(0, keepdim=True)
    idx = torch.arange(1, l + 1, dtype=ps.dtype, device=ps.device)[:, None]
    sd = torch.sqrt((((idx * idx) * p).sum(0) - (idx * p).sum(0) ** 2).clamp_min(0))
    return _Side(p, torch.cumsum(p, 0), t, (t * t).sum(0), sd, _entropy(p))


def _window_fmi(xs: torch.Tensor, fs: torch.Tensor, fside: _Side | None = None) -> torch.Tensor:
    """Per-window normalised FMI of patches ``xs``, ``fs`` (``l x N``, bins first) -> ``N``.

    Same quantity as :func:`_window_fmi_dense` without the l x l grid: the Frechet-bound copula puts mass only
    on the cells crossed by the merged CDF breakpoints (at most 2l - 1 of them), so the joint entropy is the
    closed-form entropy of the scaled product PDF, corrected on those cells, and the bound's covariance is an
    integral over the merged segments. ``fside`` (= ``_side(fs)``) may be passed to share it between sources.
    """
    l, n = xs.shape
    same = (xs == fs).all(0)
    X = _side(xs)
    Fs = fside if fside is not None else _side(fs)
    xp, fp, xc, fc = X.pdf, Fs.pdf, X.cdf, Fs.cdf
    s = (X.centred * Fs.centred).sum(0)
    c = torch.where(s == 0, torch.zeros_like(s), s / torch.sqrt(X.ss * Fs.ss))
    pos = c >= 0
    # Breakpoints of the second margin: X_j (upper bound, c >= 0) or 1 - X_j (lower bound, c < 0), ascending.
    zc = torch.where(pos, xc, 1 - xc.flip(0))
    merged, order = torch.sort(torch.cat([fc, zc], 0), dim=0, stable=True)
    cf = torch.cumsum((order < l).to(xs.dtype), 0)  # F breakpoints among the first k sorted
    cz = torch.arange(1, 2 * l + 1, dtype=xs.dtype, device=xs.device)[:, None] - cf
    seg = torch.diff(merged, dim=0, prepend=torch.zeros_like(merged[:1])).clamp_min(0)
    cf_before = torch.cat([torch.zeros_like(cf[:1]), cf[:-1]], 0)
    cz_before = torch.cat([torch.zeros_like(cz[:1]), cz[:-1]], 0)
    i_cell = cf_before  # 0-based F bin of the segment
    # upper: X bin = #X breakpoints below; lower: 1 - t in (X_{j-1}, X_j] -> 0-based j = l - #(1 - X) below
    j_cell = torch.where(pos, cz_before, l - cz_before)
    n_z = torch.where(pos, l - cz_before, cz_before)
    bound_sum = (seg * (l - cf_before) * n_z).sum(0)  # sum_ij min(F_i, X_j)  or  sum_ij max(F_i + X_j - 1, 0)
    cov = bound_sum - fc.sum(0) * xc.sum(0)
    degenerate = (X.sd == 0) | (Fs.sd == 0) | (pos & (c == 0))
    corr_b = cov / (Fs.sd * X.sd)
    mix = torch.where(degenerate, torch.zeros_like(c), c / torch.where(degenerate, torch.ones_like(corr_b), corr_b))
    q = 1 - mix
    hx, hf = X.h, Fs.h
    # Entropy of the q-scaled product PDF over all cells: -sum q p log2|q p| = q (H_X + H_F) - q log2|q|.
    h_prod = q * (hx + hf) + _plogp(q)
    # Correct the cells that carry bound mass (segments of positive length inside the l x l grid).
    valid = (seg > 0) & (i_cell < l) & (j_cell >= 0) & (j_cell < l)
    ii = i_cell.clamp(0, l - 1).long()
    jj = j_cell.clamp(0, l - 1).long()
    base = q * (torch.gather(fp, 0, ii) * torch.gather(xp, 0, jj))
    joint = mix * seg + base
    corr = torch.where(valid, _plogp(joint) - _plogp(base), torch.zeros_like(joint)).sum(0)
    mi = hx + hf - (h_prod + corr)
    val = torch.where(mi == 0, torch.zeros_like(mi), 2 * mi / (hx + hf))
    return torch.where(same, torch.ones_like(val), val)


def _plogp(p: torch.Tensor) -> torch.Tensor:
    """``-p log2 |p|`` elementwise, 0 where p == 0."""
    safe = torch.where(p != 0, p.abs(), torch.ones_like(p))
    return -p * torch.log2(safe)


def _dwt_dmey_layout(img: torch.Tensor) -> torch.Tensor:
    """One-level 2-D DWT with the discrete Meyer wavelet (PyWavelets 'dmey', symmetric extension), laid out
    as ``[cA cH; cV cD]`` and rescaled to [0, 1] (``rerange`` of fmi.m)."""
    import pywt

    out = []
    for im in img.detach().cpu().numpy():
        cA, (cH, cV, cD) = pywt.dwt2(im, "dmey", mode="symmetric")
        lay = np.block([[cA, cH], [cV, cD]])
        lo, hi = lay.min(), lay.max()
        out.append(np.ones_like(lay) if hi == lo else (lay - lo) / (hi - lo))
    return torch.from_numpy(np.stack(out)).to(img.device, torch.float64)


class _FMIBase(Metric):
    direction = "higher"
    reference = "fused+sources: mean of FMI(ir,F) and FMI(vis,F) per window"
    options = {"window": 3}
    feature = "none"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def features(self, img: torch.Tensor) -> torch.Tensor:
        return img

    def compute(self, x: GreyTriple) -> torch.Tensor:
        w = int(self.opts["window"])
        if w < 2:
            raise ValueError(f"{self.name}: window must be >= 2, got {w}")
        w = 2 * (w // 2) + 1
        fa, fb, ff = (self.features(t) for t in (x.a, x.b, x.f))
        if min(ff.shape[-2:]) < w:
            raise ValueError(f"{self.name}: image smaller than the {w}x{w} window")
        wa, wb, wf = (_windows(t, w) for t in (fa, fb, ff))
        B, _, L = wf.shape
        out = torch.empty(B, dtype=torch.float64, device=ff.device)
        for i in range(B):
            total = torch.zeros((), dtype=torch.float64, device=ff.device)
            for s in range(0, L, _CHUNK):
                sl = slice(s, s + _CHUNK)
                fv = wf[i, :, sl]
                fside = _side(fv)
                pair = _window_fmi(wa[i, :, sl], fv, fside) + _window_fmi(wb[i, :, sl], fv, fside)
                total = total + (pair / 2).sum()
            out[i] = total / L
        return out


@register_metric("FMI", "FMI_none", "fmi_pixel", order=60, default=False)
class FMI_pixel(_FMIBase):
    """Feature mutual information on raw pixels (``fmi(ima, imb, imf, 'none', 3)``)."""

    name = "FMI_pixel"
    cost = "slow: about 3.5 s per 768x1024 triple on 2 CPU cores (the default suite: 0.8 s)"
    min_size = 3  # the 3 x 3 feature window
    description = "feature mutual information, raw-pixel features, 3x3 windows"


@register_metric("FMI_wavelet", "fmi_dmey", order=70, default=False)
class FMI_w(_FMIBase):
    """Feature mutual information on one-level discrete-Meyer wavelet coefficients (``'wavelet'`` features).

    Uses PyWavelets' 62-tap ``dmey`` filters with symmetric extension; MATLAB's ``dwt2(.., 'dmey')`` was not
    available to check the filter length against.
    """

    name = "FMI_w"
    cost = "slow: about 5 s per 768x1024 triple on 2 CPU cores (the default suite: 0.8 s)"
    description = "feature mutual information, wavelet (dmey) features, 3x3 windows"

    def features(self, img: torch.Tensor) -> torch.Tensor:
        return _dwt_dmey_layout(img)

