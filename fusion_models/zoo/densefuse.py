"""DenseFuse (Li & Wu, "DenseFuse: A Fusion Approach to Infrared and Visible Images", IEEE TIP 2019),
PyTorch port released by the first author (hli1221/densefuse-pytorch), grey and RGB models.

Re-implemented from the architecture description in the project's zoo notes; module names follow the
released state_dicts so that they load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

from sagebench.colour import rgb_to_gray
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, floor_8bit, require_size
from sagebench.weights import register_rows

#: The authors' released checkpoints: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("densefuse_gray", "https://github.com/hli1221/densefuse-pytorch/raw/master/models/densefuse_gray.model",
     "b34cf3650f04161b31ac2467decfeedf7eba39165b7618f846e0f298ecd2ac65", 300_413, "densefuse/densefuse_gray.model",
     NO_LICENCE, "hli1221/densefuse-pytorch@4394b63 models/densefuse_gray.model", dict(redistributable=False)),
    ("densefuse_rgb", "https://github.com/hli1221/densefuse-pytorch/raw/master/models/densefuse_rgb.model",
     "d1829f47c0ff02ecfc294907655384eebc911a00deb89b91e354ae47c8728ea5", 302_727, "densefuse/densefuse_rgb.model",
     NO_LICENCE, "hli1221/densefuse-pytorch@4394b63 models/densefuse_rgb.model", dict(redistributable=False)),
)


class _ConvLayer(nn.Module):
    """Reflection pad 1 -> 3x3 conv (padding 0) -> ReLU. (The release's "no ReLU on the last layer"
    flag is never set, so every layer has its ReLU, the output layer included.)"""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(1)
        self.conv2d = nn.Conv2d(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2d(self.reflection_pad(x)))


class _DenseConv(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.dense_conv = _ConvLayer(cin, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.dense_conv(x)], dim=1)


class _DenseBlock(nn.Module):
    def __init__(self, cin: int, growth: int = 16, n: int = 3) -> None:
        super().__init__()
        self.denseblock = nn.Sequential(*[_DenseConv(cin + i * growth, growth) for i in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.denseblock(x)


class DenseFuseNet(nn.Module):
    """Bare network on images in the **[0, 255]** range: ``encode(x) -> B x 64 x H x W``,
    ``decode(features) -> B x C x H x W`` (ReLU output, >= 0). ``channels`` 1 (grey) or 3 (RGB)."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.conv1 = _ConvLayer(channels, 16)
        self.DB1 = _DenseBlock(16)
        self.conv2 = _ConvLayer(64, 64)
        self.conv3 = _ConvLayer(64, 32)
        self.conv4 = _ConvLayer(32, 16)
        self.conv5 = _ConvLayer(16, channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.DB1(self.conv1(x))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return self.conv5(self.conv4(self.conv3(self.conv2(f))))

    def forward(self, ir: torch.Tensor, vis: torch.Tensor, strategy: str = "addition", l1_radius: int = 1
                ) -> torch.Tensor:
        """Decode the fused encodings. ``strategy="addition"``: their mean (the PyTorch release's rule);
        ``"l1_norm"``: the paper's rule (see :func:`l1_norm_fusion`)."""
        b = ir.shape[0]
        f = self.encode(torch.cat([ir, vis], dim=0))
        if strategy == "l1_norm":
            return self.decode(l1_norm_fusion(f[:b], f[b:], l1_radius))
        return self.decode((f[:b] + f[b:]) / 2)


def l1_norm_fusion(fa: torch.Tensor, fb: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """DenseFuse's l1-norm strategy (Li & Wu 2019, Sec. III-C): activity ``C = ||phi(x, y)||_1`` over the
    channels, averaged over a ``(2r+1) x (2r+1)`` block (the paper: r = 1; at the border over the pixels
    inside the image; the authors' TensorFlow ``fusion_l1norm.py`` uses no block, i.e. r = 0), weights
    ``C_a / (C_a + C_b)`` (1/2 where both are 0), fused features ``w_a phi_a + w_b phi_b``."""
    ca, cb = fa.abs().sum(1, keepdim=True), fb.abs().sum(1, keepdim=True)
    if radius > 0:
        k = 2 * radius + 1
        ca = torch.nn.functional.avg_pool2d(ca, k, 1, radius, count_include_pad=False)
        cb = torch.nn.functional.avg_pool2d(cb, k, 1, radius, count_include_pad=False)
    tot = ca + cb
    wa = torch.where(tot > 0, ca / torch.where(tot > 0, tot, torch.ones_like(tot)), torch.full_like(tot, 0.5))
    return wa * fa + (1 - wa) * fb


_CARD = {
    "paper": "DenseFuse: A Fusion Approach to Infrared and Visible Images",
    "authors": "Li, Wu",
    "year": 2019, "venue": "IEEE Transactions on Image Processing",
    "code": "https://github.com/hli1221/densefuse-pytorch (the author's PyTorch port; the paper's TensorFlow "
            "weights are a different model)",
    "licence": "none stated upstream (not redistributed)",
    "output": "ReLU output clamped to [0, 255] and truncated to uint8; fusion: mean of the two encodings "
              "(the PyTorch release's 'addition'; close to pixel averaging) or, with strategy='l1_norm' "
              "(tag densefuse.l1), the paper's l1-norm weighting that published DenseFuse numbers use",
    "checked": "NO parity check possible: no fused images made with these PyTorch weights are published. "
               "Tested: the release loads with strict=True and fusing a real pair gives an image in range, "
               "correlated with both inputs",
}


STRATEGIES = ("addition", "l1_norm")


class _DenseFuseBase(FusionModel, DenseFuseNet):
    channels: int = 1

    def __init__(self, weights: str | None, official_8bit: bool = True, strategy: str = "addition",
                 l1_radius: int = 1) -> None:
        FusionModel.__init__(self)
        DenseFuseNet.__init__(self, self.channels)
        if strategy not in STRATEGIES:
            from sagebench.errors import ConfigError

            raise ConfigError(f"{type(self).__name__}: strategy must be one of {', '.join(STRATEGIES)}, "
                              f"got {strategy!r}")
        self.official_8bit, self.strategy, self.l1_radius = official_8bit, strategy, int(l1_radius)
        if weights is not None:
            self.load_weights(weights)

    def _fuse255(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        out = DenseFuseNet.forward(self, ir * 255.0, vis * 255.0, self.strategy, self.l1_radius) / 255.0
        return floor_8bit(out) if self.official_8bit else out


@FUSION_MODELS.register_module(name="densefuse")
class DenseFuse(_DenseFuseBase):
    """DenseFuse grey model (``densefuse_gray.model``): IR with visible luminance (Y of YCrCb for a
    colour visible image, chroma restored), inputs scaled to [0, 255] as the official code.

    Args:
        weights: manifest name (default ``"densefuse_gray"``), checkpoint path, or ``None`` (random init).
        official_8bit: truncate the output to the 8-bit grid as the official code (default True).
        strategy: ``"addition"`` (default, the PyTorch release) or ``"l1_norm"`` (the paper's rule).
        l1_radius: the l1-norm activity block radius r (default 1, the paper's; 0 = the TensorFlow code's).
    """

    pretrained_tags = {"official": {"weights": "densefuse_gray"},
                       "l1": {"weights": "densefuse_gray", "strategy": "l1_norm"}}

    min_size = 2  # reflection padding and per-image statistics

    channels = 1
    card = {**_CARD, "weights": "densefuse_gray", "params": 74_193,
            "input": "IR grey + visible grey (Y of YCrCb for colour input here), range [0, 255], no normalisation"}

    def __init__(self, weights: str | None = "densefuse_gray", official_8bit: bool = True,
                 strategy: str = "addition", l1_radius: int = 1) -> None:
        super().__init__(weights, official_8bit, strategy, l1_radius)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return self._fuse255(ir, gray)


@FUSION_MODELS.register_module(name="densefuse_rgb")
class DenseFuseRGB(_DenseFuseBase):
    """DenseFuse RGB model (``densefuse_rgb.model``): 3-channel IR (grey replicated) and RGB visible,
    range [0, 255], RGB output. A grey visible image is replicated and the output converted back to grey.

    Args:
        weights: manifest name (default ``"densefuse_rgb"``), checkpoint path, or ``None`` (random init).
        official_8bit: truncate the output to the 8-bit grid as the official code (default True).
        strategy, l1_radius: as :class:`DenseFuse`.
    """

    pretrained_tags = {"official": {"weights": "densefuse_rgb"},
                       "l1": {"weights": "densefuse_rgb", "strategy": "l1_norm"}}

    colour = "native"
    channels = 3
    card = {**_CARD, "weights": "densefuse_rgb", "params": 74_771,
            "input": "IR replicated to 3 channels + RGB visible, range [0, 255], no normalisation; RGB output"}

    def __init__(self, weights: str | None = "densefuse_rgb", official_8bit: bool = True,
                 strategy: str = "addition", l1_radius: int = 1) -> None:
        super().__init__(weights, official_8bit, strategy, l1_radius)

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self._fuse255(ir.expand(-1, 3, -1, -1), rgb)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return rgb_to_gray(self.fuse_rgb(ir, gray.expand(-1, 3, -1, -1)), quantize=self.official_8bit)
