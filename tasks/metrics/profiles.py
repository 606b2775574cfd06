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

``native`` lists the metrics the reference code computes; other metrics evaluated under a profile use the
default convention (with the profile's grey conversion), and results say so in their metadata.
Broken reference metrics (IVIF_ZOO's constant CE, its Qy with a window summing to 7) are not provided.
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


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ConfigError(f"unknown metric profile {name!r}; available: {', '.join(PROFILES)}")
    return PROFILES[name]


def list_profiles() -> list[str]:
    return list(PROFILES)
