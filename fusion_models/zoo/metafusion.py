"""MetaFusion (Zhao, Xie, Zhao, He, Lu, "MetaFusion: Infrared and Visible Image Fusion via Meta-Feature
Embedding from Object Detection", CVPR 2023), wdzhao123/MetaFusion: the fusion network ``FusionNet``
(``models/metafusion_net.py``, ``block_num=3`` as ``test.py``).

Our re-implementation of the published architecture: the infrared image and the RGB visible image
(4 channels) pass three fusion blocks (each two 3x3 convolutions, then two parallel 3x3 convolutions whose
outputs are concatenated; ReLU after each: 4 -> 128 -> 256 -> 256 channels) and a head of five 3x3
convolutions with ReLU and a 1x1 convolution with a sigmoid, giving two per-pixel weights. The fused
brightness is ``w_0 * ir + w_1 * V``, V the visible image's HSV value (``max(R, G, B)``); it replaces V, the
visible hue and saturation are kept. The authors' ``MetaConv2d`` keeps its kernels as buffers named
``weight`` / ``bias``; here they are ordinary convolutions with the same names, so the released
``weight/model_weight.pth`` loads with ``strict=True``. Architecture parity with the authors' module is
tested on a seeded random state_dict; the released weights are not in ``../shared``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE
from sagebench.weights import register_rows

#: The authors' checkpoint (no sha256 published: pinned and reported on first use; git blob id checked).
WEIGHTS = register_rows(
    ("metafusion", "https://github.com/wdzhao123/MetaFusion/raw/main/weight/model_weight.pth", "", 0,
     "metafusion/model_weight.pth", NO_LICENCE, "wdzhao123/MetaFusion@a8c5eaf weight/model_weight.pth (FusionNet "
     "state_dict)", dict(redistributable=False, git_blob="301c00c708c4d4bae34a5146684c659c6c5445f2")),
)

_BLOCKS = ((4, 64), (128, 128), (256, 128))  # (in, out) channels of the three fusion blocks (block_num=3)


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)


class _FusionBlock(nn.Module):
    """Two 3x3 convolutions, then two parallel 3x3 convolutions concatenated (``2 * out`` channels)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1_1, self.conv1_2 = _conv3(cin, cout), _conv3(cout, cout)
        self.conv1_0_00, self.conv1_0_01 = _conv3(cout, cout), _conv3(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1_2(torch.relu(self.conv1_1(x))))
        return torch.cat([torch.relu(self.conv1_0_00(x)), torch.relu(self.conv1_0_01(x))], 1)


class MetaFusionNet(nn.Module):
    """The bare ``FusionNet``: ``forward(x)`` on ``B x 4 x H x W`` (infrared, then visible R, G, B, all on
    [0, 1]) -> ``B x 2 x H x W`` fusion weights in (0, 1) (infrared, visible brightness)."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(*[_FusionBlock(cin, cout) for cin, cout in _BLOCKS])
        head: list[nn.Module] = []
        for cin, cout in ((256, 128), (128, 128), (128, 128), (128, 128), (128, 64)):
            head += [_conv3(cin, cout), nn.ReLU(inplace=True)]
        self.block2 = nn.Sequential(*head, nn.Conv2d(64, 2, 1, 1, 0), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block2(self.block1(x))

    def fuse_brightness(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """test.py's fused brightness ``w_0 ir + w_1 V`` (``B x 1 x H x W``, not clipped) of IR
        ``B x 1 x H x W`` and RGB ``B x 3 x H x W`` on [0, 1]."""
        w = self.forward(torch.cat([ir, rgb], 1))
        return w[:, 0:1] * ir + w[:, 1:2] * rgb.amax(1, keepdim=True)


@FUSION_MODELS.register_module(name="metafusion")
class MetaFusion(FusionModel, MetaFusionNet):
    """MetaFusion's fusion network (colour natively: the fused brightness replaces the visible HSV value).

    As the authors' ``test.py`` on the brightness: weights from the infrared and RGB visible images on [0, 1],
    ``w_0 ir + w_1 V`` clipped to [0, 1]. The colour step is HSV's value replacement in floating point: each
    RGB channel scaled by ``V' / V`` (grey ``V'`` where V = 0), which keeps hue and saturation exactly; the
    official script goes through OpenCV's 8-bit HSV (hue in 2-degree steps). A grey visible image is used as
    R = G = B (its own brightness). Unlike the test script, the images are not resized to 512 x 384 first
    (the network is fully convolutional; the fused image keeps the sources' size).

    Args:
        weights: manifest name (default ``"metafusion"``), checkpoint path, or ``None`` (random init).
    """

    colour = "native"
    pretrained_tags = {"official": {"weights": "metafusion"}}
    card = {
        "paper": "MetaFusion: Infrared and Visible Image Fusion via Meta-Feature Embedding from Object Detection",
        "authors": "Zhao, Xie, Zhao, He, Lu", "year": 2023, "venue": "CVPR",
        "code": "https://github.com/wdzhao123/MetaFusion", "weights": "metafusion", "params": 2_252_994,
        "licence": "none stated upstream (not redistributed)",
        "input": "IR grey + visible RGB (the network sees both), both on [0, 1]; the visible HSV value is the "
                 "fused channel. The official test script first resizes every image to 512 x 384 (M3FD's size / 2); "
                 "this port fuses at the sources' size",
        "output": "w_ir * IR + w_vis * V clipped to [0, 1], put back as the HSV value in floating point (the script "
                  "uses OpenCV's 8-bit HSV); written with sagebench's 8-bit rounding",
        "checked": "architecture: equal to the authors' FusionNet (block_num=3) on a seeded random state_dict, up "
                   "to the fused brightness (tested); the released weights are not in ../shared, so outputs are "
                   "not compared",
    }

    def __init__(self, weights: str | os.PathLike | None = "metafusion") -> None:
        FusionModel.__init__(self)
        MetaFusionNet.__init__(self)
        if weights is not None:
            self.load_weights(weights)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return self.fuse_brightness(ir, gray.expand(-1, 3, -1, -1)).clamp(0.0, 1.0)

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        v = rgb.amax(1, keepdim=True)
        v_new = self.fuse_brightness(ir, rgb).clamp(0.0, 1.0)
        scaled = rgb * (v_new / torch.where(v > 0, v, torch.ones_like(v)))
        return torch.where(v > 0, scaled, v_new.expand_as(rgb))
