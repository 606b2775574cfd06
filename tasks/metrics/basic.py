"""Statistics metrics: EN, SD, SF, AG (fused only); MI, CC, SCD, MSE, PSNR (fused against both sources).

Definitions follow the spec (``shared/specs/metrics.md`` section 2); images are on the 0..255 scale.
"""

from __future__ import annotations

import math

import torch

from sagebench.tasks.metrics._core import GreyTriple, Metric, register_metric
from sagebench.tasks.metrics._ops import entropy_from_counts, histogram_256, joint_histogram_256, pearson


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def joint_with_fused(x: GreyTriple, key: str) -> torch.Tensor:
    """``B x 256 x 256`` joint counts of source ``key`` (``"a"`` = IR, ``"b"`` = visible; rows) with the fused
    image (columns), computed once per triple and shared by MI, Q_MI, Q_TE and Q_NCIE."""
    src = x.a if key == "a" else x.b
    return x.cached(f"joint_{key}f", lambda: joint_histogram_256(src, x.f))


@register_metric("entropy", order=10)
class EN(Metric):
    """Shannon entropy of the fused image's 256-level histogram (levels rounded), ``0 log 0 = 0``.

    Option ``eps``: added to p inside the log (``1e-7`` reproduces IVIF_ZOO, which lowers EN by ~3e-5).
    """

    shares = ("hist_f",)

    name = "EN"
    direction = "higher"
    reference = "fused"
    description = "entropy of the fused image's grey-level histogram"
    options = {"eps": 0.0}

    @property
    def unit(self) -> str:
        return "bits"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 8.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        counts = x.cached("hist_f", lambda: histogram_256(x.f))
        return entropy_from_counts(counts, dims=(1,), eps=self.opts["eps"])


@register_metric("std", order=20)
class SD(Metric):
    """Population standard deviation of the fused image (0..255)."""

    name = "SD"
    direction = "higher"
    description = "standard deviation of the fused image"

    @property
    def unit(self) -> str:
        return "grey levels"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 127.5)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        return _flat(x.f).std(dim=1, correction=0)


@register_metric("spatial_frequency", order=30)
class SF(Metric):
    """Spatial frequency ``sqrt(RF^2 + CF^2)`` of the fused image.

    ``divisor='pairs'`` (default, CDDFuse / IVIF_ZOO / Tang): each squared-difference sum is averaged over its
    own number of pairs, M(N-1) and (M-1)N. ``divisor='vifb'``: both divided by MN (VIFB, ~0.06 % lower).
    """

    name = "SF"
    direction = "higher"
    description = "spatial frequency of the fused image"
    options = {"divisor": "pairs"}
    choices = {"divisor": ("pairs", "vifb")}
    #: VIFB's ``metricsSpatial_frequency.m`` reads a colour image as its three channels side by side
    colour_rule = "side_by_side"

    @property
    def unit(self) -> str:
        return "grey levels"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 255.0 * math.sqrt(2.0))

    def compute(self, x: GreyTriple) -> torch.Tensor:
        f = x.f
        dh = (f[:, :, 1:] - f[:, :, :-1]) ** 2
        dv = (f[:, 1:, :] - f[:, :-1, :]) ** 2
        if self.opts["divisor"] == "vifb":
            mn = f.shape[-1] * f.shape[-2]
            return torch.sqrt(_flat(dh).sum(1) / mn + _flat(dv).sum(1) / mn)
        return torch.sqrt(_flat(dh).mean(1) + _flat(dv).mean(1))


def _gradient(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``np.gradient``: central differences inside, one-sided on the borders. Returns (gx, gy)."""
    gx = torch.empty_like(f)
    gy = torch.empty_like(f)
    gx[..., 1:-1] = (f[..., 2:] - f[..., :-2]) / 2
    gx[..., 0] = f[..., 1] - f[..., 0]
    gx[..., -1] = f[..., -1] - f[..., -2]
    gy[..., 1:-1, :] = (f[..., 2:, :] - f[..., :-2, :]) / 2
    gy[..., 0, :] = f[..., 1, :] - f[..., 0, :]
    gy[..., -1, :] = f[..., -1, :] - f[..., -2, :]
    return gx, gy


@register_metric("average_gradient", order=40)
class AG(Metric):
    """Average gradient: mean of ``sqrt((gx^2 + gy^2)/2)`` with ``np.gradient`` differences.

    ``divisor='mn'`` (default, CDDFuse / IVIF_ZOO) averages over M*N pixels; ``divisor='matlab'`` divides the
    sum by (M-1)(N-1) as Tang's and VIFB's MATLAB code (+0.23 % at 768x1024).
    """

    name = "AG"
    min_size = 2  # forward differences need two rows and columns
    direction = "higher"
    description = "average gradient magnitude of the fused image"
    options = {"divisor": "mn"}
    choices = {"divisor": ("mn", "matlab")}

    @property
    def unit(self) -> str:
        return "grey levels / pixel"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 255.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        f = x.f
        if f.shape[-1] < 2 or f.shape[-2] < 2:
            raise ValueError("AG needs images of at least 2x2 pixels")
        gx, gy = _gradient(f)
        s = _flat(torch.sqrt((gx * gx + gy * gy) / 2)).sum(1)
        M, N = f.shape[-2:]
        return s / ((M - 1) * (N - 1) if self.opts["divisor"] == "matlab" else M * N)


@register_metric("mutual_information", order=50)
class MI(Metric):
    """Mutual information ``I(A;F) + I(B;F)`` from 256x256 joint histograms of the grey levels.

    ``unit='bits'`` (default; IVIF_ZOO, Tang) or ``'nats'`` (CDDFuse via sklearn, VIFB): nats = bits * ln 2.
    ``saturate=True`` reproduces Tang's ``Hab.m``, whose ``uint8 + 1`` indexing saturates at 255, so levels
    254 and 255 share a joint-histogram bin (the marginal entropies keep them apart).
    """

    shares = ("joint_af", "joint_bf")

    name = "MI"
    direction = "higher"
    reference = "fused+sources: sum of I(ir;F) and I(vis;F)"
    description = "mutual information between the fused image and each source, summed"
    options = {"unit": "bits", "saturate": False}
    choices = {"unit": ("bits", "nats"), "saturate": (False, True)}

    @property
    def unit(self) -> str:
        return self.opts["unit"]

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 16.0 if self.opts["unit"] == "bits" else 16.0 * math.log(2.0))

    def compute(self, x: GreyTriple) -> torch.Tensor:
        base = 2.0 if self.opts["unit"] == "bits" else math.e
        total = torch.zeros(x.f.shape[0], dtype=torch.float64, device=x.f.device)
        for key in ("a", "b"):
            joint = joint_with_fused(x, key)
            h_x = entropy_from_counts(joint.sum(2), dims=(1,), log_base=base)
            h_f = entropy_from_counts(joint.sum(1), dims=(1,), log_base=base)
            if self.opts["saturate"]:  # fold level 255 into 254 on both axes (Tang's uint8 + 1)
                joint = joint.clone()
                joint[:, 254, :] += joint[:, 255, :]
                joint[:, 255, :] = 0
                joint[:, :, 254] += joint[:, :, 255]
                joint[:, :, 255] = 0
            h_xf = entropy_from_counts(joint, dims=(1, 2), log_base=base)
            total = total + (h_x + h_f - h_xf)
        return total


@register_metric("correlation_coefficient", order=90)
class CC(Metric):
    """Mean of the Pearson correlations ``(r(A,F) + r(B,F)) / 2``."""

    name = "CC"
    degenerate = ("NaN when the fused image or a source is constant: a correlation with zero variance is 0/0")
    direction = "higher"
    reference = "fused+sources: mean of r(ir,F) and r(vis,F)"
    description = "correlation coefficient between the fused image and the sources"

    @property
    def range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        return (pearson(x.a, x.f) + pearson(x.b, x.f)) / 2


@register_metric("sum_of_correlations_of_differences", order=80)
class SCD(Metric):
    """Sum of the correlations of differences ``r(F-B, A) + r(F-A, B)`` (Aslantas & Bendes)."""

    name = "SCD"
    degenerate = ("NaN when a source or a difference image (F - vis, F - ir) is constant, e.g. F equal to a "
                  "source: a correlation with zero variance is 0/0")
    direction = "higher"
    reference = "fused+sources: sum of r(F-vis, ir) and r(F-ir, vis)"
    description = "sum of the correlations of differences"

    @property
    def range(self) -> tuple[float, float]:
        return (-2.0, 2.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        return pearson(x.f - x.b, x.a) + pearson(x.f - x.a, x.b)


def _mse255(x: GreyTriple) -> torch.Tensor:
    return x.cached("mse255", lambda: (_flat((x.a - x.f) ** 2).mean(1) + _flat((x.b - x.f) ** 2).mean(1)) / 2)


@register_metric(order=100)
class MSE(Metric):
    """Mean squared error, mean of the two sources ``(MSE(A,F) + MSE(B,F)) / 2``.

    ``scale=1`` (default; IVIF_ZOO, Tang) reports it for images on 0..1; ``scale=255`` on 0..255 (CDDFuse).
    """

    shares = ("mse255",)

    name = "MSE"
    direction = "lower"
    reference = "fused+sources: mean of MSE(ir,F) and MSE(vis,F)"
    description = "mean squared error against the sources"
    options = {"scale": 1}
    choices = {"scale": (1, 255)}

    @property
    def unit(self) -> str:
        return "(0..1)^2" if self.opts["scale"] == 1 else "(0..255)^2"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 1.0 if self.opts["scale"] == 1 else 65025.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        m = _mse255(x)
        return m / 65025.0 if self.opts["scale"] == 1 else m


@register_metric(order=110)
class PSNR(Metric):
    """Peak signal-to-noise ratio from the two-source mean MSE.

    ``variant='standard'`` (default): ``10 log10(255^2 / MSE_255)``. ``'cdd'``: peak = max(F) (CDDFuse).
    ``'zoo_tang'``: ``20 log10(255 / sqrt(MSE_01))`` = standard + 48.13 dB (IVIF_ZOO, Tang's MATLAB code).
    ``'vifb'``: VIFB's ``metricsPsnr.m``, ``20 log10(255 / sqrt(m))`` with ``m`` the mean over the sources of
    ``sqrt(sum((X - F)^2)) / (M N)`` (about +46 dB over the standard value).
    """

    shares = ("mse255",)

    name = "PSNR"
    degenerate = ("+inf when the fused image equals both sources (MSE = 0), stored as null; variant 'cdd' "
                  "also -inf for an all-black fused image (peak 0)")
    direction = "higher"
    reference = "fused+sources: PSNR of the mean of MSE(ir,F) and MSE(vis,F)"
    description = "peak signal-to-noise ratio against the sources"
    options = {"variant": "standard"}
    choices = {"variant": ("standard", "cdd", "zoo_tang", "vifb")}

    @property
    def unit(self) -> str:
        return "dB"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0 if self.opts["variant"] != "cdd" else -math.inf, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        m = _mse255(x)
        v = self.opts["variant"]
        if v == "cdd":
            peak = _flat(x.f).amax(1)
            return 10 * torch.log10(peak * peak / m)
        if v == "zoo_tang":
            return 20 * torch.log10(255.0 / torch.sqrt(m / 65025.0))
        if v == "vifb":
            mn = x.f.shape[-1] * x.f.shape[-2]
            r = sum(torch.sqrt(_flat((s - x.f) ** 2).sum(1)) for s in (x.a, x.b)) / (2 * mn)
            return 20 * torch.log10(255.0 / torch.sqrt(r))
        return 10 * torch.log10(65025.0 / m)


@register_metric(order=105)
class RMSE(Metric):
    """Root mean squared error against the sources, mean of the two: ``(RMSE(A,F) + RMSE(B,F)) / 2`` with
    ``RMSE(X,F) = sqrt(mean((X - F)^2))`` on 0..255 (Jagalingam & Hegde, Aquatic Procedia 2015).

    ``variant='vifb'`` reproduces VIFB's ``metricsRmse.m``, which divides ``sqrt(sum((X - F)^2))`` by M*N
    instead of sqrt(M*N) (the standard value divided by sqrt(MN)).
    """

    name = "RMSE"
    direction = "lower"
    reference = "fused+sources: mean of RMSE(ir,F) and RMSE(vis,F)"
    description = "root mean squared error against the sources"
    options = {"variant": "standard"}
    choices = {"variant": ("standard", "vifb")}

    @property
    def unit(self) -> str:
        return "grey levels" if self.opts["variant"] == "standard" else "grey levels / sqrt(pixels)"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, 255.0)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        sse = [_flat((s - x.f) ** 2).sum(1) for s in (x.a, x.b)]
        mn = x.f.shape[-1] * x.f.shape[-2]
        div = float(mn) if self.opts["variant"] == "vifb" else math.sqrt(mn)
        return (torch.sqrt(sse[0]) + torch.sqrt(sse[1])) / (2 * div)


def _directional_diffs(x: torch.Tensor) -> list[torch.Tensor]:
    """First differences of ``B x H x W`` along rows, columns, the main and the secondary diagonal
    (``B x ...`` each, valid positions only)."""
    return [(x[:, :, 1:] - x[:, :, :-1]), (x[:, 1:, :] - x[:, :-1, :]),
            (x[:, 1:, 1:] - x[:, :-1, :-1]), (x[:, 1:, :-1] - x[:, :-1, 1:])]


@register_metric("QSF", "Q_SF", "rSFe", order=75)
class Q_SF(Metric):
    """Ratio of spatial-frequency error (Zheng, Essock, Hansen & Haun, Information Fusion 2007):
    ``|SF_F - SF_R| / SF_R``, lower is better (0: F has the reference's activity).

    SF over four directions (rows, columns, both diagonals, the diagonal terms weighted by w_d = 1/sqrt(2)),
    each mean of squared first differences divided by M*N; the reference SF_R takes at each position the
    larger absolute source difference (Liu et al.'s toolbox ``metricZheng``). Zheng's signed rSFe says whether
    F is over- (+) or under-fused (-); the table ranks its magnitude.
    """

    name = "Q_SF"
    min_size = 2
    degenerate = "NaN when both sources are constant (SF_R = 0)"
    direction = "lower"
    reference = "fused+sources: SF of F against the max-gradient SF of ir and vis"
    description = "relative error of the fused image's spatial frequency"

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def compute(self, x: GreyTriple) -> torch.Tensor:
        mn = x.f.shape[-1] * x.f.shape[-2]
        weights = (1.0, 1.0, 1 / math.sqrt(2.0), 1 / math.sqrt(2.0))
        sf_f = sum(w * _flat(d * d).sum(1) for w, d in zip(weights, _directional_diffs(x.f))) / mn
        ref = [torch.maximum(da.abs(), db.abs()) for da, db in zip(_directional_diffs(x.a), _directional_diffs(x.b))]
        sf_r = sum(w * _flat(d * d).sum(1) for w, d in zip(weights, ref)) / mn
        sf_f, sf_r = torch.sqrt(sf_f), torch.sqrt(sf_r)
        return (sf_f - sf_r).abs() / sf_r
