"""IFCNN (Zhang, Liu, Sun, Yan, Zhao, Zhang, "IFCNN: A general image fusion framework based on
convolutional neural network", Information Fusion 2020), the element-wise-maximum model IFCNN-MAX.

Re-implemented from the architecture description in the project's zoo notes (no torchvision needed);
module names follow the released state_dict so that it loads with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.colour import rgb_to_gray
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, floor_8bit
from sagebench.weights import register_rows

#: The authors' released checkpoints: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("ifcnn_max", "https://github.com/uzeful/IFCNN/raw/master/Code/snapshots/IFCNN-MAX.pth",
     "6022b44c88a2f0367ba9b08fcdf0d663745d9a966fca0ee1f41867797b6ff53f", 337_094, "ifcnn/IFCNN-MAX.pth", NO_LICENCE,
     "uzeful/IFCNN@8fe59c2 Code/snapshots/IFCNN-MAX.pth (same bytes in VIF-Benchmark Checkpoint/IFCNN)",
     dict(redistributable=False)),
)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMALISATIONS = ("none", "imagenet")
FUSE_RULES = ("max", "sum", "mean")


class _ConvBlock(nn.Module):
    """Replicate pad 1 -> 3x3 conv (no bias, padding 0) -> BatchNorm -> ReLU."""

    def __init__(self, c: int = 64) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))))


class IFCNNNet(nn.Module):
    """Bare network: ``forward(*images) -> fused`` for N >= 2 images ``B x 3 x H x W`` (3-channel
    output, no activation). conv1 (7x7, ResNet-101 stem weights, replicate pad 3) and conv2 run on each
    input with shared weights; features are fused element-wise (``rule``), then conv3, conv4 (1x1)."""

    def __init__(self, rule: str = "max") -> None:
        super().__init__()
        if rule not in FUSE_RULES:
            raise ValueError(f"rule must be one of {FUSE_RULES}, got {rule!r}")
        self.rule = rule
        self.conv1 = nn.Conv2d(3, 64, 7, bias=False)
        self.conv2 = _ConvBlock()
        self.conv3 = _ConvBlock()
        self.conv4 = nn.Conv2d(64, 3, 1)

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        n, b = len(images), images[0].shape[0]
        x = torch.cat(images, dim=0)
        f = self.conv2(self.conv1(F.pad(x, (3, 3, 3, 3), mode="replicate"))).unflatten(0, (n, b))
        fused = f.amax(0) if self.rule == "max" else f.sum(0) if self.rule == "sum" else f.mean(0)
        return self.conv4(self.conv3(fused))


@FUSION_MODELS.register_module(name="ifcnn_max")
class IFCNNMax(FusionModel, IFCNNNet):
    """IFCNN-MAX with the authors' infrared-visible ("IV") conventions by default.

    Both images enter as 3-channel RGB (grey replicated), scaled to [0, 1] with no normalisation
    (``normalize="none"``). The 3-channel output is clamped and, with ``official_8bit``, truncated to
    uint8. For a grey visible image the result is converted to grey with OpenCV's 8-bit RGB->GRAY (as
    the authors' IV results); for a colour visible image the colour output is returned.
    ``normalize="imagenet"`` gives the authors' multi-focus / VIFB convention (ImageNet mean/std on the
    inputs, de-normalised output).

    Args:
        weights: manifest name (default ``"ifcnn_max"``), checkpoint path, or ``None`` (random init).
        normalize: ``"none"`` (authors' IV setting) or ``"imagenet"``.
        official_8bit: truncate to the 8-bit grid as the official save step (default True).
    """

    pretrained_tags = {"official": {"weights": "ifcnn_max"}}

    colour = "native"
    card = {
        "paper": "IFCNN: A general image fusion framework based on convolutional neural network",
        "authors": "Zhang, Liu, Sun, Yan, Zhao, Zhang",
        "year": 2020, "venue": "Information Fusion",
        "code": "https://github.com/uzeful/IFCNN",
        "licence": "none stated upstream (not redistributed)",
        "weights": "ifcnn_max",
        "params": 83_587,
        "input": "IR and visible as 3-channel RGB (grey replicated), [0, 1], no normalisation (authors' IV "
                 "setting); normalize='imagenet' for the VIFB / multi-focus convention",
        "output": "3 channels, clamp, truncate to uint8; grey visible -> OpenCV 8-bit RGB->GRAY",
        "checked": "parity with the authors' Code/results/IFCNN-MAX-IV-{Camp,Gun,Road}.png: max 1 grey level "
                   "(tested). The older Results/IV images come from an earlier model and do not match",
        "quirks": "BN entries lack num_batches_tracked (strict load still succeeds); conv1 is ResNet-101's stem",
    }

    def __init__(self, weights: str | None = "ifcnn_max", normalize: str = "none",
                 official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        IFCNNNet.__init__(self, rule="max")
        if normalize not in NORMALISATIONS:
            raise ValueError(f"normalize must be one of {NORMALISATIONS}, got {normalize!r}")
        self.normalize, self.official_8bit = normalize, official_8bit
        if weights is not None:
            self.load_weights(weights)

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        ir3 = ir.expand(-1, 3, -1, -1)
        if self.normalize == "imagenet":
            mean = rgb.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
            std = rgb.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
            out = IFCNNNet.forward(self, (rgb - mean) / std, (ir3 - mean) / std) * std + mean
        else:
            out = IFCNNNet.forward(self, rgb, ir3)
        out = out.clamp(0.0, 1.0)
        return floor_8bit(out) if self.official_8bit else out

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return rgb_to_gray(self.fuse_rgb(ir, gray.expand(-1, 3, -1, -1)), quantize=self.official_8bit)
