"""Low-level building blocks shared by the metrics: grey conversion, filters, histograms.

All images here are float tensors ``B x H x W`` on the 0..255 scale unless stated otherwise. Filters work
on any device; large separable kernels run as FFT products (exact to ~1e-12 relative in float64), small
ones as shifted sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

GRAY_MODES = ("bt601", "opencv", "pil", "matlab")


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
      * ``matlab``: MATLAB's ``rgb2gray`` (the MATLAB kits): 0.298936021293775 R + 0.587043074451121 G +
        0.114020904255103 B (the documented coefficients), rounded half away from zero when ``quantize``.
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
    if mode == "matlab":
        x = rgb.double()
        y = 0.298936021293775 * x[:, 0] + 0.587043074451121 * x[:, 1] + 0.114020904255103 * x[:, 2]
        return torch.floor(y + 0.5) if quantize else y
    if mode == "pil":
        q = torch.round(rgb.double()).clamp(0, 255).to(torch.int64)
        y = (q[:, 0] * 19595 + q[:, 1] * 38470 + q[:, 2] * 7471 + 32768) >> 16
        return y.double()
    raise ValueError(f"unknown grey conversion {mode!r}; choose one of {', '.join(GRAY_MODES)}")


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------
#: a strip is at least ``_STRIP_ROWS`` output rows and about ``_STRIP_PIXELS`` output pixels: its passes stay
#: in the CPU cache, and a narrow image is not cut into strips of a few thousand pixels, each paying the
#: per-operation overhead of a whole pass (:func:`strip_rows`)
_STRIP_ROWS, _STRIP_PIXELS = 64, 64 * 1024


def strip_rows(width: int) -> int:
    """Output rows per strip for maps ``width`` pixels wide (the strip size never changes a value)."""
    return max(_STRIP_ROWS, _STRIP_PIXELS // max(1, width))


def by_strips(fn: Callable[[dict[str, torch.Tensor]], tuple[torch.Tensor, ...]], images: dict[str, torch.Tensor],
              n: int, rows: int | None = None, cols: int | None = None) -> tuple[torch.Tensor, ...]:
    """Per-window maps of ``n x n`` 'valid' windows, computed tile by tile: ``fn`` gets tiles of
    ``rows + n - 1`` image rows and ``cols + n - 1`` columns (name -> ``B x (rows + n - 1) x (cols + n - 1)``)
    and returns its maps for the ``rows x cols`` windows they hold; the tiles' maps are written into whole
    ``B x (H - n + 1) x (W - n + 1)`` maps. By default a tile is a strip of :func:`strip_rows` rows cut into
    equal column blocks of at most about ``_STRIP_PIXELS`` windows (one block up to 1024 windows wide, four at
    4096), so a tile's size does not grow with the image.

    Every window's value is computed by the same operations as on the whole image (filters and pointwise
    terms act per window), so the maps are bit for bit those of one call on the whole images, while a
    tile's dozens of intermediate maps stay in the CPU cache instead of streaming through memory."""
    H, W = next(iter(images.values())).shape[-2:]
    Ho, Wo = H - n + 1, W - n + 1
    rows = rows or strip_rows(Wo)
    if cols is None:  # equal column blocks of at most about _STRIP_PIXELS windows
        cols = -(-Wo // max(1, -(-Wo * rows // max(1, _STRIP_PIXELS))))
    outs: list[torch.Tensor] = []
    for r in range(0, Ho, rows):
        k = min(rows, Ho - r)
        for q in range(0, Wo, cols):
            m = min(cols, Wo - q)
            parts = fn({name: v[..., r:r + k + n - 1, q:q + m + n - 1] for name, v in images.items()})
            if not outs:
                outs = [p.new_empty(p.shape[:-2] + (Ho, Wo)) for p in parts]
            for o, p in zip(outs, parts):
                if p.shape[-2:] != (k, m):
                    raise ValueError(f"by_strips: a tile's map is {tuple(p.shape[-2:])}, expected {(k, m)} "
                                     f"(its {n} x {n} windows)")
                o[..., r:r + k, q:q + m] = p
    return tuple(outs)


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


def correlate_valid_decimated(x: torch.Tensor, kv: torch.Tensor, kh: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' correlation ``y[i,j] = sum_uv kv[u] kh[v] x[..., i+u, j+v]`` kept at even ``i, j`` only
    (filter-then-decimate by 2), computing only the kept outputs (direct sums)."""
    nv, nh = kv.numel(), kh.numel()
    H, W = x.shape[-2:]
    if nv > H or nh > W:
        raise ValueError(f"image {H}x{W} is smaller than the {nv}x{nh} filter window")
    kv = kv.to(x.dtype).to(x.device)
    kh = kh.to(x.dtype).to(x.device)
    ho, wo = (H - nv + 2) // 2, (W - nh + 2) // 2
    y = x[..., 0:2 * (ho - 1) + 1:2, :] * kv[0]
    for u in range(1, nv):
        y.add_(x[..., u:u + 2 * (ho - 1) + 1:2, :], alpha=float(kv[u]))
    z = y[..., 0:2 * (wo - 1) + 1:2] * kh[0]
    for v in range(1, nh):
        z.add_(y[..., v:v + 2 * (wo - 1) + 1:2], alpha=float(kh[v]))
    return z


#: order of the local-moment maps in :func:`moment_spectra` / :func:`moment_filter` (A = infrared, B = visible,
#: F = fused, each shifted by the fused image's mean).
MOMENTS = ("a", "b", "f", "aa", "bb", "ff", "af", "bf")


def moment_spectra(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor,
                   shift: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
    """FFTs of the eight local-moment maps of a triple, for windowed means/(co)variances with any kernel.

    ``a, b, f``: float ``B x H x W``. The images are shifted by ``c`` = the fused image's mean (per batch
    item) first: (co)variances are shift-invariant, and the FFT's rounding, which scales with the largest
    map values, then no longer swamps small local variances (the ``E[x^2] - mu^2`` cancellation).

    Returns ``(spectra, c)``: ``spectra`` holds four complex ``B x P x Q`` transforms (``P x Q`` a fast FFT
    size >= ``H x W``), each packing two maps of :data:`MOMENTS` as (real, imaginary), written straight into
    the transform's input buffer; ``c`` is ``B x 1 x 1`` (``shift`` when given: the strips of
    :func:`moment_maps` use the whole image's). Filter them with :func:`moment_filter`; several window kernels
    (VIF's, SSIM's) can share them. Each pair is its own tensor: on CPU, buffers above glibc's mmap threshold
    (32 MB) are fresh pages on every allocation, which costs as much as the FFT.
    """
    B, H, W = f.shape
    c = f.flatten(1).mean(1)[:, None, None] if shift is None else shift
    ctype = torch.complex128 if f.dtype == torch.float64 else torch.complex64
    P, Q = _fast_len(H), _fast_len(W)

    def buffer() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = torch.empty((B, H, W), dtype=ctype, device=f.device)
        return z, torch.view_as_real(z)[..., 0], torch.view_as_real(z)[..., 1]

    # the two buffers holding the shifted images first; each of the other two is transformed and freed
    # before the next is made (three buffers alive at most, not four plus their transforms)
    (ab, sa, sb), (faa, sf, aa) = buffer(), buffer()
    torch.sub(a, c, out=sa)
    torch.sub(b, c, out=sb)
    torch.sub(f, c, out=sf)
    spectra: list[torch.Tensor | None] = [None] * 4
    for i, pairs in ((2, ((sb, sb), (sf, sf))), (3, ((sa, sf), (sb, sf)))):
        z, re, im = buffer()
        for out, (p, q) in zip((re, im), pairs):
            torch.mul(p, q, out=out)
        spectra[i] = torch.fft.fft2(z, s=(P, Q))
        del z, re, im
    torch.mul(sa, sa, out=aa)
    spectra[1] = torch.fft.fft2(faa, s=(P, Q))
    del faa, sf, aa
    spectra[0] = torch.fft.fft2(ab, s=(P, Q))
    return spectra, c  # type: ignore[return-value]


def moment_filter(spectra: Sequence[torch.Tensor], kv: torch.Tensor, kh: torch.Tensor, H: int,
                  W: int) -> list[torch.Tensor]:
    """Valid separable correlation of the moment maps in ``spectra`` (from :func:`moment_spectra` of ``H x W``
    images) with symmetric odd-length kernels -> eight views ``B x (H-len(kv)+1) x (W-len(kh)+1)`` in
    :data:`MOMENTS` order (means not shifted back).

    The kernels are centred on index 0, so their spectrum is real (a real-by-complex product, cached per
    kernel and size) and the valid part is the centre of the circular result: wrap-around reaches only the
    ``len // 2`` border rows and columns, which 'valid' drops.
    """
    P, Q = spectra[0].shape[-2:]
    nv, nh = kv.numel(), kh.numel()
    if nv > H or nh > W:
        raise ValueError(f"image {H}x{W} is smaller than the {nv}x{nh} filter window")
    k = centred_kernel_spectrum(kv, kh, P, Q, spectra[0].device)[..., None].to(spectra[0].real.dtype)
    rv, rh = nv // 2, nh // 2
    out = []
    for z in spectra:
        prod = torch.view_as_complex(torch.view_as_real(z) * k)
        prod = torch.fft.ifft2(prod, out=prod)  # in the product's buffer: the same values, one buffer fewer
        yr = torch.view_as_real(prod[..., rv: rv + H - nv + 1, rh: rh + W - nh + 1])
        out += [yr[..., 0], yr[..., 1]]
    return out


#: images of more pixels than this (4 Mi: larger than 2048 x 2048) get their local moments in strips of rows
#: (:func:`moment_maps`); smaller ones, every image of the reference tables among them, in one transform
MOMENT_STRIPS_ABOVE = 1 << 22
#: complex elements of one strip's transform: 8 MiB per map pair (complex128), so a strip's four transforms
#: and their products stay in the CPU's last-level cache, as a whole 1024 x 1024 image's do
_STRIP_ELEMENTS = 1 << 19


def moment_maps(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, kv: torch.Tensor, kh: torch.Tensor,
                spectra: Callable[[], tuple[list[torch.Tensor], torch.Tensor]] | None = None,
                ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Valid windowed local moments of a triple: ``(maps, c)`` as :func:`moment_filter` and :func:`moment_spectra`
    give them (eight ``B x (H-len(kv)+1) x (W-len(kh)+1)`` maps in :data:`MOMENTS` order, means not shifted
    back by ``c``, the fused image's mean, ``B x 1 x 1``).

    Up to :data:`MOMENT_STRIPS_ABOVE` pixels the whole image goes through one transform (``spectra``: a
    function giving the triple's shared :func:`moment_spectra`, called only then). Larger images run in strips
    of rows, each with its ``len(kv) - 1`` rows of context, through transforms of about
    :data:`_STRIP_ELEMENTS` elements: the same circular-correlation arithmetic on a shorter transform, so the
    maps agree with the whole-image ones to float rounding (~1e-16 of the largest moment), while the cost per
    pixel no longer grows with the transform's length and its memory traffic, and memory is the output maps'.
    """
    B, H, W = f.shape
    nv, nh = kv.numel(), kh.numel()
    if H * W <= MOMENT_STRIPS_ABOVE:
        spec, c = spectra() if spectra is not None else moment_spectra(a, b, f)
        return moment_filter(spec, kv, kh, H, W), c
    if nv > H or nh > W:
        raise ValueError(f"image {H}x{W} is smaller than the {nv}x{nh} filter window")
    c = f.flatten(1).mean(1)[:, None, None]
    Ho, Wo = H - nv + 1, W - nh + 1
    rows_in = _fast_len(max(4 * (nv - 1), _STRIP_ELEMENTS // _fast_len(W)))
    step = rows_in - nv + 1
    out = torch.empty((8, B, Ho, Wo), dtype=f.dtype, device=f.device)
    for r in range(0, Ho, step):
        k = min(step, Ho - r)
        rows = slice(r, r + k + nv - 1)
        spec, _ = moment_spectra(a[:, rows], b[:, rows], f[:, rows], shift=c)
        for o, m in zip(out, moment_filter(spec, kv, kh, k + nv - 1, W)):
            o[:, r:r + k] = m
        del spec
    return list(out.unbind(0)), c


def centred_kernel_spectrum(kv: torch.Tensor, kh: torch.Tensor, P: int, Q: int, device: torch.device | str = "cpu",
                            real_half: bool = False) -> torch.Tensor:
    """Real ``P x Q`` spectrum (``P x (Q // 2 + 1)`` with ``real_half``) of the separable kernel ``kv kh^T``
    centred on index 0; float64. Both kernels must be symmetric with odd length. Cached per kernel and size.
    """
    for k in (kv, kh):
        if k.numel() % 2 == 0 or not torch.equal(k, k.flip(0)):
            raise ValueError("centred_kernel_spectrum needs symmetric kernels of odd length")
    key = (tuple(kv.double().tolist()), tuple(kh.double().tolist()), P, Q, str(device), real_half)
    if key not in _KERNEL_SPECTRA:
        if len(_KERNEL_SPECTRA) >= 64:
            _KERNEL_SPECTRA.clear()
        fv = _centred_dft(kv.double().cpu(), P, False)
        fh = _centred_dft(kh.double().cpu(), Q, real_half)
        _KERNEL_SPECTRA[key] = (fv[:, None] * fh[None, :]).to(device)
    return _KERNEL_SPECTRA[key]


_KERNEL_SPECTRA: dict[tuple, torch.Tensor] = {}


def _centred_dft(k: torch.Tensor, n: int, half: bool) -> torch.Tensor:
    """Real DFT (length ``n``, or its ``n // 2 + 1`` half) of a symmetric odd-length ``k`` centred on index 0.

    A real even sequence has a real, even spectrum. The full spectrum mirrors the real part of ``rfft``, so it
    is exactly even (``K[-m] == K[m]``), which two maps packed in one complex transform rely on: a kernel
    spectrum that is symmetric only to rounding would leak one map into the other at the 1e-16 level.
    """
    r = (k.numel() - 1) // 2
    v = torch.zeros(n, dtype=k.dtype)
    v[: r + 1] = k[r:]
    v[n - r:] = k[:r]
    spec = torch.fft.rfft(v).real
    return spec if half else torch.cat([spec, spec[1:(n + 1) // 2].flip(0)])


def sobel_same(x: torch.Tensor, pad_mode: str = "zeros") -> tuple[torch.Tensor, torch.Tensor]:
    """Separable 3x3 Sobel correlation of ``B x H x W``, output size ``H x W``.

    Returns ``(gx, gy)``: correlation with ``[[-1,0,1],[-2,0,2],[-1,0,1]]`` and ``[[-1,-2,-1],[0,0,0],[1,2,1]]``.
    ``pad_mode``: ``zeros`` or ``reflect`` (reflect-101, i.e. MATLAB ``per_extn_im_fn``). Exact on integer data.
    """
    p = F.pad(x.unsqueeze(1), (1, 1, 1, 1), mode="constant" if pad_mode == "zeros" else "reflect")[:, 0]
    return sobel_valid(p)


def sobel_valid(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`sobel_same`'s correlations on an already padded ``B x (H + 2) x (W + 2)`` -> two ``B x H x W``
    (rows of a padded image give the same values there: strips need no padding of their own)."""
    H, W = p.shape[-2] - 2, p.shape[-1] - 2
    sv = torch.add(p[:, 0:H, :], p[:, 2:H + 2, :]).add_(p[:, 1:H + 1, :], alpha=2)
    sh = torch.add(p[:, :, 0:W], p[:, :, 2:W + 2]).add_(p[:, :, 1:W + 1], alpha=2)
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
