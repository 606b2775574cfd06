"""TarDAL, CVPR 2022 release (Liu, Fan, Huang, Wu, Liu, Zhong, Luo, "Target-aware Dual Adversarial
Learning and a Multi-scenario Multi-Modality Benchmark to Fuse Infrared and Visible for Object
Detection"): the generator (fusion network) with the three checkpoints of tag v1.0.0.

Re-implemented from the architecture description in the project's zoo notes; module names and
``nn.Sequential`` indices follow the released state_dict so that it loads with ``strict=True``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.colour import rgb_to_ycrcb, ycrcb_to_rgb
from sagebench.errors import ConfigError
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import floor_8bit, opencv_ycrcb_to_rgb_8bit, require_size
from sagebench.weights import register_rows

#: The authors' released checkpoints: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("tardal", "https://github.com/JinyuanLiu-CV/TarDAL/raw/v1.0.0/weights/tardal.pt",
     "e0fa61e25cffa9fb14ff17b47ea7ba237a6e8c6f37e1b9b115d63354ff0f13e1", 1_203_451, "tardal/tardal.pt",
     "GPL-3.0 (LICENSE on the main branch, added after the v1.0.0 tag that carries the file)",
     "JinyuanLiu-CV/TarDAL tag v1.0.0 (7b47244) weights/tardal.pt"),
    ("tardal_plus", "https://github.com/JinyuanLiu-CV/TarDAL/raw/v1.0.0/weights/tardal+.pt",
     "cff3756548b511e3e415616debc557cdc85b3bb19393ca158cac8d08f232897c", 1_201_819, "tardal/tardal+.pt",
     "GPL-3.0 (LICENSE on the main branch, added after the v1.0.0 tag that carries the file)",
     "JinyuanLiu-CV/TarDAL tag v1.0.0 (7b47244) weights/tardal+.pt", dict(aliases=("tardal+",))),
    ("tardal_plusplus", "https://github.com/JinyuanLiu-CV/TarDAL/raw/v1.0.0/weights/tardal++.pt",
     "7009d125e36db043d6918d9358e10c6dca7fdf2dd08ada09c5ecd294f45f98c5", 1_201_819, "tardal/tardal++.pt",
     "GPL-3.0 (LICENSE on the main branch, added after the v1.0.0 tag that carries the file)",
     "JinyuanLiu-CV/TarDAL tag v1.0.0 (7b47244) weights/tardal++.pt", dict(aliases=("tardal++",))),
)


BN_MODES = ("batch", "running")


class _BatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that, with ``batch_stats=True``, normalises with the statistics of the current input
    (mean and biased variance over batch, H, W) in any mode and never updates the running buffers."""

    batch_stats: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_stats:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return super().forward(x)


def _cbr(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), _BatchNorm(cout), nn.ReLU())


class TarDALNet(nn.Module):
    """Bare generator: ``forward(ir, vis_y) -> fused_y`` (``B x 1 x H x W`` in [0, 1]; output
    ``tanh``, not clipped). Width 32, dense depth 3; 297k parameters; stride-1 convolutions only."""

    def __init__(self, dim: int = 32, depth: int = 3) -> None:
        super().__init__()
        self.encoder = _cbr(2, dim)
        self.dense = nn.ModuleList(_cbr(dim * (i + 1), dim) for i in range(depth))
        width = dim * (depth + 1)
        self.fuse = nn.Sequential(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU()),
            _cbr(width, width // 2),
            _cbr(width // 2, width // 4),
            nn.Sequential(nn.Conv2d(width // 4, 1, 3, padding=1), nn.Tanh()),
        )

    def forward(self, ir: torch.Tensor, vis_y: torch.Tensor) -> torch.Tensor:
        x = self.encoder(torch.cat([ir, vis_y], dim=1))
        for block in self.dense:
            x = torch.cat([x, block(x)], dim=1)
        # ``fuse`` is the checkpoint's module name but also FusionModel.fuse(): go through _modules.
        return self._modules["fuse"](x)


class _TarDALBase(FusionModel, TarDALNet):
    """TarDAL generator with the official conventions (see the class docstrings of the registered names).

    Args:
        weights: manifest name, checkpoint path, or ``None`` (random init).
        bn_mode: ``"batch"`` - every BatchNorm uses the statistics of the image being fused (how the
            authors run ``tardal.pt``; one image at a time, no tiling); ``"running"`` - stored running
            statistics (eval mode, how ``tardal+.pt`` / ``tardal++.pt`` are run).
        official_8bit: emulate the official colour save: fused Y truncated to uint8, recombined with the
            visible Cr/Cb by OpenCV's 8-bit YCrCb -> RGB (default True).
    """

    min_size = 2  # reflection padding and per-image statistics

    colour = "native"
    quantize_colour = True
    default_weights: str = "tardal"
    default_bn_mode: str = "batch"

    def __init__(self, weights: str | None = None, bn_mode: str | None = None,
                 official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        TarDALNet.__init__(self)
        bn_mode = bn_mode or self.default_bn_mode
        if bn_mode not in BN_MODES:
            raise ConfigError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
        self.bn_mode, self.official_8bit = bn_mode, official_8bit
        for m in self.modules():
            if isinstance(m, _BatchNorm):
                m.batch_stats = bn_mode == "batch"
        if weights is not None:
            self.load_weights(weights)

    def configure(self, *args: Any, **kwargs: Any) -> FusionModel:
        fold = kwargs.get("fold_bn", args[3] if len(args) > 3 else False)
        if fold and self.bn_mode == "batch":
            raise ConfigError("TarDAL with bn_mode='batch' normalises with per-image statistics; its "
                              "BatchNorm layers cannot be folded (use bn_mode='running' or fold_bn=False)")
        return super().configure(*args, **kwargs)

    def _net(self, ir: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        if self.bn_mode == "batch":  # statistics of each image alone, whatever the batch size
            out = torch.cat([TarDALNet.forward(self, ir[i:i + 1], y[i:i + 1]) for i in range(ir.shape[0])])
        else:
            out = TarDALNet.forward(self, ir, y)
        return out.clamp(0.0, 1.0)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        # Official grey mode writes the float image with OpenCV (rounding): no truncation here.
        return self._net(ir, gray)

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        ycc = rgb_to_ycrcb(rgb, quantize=True)
        y = self._net(ir, ycc[:, :1])
        if self.official_8bit:
            return opencv_ycrcb_to_rgb_8bit(torch.cat([floor_8bit(y), ycc[:, 1:]], dim=1))
        return ycrcb_to_rgb(torch.cat([y, ycc[:, 1:]], dim=1))


_CARD = {
    "paper": "Target-aware Dual Adversarial Learning and a Multi-scenario Multi-Modality Benchmark to Fuse "
             "Infrared and Visible for Object Detection",
    "authors": "Liu, Fan, Huang, Wu, Liu, Zhong, Luo",
    "year": 2022, "venue": "CVPR",
    "code": "https://github.com/JinyuanLiu-CV/TarDAL (tag v1.0.0)",
    "licence": "GPL-3.0 (LICENSE added after the v1.0.0 tag)",
    "params": 296_577,
    "input": "IR grey (OpenCV) + visible grey from OpenCV 8-bit BGR->GRAY, [0, 1]; forward(cat(ir, vis)); "
             "no normalisation",
    "output": "tanh clipped to [0, 1]; colour: Y truncated to uint8 + visible Cr/Cb (OpenCV 8-bit YCrCb), "
              "OpenCV 8-bit YCrCb->RGB; grey visible: float output (OpenCV rounding on write)",
}


@FUSION_MODELS.register_module(name="tardal")
class TarDAL(_TarDALBase):
    """TarDAL with ``tardal.pt``, BatchNorm on per-image statistics (as the official tutorial and
    ``fuse.py`` run it; the stored running statistics of this file are not usable)."""

    #: tardal.official (tardal.pt), tardal.plus (tardal+.pt), tardal.plusplus (tardal++.pt): each with its conventions
    pretrained_tags = {"official": {"weights": "tardal"}, "plus": {"type": "tardal_plus"},
                       "plusplus": {"type": "tardal_plusplus"}}

    default_weights = "tardal"
    default_bn_mode = "batch"
    card = {**_CARD, "weights": "tardal",
            "quirks": "BatchNorm in training mode: per-image mean / biased variance, so the output of one "
                      "image depends on the whole image (no tiling); batches are fused image by image",
            "checked": "parity with the authors' tutorial output M3FD_00471 (colour): max 1 grey level (tested)"}

    def __init__(self, weights: str | None = "tardal", bn_mode: str | None = None,
                 official_8bit: bool = True) -> None:
        super().__init__(weights, bn_mode, official_8bit)


@FUSION_MODELS.register_module(name="tardal_plus")
class TarDALPlus(_TarDALBase):
    """TarDAL with ``tardal+.pt``, BatchNorm with running statistics (eval mode, as the tutorial)."""

    default_weights = "tardal_plus"
    default_bn_mode = "running"
    card = {**_CARD, "weights": "tardal_plus",
            "checked": "strict load; no published outputs of this checkpoint exist, parity unchecked"}

    def __init__(self, weights: str | None = "tardal_plus", bn_mode: str | None = None,
                 official_8bit: bool = True) -> None:
        super().__init__(weights, bn_mode, official_8bit)


@FUSION_MODELS.register_module(name="tardal_plusplus")
class TarDALPlusPlus(_TarDALBase):
    """TarDAL with ``tardal++.pt``, BatchNorm with running statistics (eval mode, as VIF-Benchmark)."""

    default_weights = "tardal_plusplus"
    default_bn_mode = "running"
    card = {**_CARD, "weights": "tardal_plusplus",
            "checked": "strict load; no published outputs of this checkpoint exist, parity unchecked"}

    def __init__(self, weights: str | None = "tardal_plusplus", bn_mode: str | None = None,
                 official_8bit: bool = True) -> None:
        super().__init__(weights, bn_mode, official_8bit)
