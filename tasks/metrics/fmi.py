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
    cols = F.unfold(x[:, None], kernel_size=w)  # B x (w*w, row-major: element (r, c) at r * w + c) x L
    order = [r * w + c for c in range(w) for r in range(w)]  # column-major: down each column in turn
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


#: MATLAB's 102-tap discrete Meyer scaling filter ``dmey`` (Wavelet Toolbox ``dmey.mat``), first half up to
#: the centre tap; the filter is this, its mirror image without the centre, and a trailing 0. PyWavelets'
#: ``dmey`` is a shorter 62-tap approximation (PyWavelets issue #261). Values as published with the 102-tap
#: filter in rafat/wavelib (``wavefilt.c``, to 1e-15); MATLAB itself was not available to compare against.
_DMEY102_HALF = (
    -1.509740857e-06, 1.278766757e-06, 4.49585560e-07, -2.096568870e-06, 1.723223554e-06, 6.98082276e-07,
    -2.879408033e-06, 2.383148395e-06, 9.82515602e-07, -4.217789186e-06, 3.353501538e-06, 1.674721859e-06,
    -6.034501342e-06, 4.837555802e-06, 2.402288023e-06, -9.556309846e-06, 7.216527695e-06, 4.849078300e-06,
    -1.4206928581e-05, 1.0503914271e-05, 6.187580298e-06, -2.4438005846e-05, 2.0106387691e-05,
    1.4993523600e-05, -4.6428764284e-05, 3.2341311914e-05, 3.7409665760e-05, -1.02779005085e-04,
    2.4461956845e-05, 1.49713515389e-04, -7.5592870255e-05, -1.39913148217e-04, -9.3512893880e-05,
    1.61189819725e-04, 8.59500213762e-04, -5.78185795273e-04, -2.702168733939e-03, 2.194775336459e-03,
    6.045510596456e-03, -6.386728618548e-03, -1.1044641900539e-02, 1.5250913158586e-02, 1.7403888210177e-02,
    -3.2094063354505e-02, -2.4321783959519e-02, 6.3667300884468e-02, 3.0621243943425e-02,
    -1.32696615358862e-01, -3.5048287390595e-02, 4.44095030766529e-01, 7.43751004903787e-01,
)


def _matlab_dmey():
    """``pywt.Wavelet`` with MATLAB's ``wfilters('dmey')``: ``orthfilt`` of the 102-tap scaling filter W
    (``Lo_R = sqrt(2) W / sum(W)``, ``Hi_R = qmf(Lo_R)``, the decomposition filters their reversals)."""
    import pywt

    half = np.asarray(_DMEY102_HALF)
    w = np.concatenate([half, half[-2::-1], [0.0]])
    lo_r = np.sqrt(2) * w / w.sum()
    hi_r = lo_r[::-1].copy()
    hi_r[1::2] *= -1  # qmf: the reversed filter with its even (1-based) entries negated
    return pywt.Wavelet("dmey_matlab", filter_bank=[lo_r[::-1], hi_r[::-1], lo_r, hi_r])


def _dwt_dmey_layout(img: torch.Tensor, filt: str = "pywt") -> torch.Tensor:
    """One-level 2-D DWT with the discrete Meyer wavelet (symmetric half-point extension, as MATLAB's default
    ``dwtmode('sym')``), laid out as ``[cA cH; cV cD]`` and rescaled to [0, 1] (``rerange`` of fmi.m).

    ``filt``: ``"pywt"`` (PyWavelets' 62-tap ``dmey``) or ``"matlab"`` (MATLAB's 102 taps).
    """
    import pywt

    if filt not in ("pywt", "matlab"):
        raise ValueError(f"FMI_w: filter must be 'pywt' or 'matlab', got {filt!r}")
    wavelet = _matlab_dmey() if filt == "matlab" else "dmey"
    out = []
    for im in img.detach().cpu().numpy():
        cA, (cH, cV, cD) = pywt.dwt2(im, wavelet, mode="symmetric")
        lay = np.block([[cA, cH], [cV, cD]])
        lo, hi = lay.min(), lay.max()
        out.append(np.ones_like(lay) if hi == lo else (lay - lo) / (hi - lo))
    return torch.from_numpy(np.stack(out)).to(img.device, torch.float64)


def sobel_edges_matlab(img: torch.Tensor) -> torch.Tensor:
    """MATLAB ``edge(I)`` (Sobel, automatic threshold, thinning) of float64 ``B x H x W`` -> 0/1 float64.

    After MathWorks' edge.m: gradients ``bx``, ``by`` by correlation with ``fspecial('sobel')' / 8`` and
    ``fspecial('sobel') / 8`` (replicate borders), strength ``b = bx^2 + by^2``, cutoff ``4 mean(b)``; a pixel is
    an edge where ``b > cutoff`` and it is a maximum across the dominant gradient direction: along the row
    (``b(r,c-1) <= b(r,c) > b(r,c+1)``) where ``|bx| >= |by|``, or along the column where ``|by| >= |bx|``
    (both up to 100 eps; out-of-image neighbours pass). Octave's ``edge`` thins differently.
    """
    k = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=torch.float64,
                     device=img.device) / 8
    x = F.pad(img.to(torch.float64)[:, None], (1, 1, 1, 1), mode="replicate")
    bx = F.conv2d(x, k[None, None])[:, 0]
    by = F.conv2d(x, k.t()[None, None])[:, 0]
    b = bx * bx + by * by
    cutoff = 4 * b.mean((-2, -1), keepdim=True)
    bx, by = bx.abs(), by.abs()
    tol = 100 * torch.finfo(torch.float64).eps
    true_col = torch.ones_like(b[..., :1], dtype=torch.bool)
    true_row = torch.ones_like(b[..., :1, :], dtype=torch.bool)
    left = torch.cat([true_col, b[..., :-1] <= b[..., 1:]], -1)
    right = torch.cat([b[..., :-1] > b[..., 1:], true_col], -1)
    up = torch.cat([true_row, b[..., :-1, :] <= b[..., 1:, :]], -2)
    down = torch.cat([b[..., :-1, :] > b[..., 1:, :], true_row], -2)
    edge = (b > cutoff) & (((bx >= by - tol) & left & right) | ((by >= bx - tol) & up & down))
    return edge.to(torch.float64)


def _dct_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``n x n`` (``D @ x`` is MATLAB's ``dct(x)``)."""
    k = torch.arange(n, dtype=dtype, device=device)[:, None]
    i = torch.arange(n, dtype=dtype, device=device)[None, :]
    d = torch.cos(torch.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] = d[0] / np.sqrt(2.0)
    return d


def dct2(img: torch.Tensor) -> torch.Tensor:
    """MATLAB ``dct2`` (orthonormal 2-D DCT-II) of ``B x H x W``, in float64."""
    x = img.to(torch.float64)
    dh = _dct_matrix(x.shape[-2], x.dtype, x.device)
    dw = _dct_matrix(x.shape[-1], x.dtype, x.device)
    return dh @ x @ dw.t()


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
                fv, av, bv = wf[i, :, sl], wa[i, :, sl], wb[i, :, sl]
                fside = _side(fv)
                pair = _window_fmi(av, fv, fside) + _window_fmi(bv, fv, fside)
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


@register_metric("fmi_sobel", order=62, default=False)
class FMI_edge(_FMIBase):
    """Feature mutual information on binary Sobel edge maps (``fmi(ima, imb, imf, 'edge', 3)``, the function's
    default feature, which Tang's ``analysis_Reference.m`` calls and prints as ``FMI_pixel``); the edge maps
    are MATLAB's ``edge(I)`` (:func:`sobel_edges_matlab`)."""

    name = "FMI_edge"
    cost = "slow: about 3 s per 768x1024 triple on 2 CPU cores (the default suite: 0.8 s)"
    min_size = 3
    description = "feature mutual information, Sobel edge-map features (MATLAB edge), 3x3 windows"

    def features(self, img: torch.Tensor) -> torch.Tensor:
        return sobel_edges_matlab(img)


@register_metric(order=64, default=False)
class FMI_dct(_FMIBase):
    """Feature mutual information on the image's 2-D DCT coefficients (``fmi(ima, imb, imf, 'dct', 3)``; the
    whole-image orthonormal ``dct2``, then 3x3 windows over the coefficient array)."""

    name = "FMI_dct"
    cost = "slow: about 3 s per 768x1024 triple on 2 CPU cores (the default suite: 0.8 s)"
    min_size = 3
    description = "feature mutual information, 2-D DCT features, 3x3 windows"

    def features(self, img: torch.Tensor) -> torch.Tensor:
        return dct2(img)


@register_metric("FMI_wavelet", "fmi_dmey", order=70, default=False)
class FMI_w(_FMIBase):
    """Feature mutual information on one-level discrete-Meyer wavelet coefficients (``'wavelet'`` features).

    Option ``filter``: ``"pywt"`` (default; PyWavelets' 62-tap ``dmey``) or ``"matlab"`` (MATLAB's 102-tap
    ``dmey``, which the ``tang`` profile uses); both with symmetric extension, as MATLAB's ``dwt2``.
    """

    name = "FMI_w"
    options = {"window": 3, "filter": "pywt"}
    cost = "slow: about 5 s per 768x1024 triple on 2 CPU cores (the default suite: 0.8 s)"
    description = "feature mutual information, wavelet (dmey) features, 3x3 windows"

    def features(self, img: torch.Tensor) -> torch.Tensor:
        return _dwt_dmey_layout(img, str(self.opts["filter"]))
