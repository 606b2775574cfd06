"""Zhao's phase-congruency fusion metric Q_P, on Kovesi's phase congruency (``phasecong3``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import gaussian_1d
from sagebench.tasks.metrics.similarity import _filter_valid

# Kovesi's phasecong3 parameters, as Liu et al.'s myphasecong3 uses them
_NSCALE, _NORIENT = 4, 6
_MIN_WAVELENGTH, _MULT, _SIGMA_ONF = 3.0, 2.1, 0.55
_DTHETA_ON_SIGMA, _K, _CUTOFF, _G = 1.2, 2.0, 0.5, 10.0
_EPSILON = 1e-4


def _centred_range(n: int) -> torch.Tensor:
    """Frequency coordinates of phasecong3's filter grid (before ``ifftshift``)."""
    if n % 2:
        return (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) / (n - 1)
    return (torch.arange(n, dtype=torch.float64) - n / 2) / n


def _filter_bank(rows: int, cols: int, device) -> tuple[list[list[torch.Tensor]], list[torch.Tensor]]:
    """The log-Gabor filters ``bank[o][s]`` (frequency domain, ``rows x cols``) and, per orientation, the
    noise-energy terms ``(sum_s f_s^2, sum_{s<t} f_s f_t)`` of their spatial responses summed over pixels."""
    x = _centred_range(cols)[None, :].expand(rows, cols)
    y = _centred_range(rows)[:, None].expand(rows, cols)
    radius = torch.sqrt(x * x + y * y)
    radius[rows // 2, cols // 2] = 1.0
    theta = torch.atan2(-y, x)
    radius = torch.fft.ifftshift(radius)
    theta = torch.fft.ifftshift(theta)
    sin_t, cos_t = torch.sin(theta), torch.cos(theta)
    # Butterworth low-pass, cutoff 0.45, order 15 (its own grid, as lowpassfilter.m)
    lx = (torch.arange(1, cols + 1, dtype=torch.float64) - (cols // 2 + 1)) / cols
    ly = (torch.arange(1, rows + 1, dtype=torch.float64) - (rows // 2 + 1)) / rows
    lr = torch.sqrt(lx[None, :] ** 2 + ly[:, None] ** 2)
    lp = torch.fft.fftshift(1.0 / (1.0 + (lr / 0.45) ** 30))
    log_gabor = []
    for s in range(_NSCALE):
        fo = 1.0 / (_MIN_WAVELENGTH * _MULT ** s)
        lg = torch.exp(-(torch.log(radius / fo)) ** 2 / (2 * math.log(_SIGMA_ONF) ** 2)) * lp
        lg[0, 0] = 0.0
        log_gabor.append(lg)
    theta_sigma = math.pi / _NORIENT / _DTHETA_ON_SIGMA
    bank, noise = [], []
    for o in range(_NORIENT):
        angl = o * math.pi / _NORIENT
        ds = sin_t * math.cos(angl) - cos_t * math.sin(angl)
        dc = cos_t * math.cos(angl) + sin_t * math.sin(angl)
        spread = torch.exp(-torch.atan2(ds, dc).abs() ** 2 / (2 * theta_sigma ** 2))
        filters = [lg * spread for lg in log_gabor]
        spatial = [torch.fft.ifft2(fl).real * math.sqrt(rows * cols) for fl in filters]
        sum_an2 = sum(float((sp * sp).sum()) for sp in spatial)
        sum_aiaj = sum(float((spatial[i] * spatial[j]).sum()) for i in range(_NSCALE) for j in range(i + 1, _NSCALE))
        bank.append([fl.to(device) for fl in filters])
        noise.append(torch.tensor([sum_an2, sum_aiaj, float((filters[0] ** 2).sum())], dtype=torch.float64))
    return bank, noise


def _median(v: torch.Tensor) -> torch.Tensor:
    """MATLAB ``median`` of each row (the mean of the two middle values for an even count)."""
    n = v.shape[1]
    if n % 2:
        return torch.kthvalue(v, (n + 1) // 2, dim=1).values
    return (torch.kthvalue(v, n // 2, dim=1).values + torch.kthvalue(v, n // 2 + 1, dim=1).values) / 2


def phase_congruency(img: torch.Tensor, bank, noise) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Kovesi's phase congruency of ``B x H x W`` (``phasecong3`` with its default parameters) -> (PC, M, m):
    the phase-congruency map and the maximum and minimum moments of phase congruency covariance."""
    B, rows, cols = img.shape
    spec = torch.fft.fft2(img)
    zero = torch.zeros_like(img)
    total_energy, total_sum_an = zero.clone(), zero.clone()
    covx2, covy2, covxy = zero.clone(), zero.clone(), zero.clone()
    for o in range(_NORIENT):
        angl = o * math.pi / _NORIENT
        sum_e, sum_o, sum_an = zero.clone(), zero.clone(), zero.clone()
        eo = []
        max_an = zero
        for s in range(_NSCALE):
            r = torch.fft.ifft2(spec * bank[o][s])
            an = r.abs()
            sum_an += an
            sum_e += r.real
            sum_o += r.imag
            max_an = an if s == 0 else torch.maximum(max_an, an)
            eo.append(r)
        x_energy = torch.sqrt(sum_e * sum_e + sum_o * sum_o) + _EPSILON
        mean_e, mean_o = sum_e / x_energy, sum_o / x_energy
        energy = zero.clone()
        for r in eo:
            e, od = r.real, r.imag
            energy += e * mean_e + od * mean_o - (e * mean_o - od * mean_e).abs()
        sum_an2, sum_aiaj, em_n = (float(v) for v in noise[o])
        median_e2n = _median((eo[0].abs() ** 2).reshape(B, -1))
        noise_power = (-median_e2n / math.log(0.5)) / em_n
        tau = torch.sqrt((2 * noise_power * sum_an2 + 4 * noise_power * sum_aiaj) / 2)
        thresh = (tau * math.sqrt(math.pi / 2) + _K * torch.sqrt((2 - math.pi / 2) * tau * tau)) / 1.7
        energy = torch.clamp_min(energy - thresh[:, None, None], 0.0)
        width = sum_an / (max_an + _EPSILON) / _NSCALE
        weight = 1.0 / (1.0 + torch.exp((_CUTOFF - width) * _G))
        total_sum_an += sum_an
        total_energy += weight * energy
        pc = weight * energy / sum_an
        covx, covy = pc * math.cos(angl), pc * math.sin(angl)
        covx2 += covx * covx
        covy2 += covy * covy
        covxy += covx * covy
    pc_map = total_energy / (total_sum_an + _EPSILON)
    covx2, covy2, covxy = covx2 / (_NORIENT / 2), covy2 / (_NORIENT / 2), covxy / _NORIENT
    denom = torch.sqrt(covxy * covxy + (covx2 - covy2) ** 2) + _EPSILON
    return pc_map, (covy2 + covx2 + denom) / 2, (covy2 + covx2 - denom) / 2


def _gauss_same(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """MATLAB ``filter2(window, x, 'same')`` (zero padding) with the separable window ``g g^T``."""
    r = g.numel() // 2
    return _filter_valid(F.pad(x, (r, r, r, r)), g)


def _feature_correlation(f1, f2, fmax, ff, m1, m2, m3) -> torch.Tensor:
    """Zhao et al.'s measure for one feature: per pixel the largest of the local correlation-like terms
    ``(s_XF + C) / (sqrt(|s_X^2 s_F^2|) + C)`` of source 1, source 2 and the max-PC map with F (each only
    where its feature exceeds the threshold), summed and divided by the max map's feature area."""
    g = gaussian_1d(11, 1.5)
    g = g / g.sum()
    c = 1e-4
    f1, f2, fmax = f1 * m1, f2 * m2, fmax * m3
    muf = _gauss_same(ff, g)
    sff = _gauss_same(ff * ff, g) - muf * muf
    out = []
    for x, m in ((f1, m1), (f2, m2), (fmax, m3)):
        mu = _gauss_same(x, g)
        sxx = _gauss_same(x * x, g) - mu * mu
        sxf = _gauss_same(x * ff, g) - mu * muf
        out.append(torch.where(m, (sxf + c) / (torch.sqrt((sxx * sff).abs()) + c), torch.zeros_like(mu)))
    best = torch.maximum(torch.maximum(out[0], out[1]), out[2])
    return best.flatten(1).sum(1) / m3.flatten(1).sum(1)


@register_metric("QP", "Q_P", "zhao", order=175, default=False)
class Q_P(Metric):
    """Phase-congruency-based fusion metric (Zhao, Laganiere & Liu, Int. J. Innovative Computing, Information
    and Control 2007): ``Q_P = P_p P_M P_m``, each factor Zhao's correlation measure between the fused image's
    and the sources' phase congruency (p), its maximum (M) and minimum (m) moments, where the feature exceeds
    0.1 (the larger-PC source as the reference); phase congruency by Kovesi's ``phasecong3`` (4 scales,
    6 orientations, log-Gabor filters), as Liu et al.'s toolbox ``metricZhao`` / ``myphasecong3``.
    """

    name = "Q_P"
    min_size = 11
    degenerate = "NaN when neither source has phase congruency above 0.1 anywhere (no feature area)"
    cost = ("slow: 72 complex FFTs per triple (3 images x 4 scales x 6 orientations), about 2 s per 768x1024 "
            "triple on 2 CPU cores; not in the default suite")
    direction = "higher"
    reference = "fused+sources: phase-congruency feature correlation of F with ir, vis and their max"
    description = "phase-congruency feature preservation (Zhao)"

    @property
    def range(self) -> tuple[float, float]:
        return (-math.inf, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        rows, cols = x.f.shape[-2:]
        bank, noise = _filter_bank(rows, cols, x.f.device)
        (p1, M1, n1), (p2, M2, n2), (pf, Mf, nf) = (phase_congruency(t, bank, noise) for t in (x.a, x.b, x.f))
        pick = p1 > p2
        pmax, Mmax, nmax = torch.where(pick, p1, p2), torch.where(pick, M1, M2), torch.where(pick, n1, n2)
        m1, m2, m3 = p1 > 0.1, p2 > 0.1, pmax > 0.1
        return (_feature_correlation(p1, p2, pmax, pf, m1, m2, m3) * _feature_correlation(M1, M2, Mmax, Mf, m1, m2, m3)
                * _feature_correlation(n1, n2, nmax, nf, m1, m2, m3))
