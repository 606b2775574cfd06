"""Structural-similarity fusion metrics that weight local similarities by source saliency:
Piella's Q_0 / Q_W / Q_E, Cvejic's Q_C, Yang's Q_Y and Ma et al.'s MEF-SSIM.

Each slides a window over the images ('valid' positions), computes local means, variances and covariances
of the sources A (infrared), B (visible) and the fused image F, and combines per-window similarities of F
with each source. Local moments are computed on images shifted by their global mean (exactly the same
statistics, without the cancellation of ``E[x^2] - E[x]^2`` on 0..255 data). Each metric's window maps
are computed in strips of rows (:func:`by_strips`), bit for bit as in one pass, with every intermediate map
of a strip in the CPU cache.
"""

from __future__ import annotations

import math

import torch

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import by_strips, gaussian_1d, sobel_same, strip_rows


def _filter_valid(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' correlation of ``N x H x W`` with the 1-D kernel ``k`` along both axes.

    As a sum of shifted slices (n multiply-adds per axis; float64 ``conv2d`` has no fast CPU kernel, and the
    slices keep the exact zero of a flat window's shifted moments), over strips of rows so that the 2n
    passes of a strip run in the cache."""
    n = k.numel()
    weights = [float(v) for v in k]
    H, W = x.shape[-2:]
    Ho, Wo = H - n + 1, W - n + 1
    out = x.new_empty(x.shape[:-2] + (Ho, Wo))
    step = strip_rows(Wo)
    for r in range(0, Ho, step):
        rows = min(step, Ho - r)
        xs = x[..., r:r + rows + n - 1, :]
        y = xs[..., :, 0:Wo] * weights[0]
        for i in range(1, n):
            y.add_(xs[..., :, i:Wo + i], alpha=weights[i])
        z = out[..., r:r + rows, :]
        torch.mul(y[..., 0:rows, :], weights[0], out=z)
        for i in range(1, n):
            z.add_(y[..., i:rows + i, :], alpha=weights[i])
    return out


def _box_mean_valid(x: torch.Tensor, n: int) -> torch.Tensor:
    """Mean over every ``n x n`` window ('valid') of ``N x H x W`` by pairwise doubling: sums over 1, 2, 4, ...
    samples, then the binary decomposition of ``n`` (about 2 log2 n additions per axis instead of n; sums of
    equal values stay exact for a power-of-two ``n``, so a flat window's variance is exactly 0 there)."""
    y = x
    for dim in (-1, -2):
        sums = {1: y}
        width = 1
        while width * 2 <= n:
            prev = sums[width]
            m = prev.shape[dim] - width
            sums[width * 2] = prev.narrow(dim, 0, m) + prev.narrow(dim, width, m)
            width *= 2
        out_len = y.shape[dim] - n + 1
        total, offset = None, 0
        for w in sorted(sums, reverse=True):
            if n - offset >= w:
                part = sums[w].narrow(dim, offset, out_len)
                total = part.clone() if total is None else total.add_(part)
                offset += w
        y = total
    return y * (1.0 / (n * n))


def local_moments(images: dict[str, torch.Tensor], pairs: list[tuple[str, str]], k: torch.Tensor | int,
                  *, extra: torch.Tensor | int | None = None, extra_for: set[str] | None = None,
                  centre: dict[str, torch.Tensor] | None = None):
    """Windowed means of each image and (co)variances of each pair, window = outer product of ``k`` (sum 1),
    or an ``k x k`` uniform window when ``k`` is an int.

    ``images``: name -> ``B x H x W``; ``pairs``: (x, y) with x == y for a variance. Returns
    ``(means, moments)`` on the 'valid' grid. Population moments (``E[xy] - E[x]E[y]``), clipped at 0 for
    variances. With ``extra`` (a second window), returns ``((means, moments), (means, moments))`` of both
    windows from the same shifted maps and products; ``extra_for`` limits the second window to the pairs
    (and the means of the images) made of those image names. ``centre``: name -> ``B`` global means to shift
    by (default: each image's own mean; give the whole images' means when ``images`` are strips of them,
    see :func:`by_strips`).
    """
    if centre is None:
        centre = centres(images)
    shift = {n: v - centre[n][:, None, None] for n, v in images.items()}
    names = list(images)
    windows = [k] if extra is None else [k, extra]
    filtered: list[list[torch.Tensor]] = [[] for _ in windows]
    # one map at a time: its temporaries stay small (no mmap), and each product is made once for both windows
    maps = [(n, None) for n in names] + list(pairs)
    for x, y in maps:
        t = shift[x] if y is None else shift[x] * shift[y]
        for i, w in enumerate(windows):
            if i and extra_for is not None and not {x, y or x} <= extra_for:
                filtered[i].append(None)
                continue
            filtered[i].append(_box_mean_valid(t, w) if isinstance(w, int) else _filter_valid(t, w))
    results = []
    for out in filtered:
        mu = {n: v for n, v in zip(names, out[:len(names)]) if v is not None}
        moments: dict[tuple[str, str], torch.Tensor] = {}
        for (x, y), e in zip(pairs, out[len(names):]):
            if e is None:
                continue
            m = e - mu[x] * mu[y]
            moments[(x, y)] = m.clamp_min(0.0) if x == y else m
        means = {n: mu[n] + centre[n][:, None, None] for n in mu}
        results.append((means, moments))
    return results[0] if extra is None else tuple(results)


def centres(images: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """name -> ``B`` global mean of each ``B x H x W`` image (the ``centre`` of :func:`local_moments`)."""
    return {n: v.flatten(1).mean(1) for n, v in images.items()}


def share(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x / (x + y)`` per window, 1/2 where ``x + y == 0`` (two equal shares of nothing)."""
    tot = x + y
    nz = tot != 0
    return torch.where(nz, x / torch.where(nz, tot, torch.ones_like(tot)), torch.full_like(tot, 0.5))


def uiqi_map(mx: torch.Tensor, my: torch.Tensor, vx: torch.Tensor, vy: torch.Tensor, cxy: torch.Tensor
             ) -> torch.Tensor:
    """Wang & Bovik's universal image quality index per window,
    ``4 cov mx my / ((vx + vy)(mx^2 + my^2))``, with their rules where a factor is 0: only the variances
    0 -> ``2 mx my / (mx^2 + my^2)``; only the means 0 -> ``2 cov / (vx + vy)``; both -> 1."""
    v = vx + vy
    m = mx * mx + my * my
    vz, mz = v == 0, m == 0
    one = torch.ones_like(v)
    q = 4 * cxy * mx * my / torch.where(vz | mz, one, v * m)
    q = torch.where(vz & ~mz, 2 * mx * my / torch.where(mz, one, m), q)
    q = torch.where(~vz & mz, 2 * cxy / torch.where(vz, one, v), q)
    return torch.where(vz & mz, one, q)


def ssim_map(mx: torch.Tensor, my: torch.Tensor, vx: torch.Tensor, vy: torch.Tensor, cxy: torch.Tensor,
             c1: float, c2: float) -> torch.Tensor:
    """``(2 mx my + C1)(2 cov + C2) / ((mx^2 + my^2 + C1)(vx + vy + C2))`` per window."""
    return (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))


_PIELLA_WINDOW = 8
_LIU_GAUSS = (7, 1.5)
_LIU_C = 2e-16


def _piella_terms(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-window ``lambda``, ``Q0(A,F)``, ``Q0(B,F)`` and the saliency ``max(s_A, s_B)`` (s = variance) on
    8 x 8 uniform windows."""
    images = {"a": a, "b": b, "f": f}
    centre = centres(images)

    def terms(strip: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        mu, mo = local_moments(strip, [("a", "a"), ("b", "b"), ("f", "f"), ("a", "f"), ("b", "f")],
                               _PIELLA_WINDOW, centre=centre)
        sa, sb = mo[("a", "a")], mo[("b", "b")]
        lam = share(sa, sb)
        qa = uiqi_map(mu["a"], mu["f"], sa, mo[("f", "f")], mo[("a", "f")])
        qb = uiqi_map(mu["b"], mu["f"], sb, mo[("f", "f")], mo[("b", "f")])
        return lam, qa, qb, torch.maximum(sa, sb)

    return by_strips(terms, images, _PIELLA_WINDOW)  # type: ignore[return-value]


def _cached_piella(x: GreyTriple):
    """Piella's per-window terms of a triple, shared by Q_0, Q_W and Q_E."""
    return x.cached("piella_terms", lambda: _piella_terms(x.a, x.b, x.f))


def _weighted_piella(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, terms=None) -> torch.Tensor:
    lam, qa, qb, c = terms if terms is not None else _piella_terms(a, b, f)
    q = lam * qa + (1 - lam) * qb
    w = c.flatten(1)
    tot = w.sum(1, keepdim=True)
    w = torch.where(tot > 0, w / torch.where(tot > 0, tot, torch.ones_like(tot)),
                    torch.full_like(w, 1.0 / w.shape[1]))
    return (w * q.flatten(1)).sum(1)


class _Piella(Metric):
    shares = ("piella_terms",)
    direction = "higher"
    min_size = _PIELLA_WINDOW
    reference = "fused+sources: saliency-weighted UIQI of (ir,F) and (vis,F) per 8x8 window"

    @property
    def range(self) -> tuple[float, float]:
        return (-1.0, 1.0)


@register_metric("Q0", "Q_0", "piella", "Q_S", order=154)
class Q_0(_Piella):
    """Piella & Heijmans' fusion quality index (ICIP 2003): the mean over 8 x 8 sliding windows w of
    ``lambda(w) Q0(A,F|w) + (1 - lambda(w)) Q0(B,F|w)``, with Q0 Wang & Bovik's universal image quality index
    and ``lambda = s_A / (s_A + s_B)`` (saliency s = local variance; 1/2 where both are 0)."""

    name = "Q_0"
    description = "Piella's fusion quality index (saliency-weighted UIQI)"

    def compute(self, x: GreyTriple) -> torch.Tensor:
        lam, qa, qb, _ = _cached_piella(x)
        return (lam * qa + (1 - lam) * qb).flatten(1).mean(1)


@register_metric("QW", "Q_W", order=155)
class Q_W(_Piella):
    """Piella & Heijmans' weighted fusion quality index (ICIP 2003): as :class:`Q_0`, with the windows
    weighted by their overall saliency ``c(w) = max(s_A, s_B) / sum_w' max(s_A, s_B)``."""

    name = "Q_W"
    description = "Piella's weighted fusion quality index"

    def compute(self, x: GreyTriple) -> torch.Tensor:
        return _weighted_piella(x.a, x.b, x.f, _cached_piella(x))


@register_metric("QE", "Q_E", order=156)
class Q_E(_Piella):
    """Piella & Heijmans' edge-dependent fusion quality index (ICIP 2003): ``Q_W(A,B,F) Q_W(A',B',F')^alpha``
    with A', B', F' the Sobel gradient magnitudes (zero padding) and ``alpha`` (option, default 1)."""

    name = "Q_E"
    description = "Piella's edge-dependent fusion quality index"
    options = {"alpha": 1.0}

    def compute(self, x: GreyTriple) -> torch.Tensor:
        def edges(img: torch.Tensor) -> torch.Tensor:
            gx, gy = sobel_same(img, "zeros")
            return torch.sqrt(gx * gx + gy * gy)

        qw = _weighted_piella(x.a, x.b, x.f, _cached_piella(x))
        qe = _weighted_piella(edges(x.a), edges(x.b), edges(x.f))
        return qw * qe.sign() * qe.abs().pow(float(self.opts["alpha"]))


def _liu_ssim_terms(x: GreyTriple) -> dict[str, torch.Tensor]:
    """Per-window maps shared by Q_Y and Q_C (7 x 7 Gaussian windows, 'valid'): ``s_ab``, ``s_af``, ``s_bf``
    (SSIM of the pairs), ``var_share`` (``s_A / (s_A + s_B)``, variances) and ``cov_share``
    (``s_AF / (s_AF + s_BF)``, covariances with F)."""
    n, sigma = _LIU_GAUSS
    g = gaussian_1d(n, sigma)
    g = g / g.sum()
    pairs = [("a", "a"), ("b", "b"), ("f", "f"), ("a", "b"), ("a", "f"), ("b", "f")]
    images = {"a": x.a, "b": x.b, "f": x.f}
    centre = centres(images)
    keys = ("s_ab", "s_af", "s_bf", "var_share", "cov_share")

    def terms(strip: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        mu, mo = local_moments(strip, pairs, g, centre=centre)
        return (_liu_ssim(mu, mo, "a", "b"), _liu_ssim(mu, mo, "a", "f"), _liu_ssim(mu, mo, "b", "f"),
                share(mo[("a", "a")], mo[("b", "b")]), share(mo[("a", "f")], mo[("b", "f")]))

    return x.cached("liu_ssim_maps", lambda: dict(zip(keys, by_strips(terms, images, n))))


def _liu_ssim(mu, mo, p: str, q: str) -> torch.Tensor:
    return ssim_map(mu[p], mu[q], mo[(p, p)], mo[(q, q)], mo[(p, q)], _LIU_C, _LIU_C)


@register_metric("QC", "Q_C", "cvejic", order=153)
class Q_C(Metric):
    """Cvejic, Loza, Bull & Canagarajah's similarity-based metric (Int. J. Signal Processing 2005): the mean
    over windows of ``sim SSIM(A,F|w) + (1 - sim) SSIM(B,F|w)``, ``sim = s_AF / (s_AF + s_BF)`` (s = local
    covariance with F) clipped to [0, 1].

    Windows as Liu et al.'s toolbox (``metricCvejic`` sw 2): 7 x 7 Gaussian, sigma 1.5, 'valid', SSIM with
    C1 = C2 = 2e-16. The toolbox clips the combined value instead of ``sim``; this follows the paper. Where
    ``s_AF + s_BF = 0``, ``sim`` is 1/2.
    """

    shares = ("liu_ssim_maps",)

    name = "Q_C"
    min_size = _LIU_GAUSS[0]
    direction = "higher"
    reference = "fused+sources: covariance-weighted SSIM of (ir,F) and (vis,F) per window"
    description = "Cvejic's similarity-based fusion metric"

    @property
    def range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        t = _liu_ssim_terms(x)
        sim = t["cov_share"].clamp(0.0, 1.0)
        q = sim * t["s_af"] + (1 - sim) * t["s_bf"]
        return q.flatten(1).mean(1)


@register_metric("QY", "Q_Y", "yang", order=152)
class Q_Y(Metric):
    """Yang, Zhang, Wang & Li's SSIM-based fusion metric (Information Fusion 2008): per window, where the
    sources are similar (``SSIM(A,B|w) >= 0.75``) ``lambda SSIM(A,F|w) + (1 - lambda) SSIM(B,F|w)`` with
    ``lambda = s_A / (s_A + s_B)`` (s = local variance; 1/2 where both are 0), elsewhere
    ``max(SSIM(A,F|w), SSIM(B,F|w))``; the mean over windows.

    Windows as Liu et al.'s toolbox (``metricYang``): 7 x 7 Gaussian, sigma 1.5, 'valid', C1 = C2 = 2e-16.
    IVIF_ZOO's Qy (a window summing to 7) is not offered.
    """

    shares = ("liu_ssim_maps",)

    name = "Q_Y"
    min_size = _LIU_GAUSS[0]
    direction = "higher"
    reference = "fused+sources: SSIM(ir,F), SSIM(vis,F) combined by the sources' similarity per window"
    description = "Yang's SSIM-based fusion metric"

    @property
    def range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        t = _liu_ssim_terms(x)
        s_ab, s_af, s_bf, lam = t["s_ab"], t["s_af"], t["s_bf"], t["var_share"]
        q = torch.where(s_ab >= 0.75, lam * s_af + (1 - lam) * s_bf, torch.maximum(s_af, s_bf))
        return q.flatten(1).mean(1)




_MEF_WINDOW = 11
_MEF_WEIGHTS = (0.0448, 0.2856, 0.3001)
_EPS = 2.220446049250313e-16  # MATLAB eps


def _mef_level(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, c: float) -> torch.Tensor:
    """Mean MEF-SSIM quality map of one scale (Ma, Zeng & Wang), vectorised: the desired patch of each 11 x 11
    window is ``s (c_a x_a + c_b x_b) + const``, so its Gaussian-weighted statistics follow from the windows'
    moments of the sources and the fused image."""
    n = _MEF_WINDOW
    g = gaussian_1d(n, 1.5)
    g = g / g.sum()
    images = {"a": a, "b": b, "f": f}
    centre = centres(images)
    (q,) = by_strips(lambda strip: (_mef_window_q(strip, g, c, centre),), images, n)
    return q.flatten(1).mean(1)


def _mef_window_q(images: dict[str, torch.Tensor], g: torch.Tensor, c: float, centre: dict[str, torch.Tensor]
                  ) -> torch.Tensor:
    """MEF-SSIM's quality of each 'valid' window of ``images`` (a, b, f: ``B x H x W``)."""
    n = _MEF_WINDOW
    pairs = [("a", "a"), ("b", "b"), ("a", "b"), ("f", "f"), ("a", "f"), ("b", "f")]
    (_, gm), (_, box) = local_moments(images, pairs, g, extra=n, extra_for={"a", "b"}, centre=centre)
    nn = n * n
    va, vb, cab = box[("a", "a")], box[("b", "b")], box[("a", "b")]
    norm_a, norm_b = torch.sqrt(nn * va), torch.sqrt(nn * vb)  # ||x_k - mu_k|| over the window
    ed_a, ed_b = norm_a + 0.001, norm_b + 0.001  # signal strengths (+0.001, as the reference code)
    # structure consistency R = ||sum_k x_k - mean|| / sum_k ||x_k - mu_k||, and the weights' exponent p
    num = torch.sqrt((nn * (va + vb + 2 * cab)).clamp_min(0.0))
    R = (num + _EPS) / (norm_a + norm_b + _EPS)
    R = torch.where(R > 1, torch.full_like(R, 1 - _EPS), R).clamp_min(_EPS)
    p = torch.tan(math.pi / 2 * R).clamp_max(10.0)
    wa, wb = (ed_a / n).pow(p) + _EPS, (ed_b / n).pow(p) + _EPS
    tot = wa + wb
    ca, cb = wa / tot / ed_a, wb / tot / ed_b  # the desired patch is sum_k c_k (x_k - mu_k), rescaled
    rnorm2 = nn * (ca * ca * va + cb * cb * vb + 2 * ca * cb * cab)
    rnorm = torch.sqrt(rnorm2.clamp_min(0.0))
    s = torch.where(rnorm > 0, torch.maximum(ed_a, ed_b) / torch.where(rnorm > 0, rnorm, torch.ones_like(rnorm)),
                    torch.zeros_like(rnorm))
    s1 = s * s * (ca * ca * gm[("a", "a")] + cb * cb * gm[("b", "b")] + 2 * ca * cb * gm[("a", "b")])
    s12 = s * (ca * gm[("a", "f")] + cb * gm[("b", "f")])
    return (2 * s12 + c) / (s1.clamp_min(0.0) + gm[("f", "f")] + c)


def _half(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then ``(1:2:end, 1:2:end)``: 2 x 2 block means,
    an odd last row/column averaged with itself."""
    if x.shape[-2] % 2:
        x = torch.cat([x, x[..., -1:, :]], -2)
    if x.shape[-1] % 2:
        x = torch.cat([x, x[..., :, -1:]], -1)
    return (x[..., 0::2, 0::2] + x[..., 1::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 1::2]) / 4


@register_metric("MEF_SSIM", "mef-ssim", order=162)
class MEF_SSIM(Metric):
    """Multi-exposure fusion structural similarity (Ma, Zeng & Wang, IEEE TIP 2015), the "MS_SSIM" of Tang's
    kit (``analysis_ms_ssim.m`` / ``mef_ssim.m``): per 11 x 11 window a desired patch is built from the two
    sources (signal strength = the larger source contrast, structure = their contrast-weighted mean, weights
    ``(||x_k - mu_k|| / 11)^p`` with p from the sources' structural consistency), compared with the fused patch
    by SSIM's structure term (Gaussian window sigma 1.5, C = (0.03 * 255)^2); 3 scales (2 x 2 mean
    downsampling), combined as ``prod Q_l^w_l``, w = (0.0448, 0.2856, 0.3001) / sum.
    """

    name = "MEF-SSIM"
    direction = "higher"
    reference = "fused+sources: SSIM of F with a patch-wise desired image built from ir and vis, 3 scales"
    description = "multi-exposure-fusion SSIM (Ma et al.) against a desired image built from both sources"

    @property
    def min_size(self) -> int:  # type: ignore[override]
        return _MEF_WINDOW * 2 ** (len(_MEF_WEIGHTS) - 1)

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        a, b, f = x.a, x.b, x.f
        c = (0.03 * 255.0) ** 2
        w = torch.tensor(_MEF_WEIGHTS, dtype=torch.float64)
        w = w / w.sum()
        out = torch.ones(f.shape[0], dtype=torch.float64, device=f.device)
        for level in range(len(_MEF_WEIGHTS)):
            if level:
                a, b, f = _half(a), _half(b), _half(f)
            out = out * _mef_level(a, b, f, c).pow(float(w[level]))
        return out


__all__ = ["MEF_SSIM", "Q_0", "Q_C", "Q_E", "Q_W", "Q_Y", "by_strips", "centres", "local_moments", "ssim_map",
           "uiqi_map"]
