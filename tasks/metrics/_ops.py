"""Low-level building blocks shared by the metrics: grey conversion, filters, histograms.

All images here are float tensors ``B x H x W`` on the 0..255 scale unless stated otherwise. Filters work
on any device; large separable kernels run as FFT products (exact to ~1e-12 relative in float64), small
ones as shifted sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

GRAY_MODES = ("bt601", "opencv", "pil")


# --------------------------------------------------------------------------------------------------
# Grey conversion of colour images (input: B x 3 x H x W RGB on 0..255)
# --------------------------------------------------------------------------------------------------
def rgb_to_gray_levels(rgb: torch.Tensor, mode: str = "bt601", quantize: bool = True) -> torch.Tensor:
    """Luminance of ``B x 3 x H x W`` RGB on 0..255 -> ``B x H x W`` float64 on 0..255.

    Modes:
      * ``bt601``: Y = 0.299 R + 0.587 G + 0.114 B in float64, rounded to the nearest level when ``quantize``.
      * ``opencv``: what CDDFuse's reader does: OpenCV's float32 ``COLOR_BGR2GRAY`` (0.299/0.587/0.114 in
        float32, bit-exact emulation), then ``np.round`` (half to even).
      * ``pil``: PIL's ``Image.convert('L')``: ``(19595 R + 38470 G + 7471 B + 32768) >> 16``. Needs
        integer-valued input (8-bit levels); always quantised.
    """
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb_to_gray_levels: expected B x 3 x H x W, got {tuple(rgb.shape)}")
    if mode == "bt601":
        x = rgb.double()
        y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
        return torch.round(y) if quantize else y
    if mode == "opencv":
        # OpenCV's float32 path evaluates G*cg, then fused multiply-adds B*cb and R*cr (checked bit-exact on
        # all 2^24 RGB triples). A float32 x float32 product is exact in float64, so each fma is the float64
        # sum rounded once to float32.
        x = rgb.float()
        r, g, b = x[:, 0].double(), x[:, 1].double(), x[:, 2].double()
        cr, cg, cb = (float(torch.tensor(c, dtype=torch.float32)) for c in (0.299, 0.587, 0.114))
        y = (g * cg).float()
        y = (b * cb + y.double()).float()
        y = (r * cr + y.double()).float()
        return torch.round(y).double() if quantize else y.double()
    if mode == "pil":
        q = torch.round(rgb.double()).clamp(0, 255).to(torch.int64)
        y = (q[:, 0] * 19595 + q[:, 1] * 38470 + q[:, 2] * 7471 + 32768) >> 16
        return y.double()
    raise ValueError(f"unknown grey conversion {mode!r}; choose one of {', '.join(GRAY_MODES)}")


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------
def _fast_len(n: int) -> int:
    """Smallest 5-smooth integer >= n (fast FFT length)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def correlate_valid(x: torch.Tensor, kv: torch.Tensor, kh: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' correlation: ``y[i,j] = sum_uv kv[u] kh[v] x[..., i+u, j+v]``.

    ``x``: ``... x H x W``; output ``... x (H-len(kv)+1) x (W-len(kh)+1)``, dtype of ``x``. Kernels of 7+
    taps run as one FFT product (circular correlation at a fast size; the valid part never wraps).
    """
    return correlate_valid_kernels(x, [(kv, kh)])[0]


def correlate_valid_kernels(x: torch.Tensor,
                            kernels: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
    """:func:`correlate_valid` of ``x`` with several separable kernels, sharing the forward FFT."""
    H, W = x.shape[-2:]
    sizes = [(kv.numel(), kh.numel()) for kv, kh in kernels]
    for nv, nh in sizes:
        if nv > H or nh > W:
            raise ValueError(f"image {H}x{W} is smaller than the {nv}x{nh} filter window")
    out: list[torch.Tensor | None] = [None] * len(kernels)
    spec = None
    P, Q = _fast_len(H), _fast_len(W)
    lead = x.shape[:-2]
    flat = x.reshape(-1, H, W)
    n_maps = flat.shape[0]
    for idx, ((kv, kh), (nv, nh)) in enumerate(zip(kernels, sizes)):
        kv = kv.to(x.dtype).to(x.device)
        kh = kh.to(x.dtype).to(x.device)
        if max(nv, nh) <= 5:
            y = sum(kv[u] * x[..., u:H - nv + 1 + u, :] for u in range(nv))
            out[idx] = sum(kh[v] * y[..., v:W - nh + 1 + v] for v in range(nh))
            continue
        if spec is None:
            spec = _packed_spectrum(list(flat.unbind(0)), P, Q)
        views = _packed_correlate(spec, kv, kh, n_maps, H, W)
        out[idx] = torch.stack(views, 0).reshape(*lead, H - nv + 1, W - nh + 1)
    return out  # type: ignore[return-value]


def _packed_spectrum(items: list[torch.Tensor], P: int, Q: int) -> torch.Tensor:
    """FFT (size ``P x Q``) of ``H x W`` real maps packed two per complex map: ``z_k = x_2k + i x_2k+1``.

    For a real kernel ``k``, ``ifft(fft(z_k) K)`` is ``(x_2k * k) + i (x_2k+1 * k)``. The maps are written
    straight into the interleaved complex buffer (an odd count gets a zero imaginary partner).
    """
    x0 = items[0]
    H, W = x0.shape[-2:]
    ctype = torch.complex128 if x0.dtype == torch.float64 else torch.complex64
    zc = torch.empty(((len(items) + 1) // 2, H, W), dtype=ctype, device=x0.device)
    zr = torch.view_as_real(zc)
    if len(items) % 2:
        zr[-1, :, :, 1].zero_()
    for j, t in enumerate(items):
        zr[j // 2, :, :, j % 2].copy_(t)
    return torch.fft.fft2(zc, s=(P, Q))


def _packed_correlate(spec: torch.Tensor, kv: torch.Tensor, kh: torch.Tensor, n: int, H: int,
                      W: int) -> list[torch.Tensor]:
    """Valid correlation of the ``n`` maps packed in ``spec`` -> ``n`` views ``(H-nv+1) x (W-nh+1)``."""
    P, Q = spec.shape[-2:]
    nv, nh = kv.numel(), kh.numel()
    yc = torch.fft.ifft2(spec * _separable_kernel_spectrum(kv, kh, P, Q))
    yr = torch.view_as_real(yc[..., : H - nv + 1, : W - nh + 1])
    return [yr[j // 2, :, :, j % 2] for j in range(n)]


def _separable_kernel_spectrum(kv: torch.Tensor, kh: torch.Tensor, P: int, Q: int) -> torch.Tensor:
    """``conj(fft2(kv kh^T zero-padded to P x Q))`` as the outer product of the two 1-D spectra.

    The 2-D DFT of an outer product is the outer product of the 1-D DFTs, so this equals the full 2-D
    transform of the padded kernel (to rounding, ~1e-16 relative) for O(P + Q) transform work instead of
    a full P x Q FFT per kernel.
    """
    fv = _hermitian_fft(kv, P)
    fh = _hermitian_fft(kh, Q)
    return torch.conj(fv[:, None] * fh[None, :])


def _hermitian_fft(k: torch.Tensor, n: int) -> torch.Tensor:
    """Length-``n`` DFT of the real vector ``k`` (zero-padded), exactly Hermitian: ``X[-m] == conj(X[m])``.

    Built from ``rfft`` by mirroring. Exact symmetry matters: two real maps share one complex transform in
    :func:`correlate_valid_kernels`, and a kernel spectrum that is Hermitian only to rounding would leak
    one map into the other at the 1e-16 level (visible in VIF's source-swap symmetry).
    """
    r = torch.fft.rfft(k, n=n)
    tail = torch.conj(r[1:(n + 1) // 2]).flip(0)
    return torch.cat([r, tail])


def correlate_valid_decimated(x: torch.Tensor, kv: torch.Tensor, kh: torch.Tensor) -> torch.Tensor:
    """``correlate_valid(x, kv, kh)[..., ::2, ::2]`` computing only the kept outputs (direct sums)."""
    nv, nh = kv.numel(), kh.numel()
    H, W = x.shape[-2:]
    if nv > H or nh > W:
        raise ValueError(f"image {H}x{W} is smaller than the {nv}x{nh} filter window")
    kv = kv.to(x.dtype).to(x.device)
    kh = kh.to(x.dtype).to(x.device)
    ho, wo = (H - nv + 2) // 2, (W - nh + 2) // 2
    y = sum(kv[u] * x[..., u:u + 2 * (ho - 1) + 1:2, :] for u in range(nv))
    return sum(kh[v] * y[..., v:v + 2 * (wo - 1) + 1:2] for v in range(nh))


def correlate_valid_multi(maps: Sequence[torch.Tensor], kv: torch.Tensor, kh: torch.Tensor) -> list[torch.Tensor]:
    """:func:`correlate_valid` of several same-shape maps in one batched call.

    Same numbers, bit for bit, as ``correlate_valid(torch.stack(maps), kv, kh).unbind(0)``, but for FFT-sized
    kernels the maps are written straight into the interleaved complex input (two real maps per transform)
    and the outputs are returned as views of the complex result: no stacked copy, no ``torch.complex``
    interleave and no real/imaginary re-stacking (three full passes over the maps fewer).
    """
    maps = list(maps)
    nv, nh = kv.numel(), kh.numel()
    x0 = maps[0]
    H, W = x0.shape[-2:]
    if max(nv, nh) <= 5 or nv > H or nh > W:
        return list(correlate_valid(torch.stack(maps, dim=0), kv, kh).unbind(0))
    lead = x0.shape[:-2]
    items = [t for m in maps for t in m.reshape(-1, H, W).unbind(0)]  # same order as stack(...).reshape(-1, H, W)
    L = len(items) // len(maps)
    kv = kv.to(x0.dtype).to(x0.device)
    kh = kh.to(x0.dtype).to(x0.device)
    spec = _packed_spectrum(items, _fast_len(H), _fast_len(W))
    views = _packed_correlate(spec, kv, kh, len(items), H, W)
    out = []
    for i in range(len(maps)):
        group = views[i * L:(i + 1) * L]
        y = group[0].unsqueeze(0) if L == 1 else torch.stack(group, 0)
        out.append(y.reshape(*lead, H - nv + 1, W - nh + 1))
    return out


def zero_pad(x: torch.Tensor, ph: int, pw: int | None = None) -> torch.Tensor:
    pw = ph if pw is None else pw
    return F.pad(x, (pw, pw, ph, ph))


def sobel_same(x: torch.Tensor, pad_mode: str = "zeros") -> tuple[torch.Tensor, torch.Tensor]:
    """Separable 3x3 Sobel correlation of ``B x H x W``, output size ``H x W``.

    Returns ``(gx, gy)``: correlation with ``[[-1,0,1],[-2,0,2],[-1,0,1]]`` and ``[[-1,-2,-1],[0,0,0],[1,2,1]]``.
    ``pad_mode``: ``zeros`` or ``reflect`` (reflect-101, i.e. MATLAB ``per_extn_im_fn``). Exact on integer data.
    """
    H, W = x.shape[-2:]
    p = F.pad(x.unsqueeze(1), (1, 1, 1, 1), mode="constant" if pad_mode == "zeros" else "reflect")[:, 0]
    sv = p[:, 0:H, :] + 2 * p[:, 1:H + 1, :] + p[:, 2:H + 2, :]
    sh = p[:, :, 0:W] + 2 * p[:, :, 1:W + 1] + p[:, :, 2:W + 2]
    return sv[:, :, 2:] - sv[:, :, :-2], sh[:, 2:, :] - sh[:, :-2, :]


def gaussian_1d(n: int, sigma: float, dtype=torch.float64) -> torch.Tensor:
    """Centred, unnormalised samples ``exp(-x^2 / 2 sigma^2)``, ``x = -(n-1)/2 .. (n-1)/2``."""
    x = torch.arange(n, dtype=torch.float64) - (n - 1) / 2.0
    return torch.exp(-(x * x) / (2.0 * sigma * sigma)).to(dtype)


def matlab_gaussian_window_1d(n: int, sigma: float) -> torch.Tensor:
    """1-D factor of MATLAB ``fspecial('gaussian', n, sigma)`` (float64, the 2-D window is its outer product).

    ``fspecial`` zeroes values below ``eps * max``; for the windows used here (n <= 17, sigma = n/5) no value
    of the 2-D window falls below that bound (checked in :func:`_check_separable_cutoff`), so the window is
    exactly the outer product of the normalised 1-D factor.
    """
    g = gaussian_1d(n, sigma)
    _check_separable_cutoff(g)
    return g / g.sum()


def _check_separable_cutoff(g: torch.Tensor) -> None:
    w2 = g[:, None] * g[None, :]
    if bool((w2 < torch.finfo(torch.float64).eps * w2.max()).any()):
        raise ValueError("Gaussian window has values below eps*max; it is not separable as fspecial builds it")


# --------------------------------------------------------------------------------------------------
# Histograms
# --------------------------------------------------------------------------------------------------
def levels_int(x: torch.Tensor) -> torch.Tensor:
    """Integer grey levels 0..255 (int64) of a 0..255 image, rounding non-integers half to even."""
    return torch.round(x).clamp(0, 255).to(torch.int64)


def histogram_256(x: torch.Tensor) -> torch.Tensor:
    """``B x H x W`` image on 0..255 -> ``B x 256`` float64 counts of the (rounded) levels."""
    B = x.shape[0]
    q = levels_int(x).reshape(B, -1)
    idx = q + 256 * torch.arange(B, device=x.device)[:, None]
    return torch.bincount(idx.reshape(-1), minlength=256 * B).reshape(B, 256).double()


def joint_histogram_256(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``B x 256 x 256`` float64 joint counts of the levels of ``x`` (rows) and ``y`` (columns)."""
    B = x.shape[0]
    qx = levels_int(x).reshape(B, -1)
    qy = levels_int(y).reshape(B, -1)
    idx = qx * 256 + qy + 65536 * torch.arange(B, device=x.device)[:, None]
    return torch.bincount(idx.reshape(-1), minlength=65536 * B).reshape(B, 256, 256).double()


def entropy_from_counts(counts: torch.Tensor, dims: Sequence[int], log_base: float = 2.0,
                        eps: float = 0.0) -> torch.Tensor:
    """Shannon entropy of histograms (``0 log 0 = 0``), reduced over ``dims``. ``eps`` adds to p inside the log."""
    total = counts.sum(dim=tuple(dims), keepdim=True)
    p = counts / total
    if eps:
        terms = p * torch.log(p + eps)
    else:
        terms = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, torch.ones_like(p))), torch.zeros_like(p))
    return -terms.sum(dim=tuple(dims)) / math.log(log_base)


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Whole-image Pearson correlation per batch item (``B x H x W`` -> ``B``); NaN when a variance is 0."""
    B = x.shape[0]
    x = x.reshape(B, -1)
    y = y.reshape(B, -1)
    xc = x - x.mean(dim=1, keepdim=True)
    yc = y - y.mean(dim=1, keepdim=True)
    return (xc * yc).sum(1) / torch.sqrt((xc * xc).sum(1) * (yc * yc).sum(1))
