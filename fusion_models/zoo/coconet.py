"""CoCoNet (Liu, Lin, Wu, Zhong, Liu, Fan, Luo, "CoCoNet: Coupled Contrastive Learning Network with
Multi-level Feature Ensemble for Multi-modality Image Fusion", IJCV 2023), runjia0124/CoCoNet.

Our re-implementation of the published architecture ``Unet_resize_conv``: a four-level U-Net on the two
sources stacked as channels (3x3 convolutions, LeakyReLU 0.2 then BatchNorm, 2x2 max pooling), beside a
grey-input VGG-19 front end (its first three stages, one extra max pooling after the first convolution) run
on each source; at the three deepest levels the U-Net and both VGG features pass one shared channel-attention
module per level (DANet's CAM with 3x3 projections) and are merged by a 3x3 convolution; bilinear x2
upsampling with skip connections, a 1x1 output convolution and tanh. Module names follow the authors' module,
so the released ``logs/latest.pth`` (``{'state_dict': ...}``) loads with ``strict=True``. Architecture parity
with the authors' module is tested on a seeded random state_dict; the released weights are not in
``../shared``.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import require_size
from sagebench.weights import register_rows

#: The authors' checkpoint (MIT; no sha256 published: pinned and reported on first use; git blob id checked).
WEIGHTS = register_rows(
    ("coconet", "https://github.com/runjia0124/CoCoNet/raw/main/logs/latest.pth", "", 0, "coconet/latest.pth",
     "MIT (Copyright (c) 2022 Runjia Lin)", "runjia0124/CoCoNet@fae29b4 logs/latest.pth ({'state_dict': ...})",
     dict(git_blob="8164c356a99207de3c5c973a64dd472621c44e17")),
)

_MULTIPLE = 16  # utils.pad_tensor: reflect-pad to multiples of 16 (left/top get the smaller half)
_MAX_WIDTH = 2200  # the release average-pools wider inputs and then fails; not supported here


class _CAM(nn.Module):
    """Channel attention (DANet CAM, 3x3 projections): ``gamma * softmax(max - q k^T) v + v``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.conv_1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv_2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv_3 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = (conv(x).view(b, c, h * w) for conv in (self.conv_1, self.conv_2, self.conv_3))
        energy = q @ k.transpose(1, 2)
        attn = torch.softmax(energy.amax(-1, keepdim=True) - energy, -1)
        return self.gamma * (attn @ v).view(b, c, h, w) + v.view(b, c, h, w)


def _vgg_stage(layers: dict[int, nn.Module]) -> nn.Sequential:
    seq = nn.Sequential()
    for idx, layer in layers.items():
        seq.add_module(str(idx), layer)
    return seq


class _VGGFront(nn.Module):
    """The first three VGG-19 stages on one grey channel (keys ``sliceN.<index>`` as the release)."""

    def __init__(self) -> None:
        super().__init__()
        relu = nn.ReLU
        pool = nn.MaxPool2d
        self.slice1 = _vgg_stage({0: nn.Conv2d(1, 64, 3, padding=1), 1: relu(), 2: pool(2, 2),
                                  3: nn.Conv2d(64, 64, 3, padding=1), 4: relu()})
        self.slice2 = _vgg_stage({5: pool(2, 2), 6: nn.Conv2d(64, 128, 3, padding=1), 7: relu(),
                                  8: nn.Conv2d(128, 128, 3, padding=1), 9: relu()})
        self.slice3 = _vgg_stage({10: pool(2, 2), 11: nn.Conv2d(128, 256, 3, padding=1), 12: relu(),
                                  13: nn.Conv2d(256, 256, 3, padding=1), 14: relu(),
                                  15: nn.Conv2d(256, 256, 3, padding=1), 16: relu(),
                                  17: nn.Conv2d(256, 256, 3, padding=1), 18: relu()})

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self.slice1(x)
        b = self.slice2(a)
        return a, b, self.slice3(b)


class CoCoNetNet(nn.Module):
    """The bare ``Unet_resize_conv``: ``forward(a, b)`` with the release's argument positions (its test script
    passes the visible image first, the infrared second), grey on 0..255, sides multiples of 16 -> tanh
    output ``B x 1 x H x W`` in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        for ch in (32, 64, 128, 256):
            self.add_module(f"se_{ch}", _CAM(ch))
        self.vgg19 = _VGGFront()
        for name, cin, cout in (("1_1", 2, 32), ("1_2", 32, 32), ("2_1", 32, 64), ("2_2", 64, 64),
                                ("3_1", 64, 128), ("3_2", 128, 128), ("4_1", 128, 256), ("4_2", 256, 256),
                                ("7_1", 256, 128), ("7_2", 128, 128), ("8_1", 128, 64), ("8_2", 64, 64),
                                ("9_1", 64, 32), ("9_2", 32, 32)):
            self.add_module(f"conv{name}", nn.Conv2d(cin, cout, 3, padding=1))
            if name != "9_2":
                self.add_module(f"bn{name}", nn.BatchNorm2d(cout))
        self.deconv4 = nn.Conv2d(256 * 3, 256, 3, padding=1)
        self.deconv6 = nn.Conv2d(256, 128, 3, padding=1)
        self.att_deconv7 = nn.Conv2d(128 * 3, 128, 3, padding=1)
        self.deconv7 = nn.Conv2d(128, 64, 3, padding=1)
        self.att_deconv8 = nn.Conv2d(64 * 3, 64, 3, padding=1)
        self.deconv8 = nn.Conv2d(64, 32, 3, padding=1)
        self.att_deconv9 = nn.Conv2d(32 * 3, 32, 3, padding=1)  # in the release's state_dict, unused
        self.conv10 = nn.Conv2d(32, 1, 1)

    def _block(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """conv -> LeakyReLU(0.2) -> BatchNorm (the release's order)."""
        return getattr(self, f"bn{name}")(F.leaky_relu(getattr(self, f"conv{name}")(x), 0.2))

    def _ensemble(self, cam: _CAM, merge: nn.Conv2d, *feats: torch.Tensor) -> torch.Tensor:
        return merge(torch.cat([cam(f) for f in feats], 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        b2, b3, b4 = self.vgg19(b)
        a2, a3, a4 = self.vgg19(a)
        conv1 = self._block("1_2", self._block("1_1", torch.cat([a, b], 1)))
        conv2 = self._block("2_2", self._block("2_1", F.max_pool2d(conv1, 2)))
        conv3 = self._block("3_2", self._block("3_1", F.max_pool2d(conv2, 2)))
        x = self._block("4_1", F.max_pool2d(conv3, 2))
        conv4 = self._block("4_2", self._ensemble(self.se_256, self.deconv4, x, b4, a4))
        up = F.interpolate(conv4, scale_factor=2, mode="bilinear", align_corners=False)
        att = self._ensemble(self.se_128, self.att_deconv7, conv3, b3, a3)
        conv7 = self._block("7_2", self._block("7_1", torch.cat([self.deconv6(up), att], 1)))
        up = F.interpolate(conv7, scale_factor=2, mode="bilinear", align_corners=False)
        att = self._ensemble(self.se_64, self.att_deconv8, conv2, b2, a2)
        conv8 = self._block("8_2", self._block("8_1", torch.cat([self.deconv7(up), att], 1)))
        up = F.interpolate(conv8, scale_factor=2, mode="bilinear", align_corners=False)
        x = self._block("9_1", torch.cat([self.deconv8(up), conv1], 1))
        return torch.tanh(self.conv10(F.leaky_relu(self.conv9_2(x), 0.2)))


def _pad16(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    h, w = x.shape[-2:]
    dh, dw = (-h) % _MULTIPLE, (-w) % _MULTIPLE
    pads = (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)
    return (F.pad(x, pads, mode="reflect") if dh or dw else x), pads


@FUSION_MODELS.register_module(name="coconet")
class CoCoNet(FusionModel, CoCoNetNet):
    """CoCoNet (the released TNO model), grey.

    As the authors' ``main.py --test``: both sources on 0..255 (imageio float, not divided), the visible image
    as the network's first argument; each input reflect-padded to multiples of 16 (the smaller half left /
    top) and the output cropped back; ``tanh * 127.5 + 127.5`` rounded to 8 bits (``cv2.imwrite``).

    Args:
        weights: manifest name (default ``"coconet"``), checkpoint path, or ``None`` (random init).
    """

    pretrained_tags = {"official": {"weights": "coconet"}}
    min_size = 16
    card = {
        "paper": "CoCoNet: Coupled Contrastive Learning Network with Multi-level Feature Ensemble for "
                 "Multi-modality Image Fusion", "authors": "Liu, Lin, Wu, Zhong, Liu, Fan, Luo", "year": 2023,
        "venue": "International Journal of Computer Vision", "code": "https://github.com/runjia0124/CoCoNet",
        "weights": "coconet", "params": 9_169_605, "licence": "MIT",
        "input": "IR grey + visible grey on 0..255 (Y of YCrCb for colour input here; the release takes channel "
                 "0, i.e. R, of a colour visible image); padded to multiples of 16; width at most 2200",
        "output": "tanh * 127.5 + 127.5, rounded to uint8 (cv2.imwrite)",
        "checked": "architecture: equal to the authors' Unet_resize_conv on a seeded random state_dict (tested); "
                   "the released weights are not in ../shared, so outputs are not compared",
    }

    def __init__(self, weights: str | os.PathLike | None = "coconet") -> None:
        FusionModel.__init__(self)
        CoCoNetNet.__init__(self)
        if weights is not None:
            self.load_weights(weights, key="state_dict")

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir, self.min_size)
        if ir.shape[-1] > _MAX_WIDTH:
            raise ValueError(f"CoCoNet: images wider than {_MAX_WIDTH} px are not supported (the release "
                             f"average-pools them and then fails), got width {ir.shape[-1]}")
        (v, pads), (i, _) = _pad16(gray * 255.0), _pad16(ir * 255.0)
        out = CoCoNetNet.forward(self, v, i)
        h, w = out.shape[-2:]
        out = out[..., pads[2]:h - pads[3], pads[0]:w - pads[1]]
        return out * 0.5 + 0.5
