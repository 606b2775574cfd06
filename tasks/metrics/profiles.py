"""Scoring conventions as data.

A profile is a grey conversion plus per-metric options; ``create_metric(name, profile=...)`` merges them
(explicit keyword options win). ``default`` is the convention of the spec (section 5); ``cddfuse`` and
``ivif_zoo`` reproduce the two Python reference implementations number for number:

* ``cddfuse``: Zhaozixiang1228/MMIF-CDDFuse ``utils/Evaluator.py`` as ``test_IVF.py`` calls it (the code
  behind most published IVIF tables): OpenCV float32 BGR->grey then ``np.round``; MI in nats (sklearn);
  MSE on 0..255; PSNR with peak max(F); SSIM = skimage's 7x7 uniform window with data_range 2, in float32.
* ``ivif_zoo``: RollingPlain/IVIF_ZOO ``Metric/eval_torch.py`` (the TPAMI survey's code): PIL ``convert('L')``;
  EN with log2(p + 1e-7); MI in bits; PSNR +48.13 dB; VIF with its off-centre zero-padded window (float32);
  SSIM / MS-SSIM on x255 data in float32; Nabf with zero weight for weak edges; its Qcb port.

* ``tang``: Linfeng-Tang/Evaluation-for-Image-Fusion ``analysis_Reference.m`` (the SeAFusion / PIAFusion /
  PSFusion line, MATLAB) as ``Evaluation_for_Single_Image.m`` calls it: MI in bits with ``Hab.m``'s uint8
  saturation, PSNR +48.13 dB, MSE on 0..1, AG over (M-1)(N-1), SSIM = mean of two MATLAB ``ssim`` values,
  its "MS_SSIM" (which is MEF-SSIM) and its Nabf call with the arguments in the wrong order (the infrared
  image scored as the fused one), its FMI_pixel (which is FMI on Sobel edge maps: sagebench's ``FMI_edge``),
  FMI_dct and FMI_w (with MATLAB's 102-tap ``dmey``).
* ``vifb``: xingchenzhang/VIFB ``compute_metrics.m`` (``metricsX(vis, ir, fused)``, MATLAB): MI in nats,
  VIFB's own PSNR and RMSE, SF over M*N, AG over (M-1)(N-1), Wang's SSIM (L = 255) summed, Qcb / Qcv, CE,
  EI with replicate padding.

Both MATLAB profiles convert colour with MATLAB's ``rgb2gray``; ``vifb`` scores a colour fused image one RGB
channel at a time as VIFB does (``colour="per_channel"``; its SF on the channels side by side), and, as its
code does, takes an unrounded rgb2gray of a colour visible image for PSNR, RMSE and Qabf (``quantize=False``).
``native`` lists the metrics the reference
code computes, ``names`` what the kit calls them; other metrics evaluated under a profile use the default
convention (with the profile's grey conversion), and results say so in their metadata. Broken reference
metrics (IVIF_ZOO's constant CE, its Qy with a window summing to 7) are not provided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagebench.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    gray: str = "bt601"
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    native: tuple[str, ...] | None = None  # None: every metric
    #: metric -> the name the reference kit prints (where it differs)
    names: dict[str, str] = field(default_factory=dict)
    #: metric -> a warning shown when the metric is computed under this profile (a kit's known defect)
    warnings: dict[str, str] = field(default_factory=dict)
    #: how a colour fused image is scored: ``"luminance"`` (grey conversion first) or ``"per_channel"``
    #: (VIFB: each metric on fused channel k against visible channel k and the IR, averaged over k)
    colour: str = "luminance"

    def kit_name(self, metric: str) -> str:
        """What the profile's reference code calls ``metric``."""
        return self.names.get(metric, metric)


PROFILES: dict[str, Profile] = {}


def register_profile(profile: Profile) -> Profile:
    PROFILES[profile.name] = profile
    return profile


register_profile(Profile(
    name="default",
    description="sagebench default conventions (spec section 5): luminance, bits, standard PSNR, LIVE VIF, "
                "CDD-style SSIM in float64",
    gray="bt601",
))

register_profile(Profile(
    name="cddfuse",
    description="MMIF-CDDFuse utils/Evaluator.py (test_IVF.py): MI in nats, MSE on 0..255, PSNR peak max(F), "
                "skimage SSIM (7x7, data_range 2, float32), OpenCV grey",
    gray="opencv",
    metrics={
        "MI": {"unit": "nats"},
        "MSE": {"scale": 255},
        "PSNR": {"variant": "cdd"},
        "SSIM": {"variant": "cdd", "precision": "float32"},
    },
    native=("EN", "SD", "SF", "AG", "MI", "MSE", "CC", "PSNR", "SCD", "VIF", "Qabf", "SSIM"),
))

register_profile(Profile(
    name="ivif_zoo",
    description="IVIF_ZOO Metric/eval_torch.py (TPAMI survey): PIL grey, MI in bits, PSNR +48.13 dB, shifted "
                "zero-padded VIF window, float32 SSIM/MS-SSIM with C~0, Nabf wt_min 0, ZOO Qcb",
    gray="pil",
    metrics={
        "EN": {"eps": 1e-7},
        "MI": {"unit": "bits"},
        "MSE": {"scale": 1},
        "PSNR": {"variant": "zoo_tang"},
        "VIF": {"variant": "zoo"},
        "Nabf": {"wt_min": 0.0},
        "SSIM": {"variant": "zoo", "precision": "float32"},
        "MS-SSIM": {"constants": "zoo", "precision": "float32"},
        "Qcb": {"variant": "zoo"},
    },
    native=("EN", "SD", "SF", "AG", "MI", "MSE", "CC", "PSNR", "SCD", "VIF", "Qabf", "Nabf", "SSIM", "MS-SSIM",
            "Qcb"),
))


register_profile(Profile(
    name="tang",
    description="Tang's Evaluation-for-Image-Fusion analysis_Reference.m (MATLAB): MI in bits (Hab.m saturation), "
                "PSNR +48.13 dB, MSE on 0..1, AG over (M-1)(N-1), SSIM mean of two MATLAB ssim, Nabf as called "
                "(IR in the fused slot)",
    gray="matlab",
    metrics={
        "MI": {"unit": "bits", "saturate": True},
        "MSE": {"scale": 1},
        "PSNR": {"variant": "zoo_tang"},
        "AG": {"divisor": "matlab"},
        "SSIM": {"variant": "tang"},
        "Nabf": {"call": "tang"},
        "FMI_w": {"filter": "matlab"},
    },
    native=("EN", "SF", "SD", "PSNR", "MSE", "MI", "VIF", "AG", "CC", "SCD", "Qabf", "Nabf", "SSIM", "MEF-SSIM",
            "FMI_edge", "FMI_dct", "FMI_w"),
    names={"MEF-SSIM": "MS_SSIM", "FMI_edge": "FMI_pixel"},
    warnings={"Nabf": "the tang profile reproduces analysis_Reference.m's Nabf call, which scores the infrared "
                      "image as the fused one (-24 % on SAGE outputs; pixel averaging ranks worst); use the "
                      "default profile's Nabf to compare artefacts"},
))

register_profile(Profile(
    name="vifb",
    description="VIFB compute_metrics.m (MATLAB, metricsX(vis, ir, fused)): MI in nats, VIFB PSNR/RMSE, SF over MN, "
                "AG over (M-1)(N-1), Wang SSIM (L=255) summed, Qcb, Qcv, CE, EI (replicate); colour per RGB channel",
    gray="matlab",
    colour="per_channel",
    metrics={
        "AG": {"divisor": "matlab"},
        "EI": {"padding": "replicate"},
        "MI": {"unit": "nats"},
        "PSNR": {"variant": "vifb", "quantize": False},
        "RMSE": {"variant": "vifb", "quantize": False},
        "SF": {"divisor": "vifb"},
        "SSIM": {"variant": "wang"},
        "Qcb": {"variant": "vifb"},
        "Qabf": {"quantize": False},
    },
    native=("AG", "CE", "EI", "EN", "MI", "PSNR", "Qabf", "Qcb", "Qcv", "RMSE", "SF", "SSIM", "SD"),
    names={"AG": "Avg_gradient", "CE": "Cross_entropy", "EI": "Edge_intensity", "EN": "Entropy", "MI": "Mutinf",
           "PSNR": "Psnr", "RMSE": "Rmse", "SF": "Spatial_frequency", "SSIM": "Ssim", "SD": "Variance"},
))


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ConfigError(f"unknown metric profile {name!r}; available: {', '.join(PROFILES)}")
    return PROFILES[name]


def list_profiles() -> list[str]:
    return list(PROFILES)


def kit_matrix_markdown(metrics: list[str] | None = None) -> str:
    """Markdown table: one row per metric, one column per reference-kit profile (every profile but
    ``default``), each cell the name that kit prints for it, or ``—`` where the kit lacks it (docs/metrics.md
    holds this table; a test keeps the two equal)."""
    from sagebench.tasks.metrics._core import ordered_names

    kits = [p for p in PROFILES.values() if p.name != "default"]
    names = metrics or list(ordered_names())
    lines = ["| metric | " + " | ".join(f"`{p.name}`" for p in kits) + " |",
             "|---|" + "---|" * len(kits)]
    for m in names:
        cells = [p.kit_name(m) if p.native is None or m in p.native else "\u2014" for p in kits]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
