"""SeAFusion (Tang, Yuan, Ma, "Image fusion in the loop of high-level vision tasks: A semantic-aware
real-time infrared and visible image fusion network", Information Fusion 2022).

Re-implemented from the architecture description in the project's zoo notes; module names follow the
released state_dict so that it loads with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.colour import rgb_to_ycrcb, ycrcb_to_rgb
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import floor_8bit
from sagebench.weights import register_rows

#: The authors' released checkpoints: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("seafusion", "https://github.com/Linfeng-Tang/VIF-Benchmark/raw/main/Checkpoint/SeAFusion/SeAFusion.pth",
     "8d65a7f9a50f36349803368cf9920f40420776995e7e8cc8a56d8d30e499431d", 682_043, "seafusion/SeAFusion.pth",
     "MIT (VIF-Benchmark, (c) 2023 Linfeng Tang, SeAFusion's first author); "
     "the SeAFusion repository itself has no LICENSE file",
     "Linfeng-Tang/VIF-Benchmark@23f2e51 Checkpoint/SeAFusion/SeAFusion.pth",
     dict(notes="byte identity with Linfeng-Tang/SeAFusion model/Fusion/fusionmodel_final.pth not "
                "verified; reproduces the first author's published TNO results")),
)


class _ConvLeaky(nn.Module):
    """3x3 conv (zero pad 1) -> LeakyReLU(0.2). ``with_bn`` adds a BatchNorm that is stored in the
    release but never applied (as in the official forward)."""

    def __init__(self, cin: int, cout: int, with_bn: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        if with_bn:
            self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x), 0.2)


class _Conv1x1(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _Sobel(nn.Module):
    """|depthwise conv_x| + |depthwise conv_y| (kernels Sobel-initialised, trained, loaded)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.convx = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.convy = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        with torch.no_grad():
            self.convx.weight.copy_(sobel.expand(c, 1, 3, 3))
            self.convy.weight.copy_(sobel.t().expand(c, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convx(x).abs() + self.convy(x).abs()


class _Dense(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = _ConvLeaky(c, c)
        self.conv2 = _ConvLeaky(2 * c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, self.conv1(x)], dim=1)
        return torch.cat([x, self.conv2(x)], dim=1)


class _RGBD(nn.Module):
    """Residual gradient dense block: dense path + Sobel gradient path, LeakyReLU(0.1) of the sum."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.dense = _Dense(cin)
        self.convdown = _Conv1x1(3 * cin, cout)
        self.sobelconv = _Sobel(cin)
        self.convup = _Conv1x1(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.convdown(self.dense(x)) + self.convup(self.sobelconv(x)), 0.1)


class SeAFusionNet(nn.Module):
    """Bare network: ``forward(vis_y, ir) -> fused_y``, all ``B x 1 x H x W`` in [0, 1]; output
    ``tanh(x)/2 + 0.5``. 167k parameters; stride-1 convolutions only (any H, W)."""

    def __init__(self) -> None:
        super().__init__()
        self.vis_conv = _ConvLeaky(1, 16)
        self.vis_rgbd1 = _RGBD(16, 32)
        self.vis_rgbd2 = _RGBD(32, 48)
        self.inf_conv = _ConvLeaky(1, 16)
        self.inf_rgbd1 = _RGBD(16, 32)
        self.inf_rgbd2 = _RGBD(32, 48)
        self.decode4 = _ConvLeaky(96, 64, with_bn=True)
        self.decode3 = _ConvLeaky(64, 32, with_bn=True)
        self.decode2 = _ConvLeaky(32, 16, with_bn=True)
        self.decode1 = _ConvLeaky(16, 1, with_bn=True)  # tanh head; its forward is not used

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        v = self.vis_rgbd2(self.vis_rgbd1(self.vis_conv(vis_y)))
        i = self.inf_rgbd2(self.inf_rgbd1(self.inf_conv(ir)))
        x = self.decode2(self.decode3(self.decode4(torch.cat([v, i], dim=1))))
        return torch.tanh(self.decode1.conv(x)) / 2 + 0.5


def minmax_stretch(x: torch.Tensor) -> torch.Tensor:
    """Per-image min-max stretch to [0, 1] over all channels (SeAFusion's save step)."""
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo).clamp(min=1e-12)


@FUSION_MODELS.register_module(name="seafusion")
class SeAFusion(FusionModel, SeAFusionNet):
    """SeAFusion with the authors' conventions.

    The visible luminance (float BT.601, no OpenCV quantisation) and the IR go through the network;
    chroma is restored with the float YCrCb inverse, clamped, then the RGB image is **min-max stretched
    per image** over all three channels (the official save step) and, with ``official_8bit``,
    truncated to 8 bit as the authors' ``uint8(x * 255)``.

    Args:
        weights: manifest name (default ``"seafusion"``), checkpoint path, or ``None`` (random init).
        stretch: apply the official min-max stretch (default True).
        official_8bit: truncate the output to the 8-bit grid like the official code (default True).
    """

    pretrained_tags = {"official": {"weights": "seafusion"}}

    colour = "native"
    card = {
        "paper": "Image fusion in the loop of high-level vision tasks: A semantic-aware real-time infrared "
                 "and visible image fusion network",
        "authors": "Tang, Yuan, Ma",
        "year": 2022, "venue": "Information Fusion",
        "code": "https://github.com/Linfeng-Tang/SeAFusion",
        "licence": "MIT (VIF-Benchmark copy, (c) L. Tang; SeAFusion repo: none)",
        "weights": "seafusion",
        "params": 166_883,
        "input": "visible Y = 0.299R+0.587G+0.114B (float), IR grey, [0, 1]; forward(vis_y, ir); no normalisation",
        "output": "tanh/2+0.5 Y; chroma restored (float YCrCb), clamp, per-image min-max stretch over RGB, "
                  "truncated to uint8",
        "checked": "parity with the first author's SeAFusion_TNO 01-03 (Evaluation-for-Image-Fusion): "
                   "max 1 grey level (tested)",
        "quirks": "decode1-4 BatchNorms are stored but unused; Sobel kernels are trained and loaded",
    }

    def __init__(self, weights: str | None = "seafusion", stretch: bool = True, official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        SeAFusionNet.__init__(self)
        self.stretch, self.official_8bit = stretch, official_8bit
        if weights is not None:
            self.load_weights(weights)

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(0.0, 1.0)
        if self.stretch:
            x = minmax_stretch(x)
        return floor_8bit(x) if self.official_8bit else x

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return self._finish(SeAFusionNet.forward(self, gray, ir))

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        ycc = rgb_to_ycrcb(rgb).clamp(0.0, 1.0)
        y = SeAFusionNet.forward(self, ycc[:, :1], ir)
        return self._finish(ycrcb_to_rgb(torch.cat([y, ycc[:, 1:]], dim=1)))
