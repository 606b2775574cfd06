"""EMMA (Zhao, Bai, Zhang, Zhang, Zhang, Xu, Lin, Timofte, Van Gool, "Equivariant Multi-Modality Image
Fusion", CVPR 2024), Zhaozixiang1228/MMIF-EMMA: the fusion network ``Ufuser``.

Our re-implementation of the published architecture: a four-level U-Net per source whose blocks are
Restormer-CNN blocks (a reflect-padded 3x3 embedding, a global branch, i.e. CDDFuse's Lite-Transformer base
block, beside a local branch of two residual blocks, merged by a 3x3 convolution), strided 3x3
downsampling, per-level fusion blocks on the concatenated source features, and a decoder of transposed
convolutions with skip connections ending in a 3x3 convolution and a sigmoid. Module names follow the
authors' ``Ufuser``, so the released ``model/EMMA.pth`` loads with ``strict=True``. Architecture parity with
the authors' module is tested on a seeded random state_dict; the released weights are not in ``../shared``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, minmax_stretch, require_size
from sagebench.fusion_models.zoo.cddfuse import BaseFeatureExtraction
from sagebench.weights import register_rows

#: The authors' checkpoint (no sha256 published: pinned and reported on first use; git blob id checked).
WEIGHTS = register_rows(
    ("emma", "https://github.com/Zhaozixiang1228/MMIF-EMMA/raw/main/model/EMMA.pth", "", 0, "emma/EMMA.pth",
     NO_LICENCE, "Zhaozixiang1228/MMIF-EMMA@9983ca2 model/EMMA.pth (Ufuser state_dict)",
     dict(redistributable=False, git_blob="46f382475767323b83f3f7f52dc2bed0ac6b7476")),
)

_CHANNELS = (8, 16, 32, 32)
_TILE = 32  # the test script's multiple: larger sizes are fused as four overlapping crops


def _conv3(cin: int, cout: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias, padding_mode="reflect")


class _ResBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv3(dim, dim, bias=True), nn.ReLU(), _conv3(dim, dim, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class _Local(nn.Module):
    def __init__(self, dim: int, blocks: int = 2) -> None:
        super().__init__()
        self.Extraction = nn.Sequential(*[_ResBlock(dim) for _ in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.Extraction(x)


class _RestormerCNNBlock(nn.Module):
    """3x3 embedding, global (Lite-Transformer) and local (residual) branches, 3x3 merge."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.embed = _conv3(cin, cout)
        self.GlobalFeature = BaseFeatureExtraction(cout, 8, pad_mode="reflect")
        self.LocalFeature = _Local(cout)
        self.FFN = _conv3(cout * 2, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        return self.FFN(torch.cat([self.GlobalFeature(x), self.LocalFeature(x)], 1))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.ReLU())


class EMMANet(nn.Module):
    """The bare ``Ufuser``: ``forward(ir, vis)`` on grey ``B x 1 x H x W`` in [0, 1] (H, W multiples of 8)
    -> sigmoid output ``B x 1 x H x W``."""

    def __init__(self) -> None:
        super().__init__()
        c = _CHANNELS
        for src in ("V", "I"):
            for k, (cin, cout) in enumerate(zip((1, *c[:-1]), c), 1):
                self.add_module(f"{src}_en_{k}", _RestormerCNNBlock(cin, cout))
        for k, ch in enumerate(c, 1):
            self.add_module(f"f_{k}", _RestormerCNNBlock(ch * 2, ch))
        for src in ("V", "I"):
            for k, ch in enumerate(c[:-1], 1):
                self.add_module(f"{src}_down{k}", _conv3(ch, ch, stride=2))
        self.up4, self.up3, self.up2 = _up(c[3], c[2]), _up(c[2], c[1]), _up(c[1], c[0])
        self.de_1 = _RestormerCNNBlock(c[0] * 2, c[0])
        self.de_2 = _RestormerCNNBlock(c[1] * 2, c[1])
        self.de_3 = _RestormerCNNBlock(c[2] * 2, c[2])
        self.de_4 = _RestormerCNNBlock(c[3], c[3])
        self.last = nn.Sequential(_conv3(c[0], 1, bias=True), nn.Sigmoid())

    def _encode(self, x: torch.Tensor, src: str) -> list[torch.Tensor]:
        feats = [getattr(self, f"{src}_en_1")(x)]
        for k in (1, 2, 3):
            feats.append(getattr(self, f"{src}_en_{k + 1}")(getattr(self, f"{src}_down{k}")(feats[-1])))
        return feats

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        fused = [getattr(self, f"f_{k}")(torch.cat([i, v], 1))
                 for k, (i, v) in enumerate(zip(self._encode(ir, "I"), self._encode(vis, "V")), 1)]
        out = self.up4(self.de_4(fused[3]))
        out = self.up3(self.de_3(torch.cat([out, fused[2]], 1)))
        out = self.up2(self.de_2(torch.cat([out, fused[1]], 1)))
        return self.last(self.de_1(torch.cat([out, fused[0]], 1)))


@FUSION_MODELS.register_module(name="emma")
class EMMA(FusionModel, EMMANet):
    """EMMA's fusion network, grey (IR with the visible luminance; chroma of a colour visible image restored).

    As the authors' ``test.py``: sources on [0, 1]; an image whose sides are multiples of 32 is fused whole;
    otherwise the four corner crops of the largest multiple-of-32 size are fused and pasted (top-left first,
    then the strips the others add); the result is min-max stretched to [0, 1] per image.

    Args:
        weights: manifest name (default ``"emma"``), checkpoint path, or ``None`` (random init).
    """

    pretrained_tags = {"official": {"weights": "emma"}}
    min_size = _TILE
    card = {
        "paper": "Equivariant Multi-Modality Image Fusion", "authors": "Zhao, Bai, Zhang, Zhang, Zhang, Xu, Lin, "
        "Timofte, Van Gool", "year": 2024, "venue": "CVPR", "code": "https://github.com/Zhaozixiang1228/MMIF-EMMA",
        "weights": "emma", "params": 1_517_657, "licence": "none stated upstream (not redistributed)",
        "input": "IR grey + visible grey (Y of YCrCb for colour input here; the official script reads OpenCV "
                 "grey), both on [0, 1]; at least 32 x 32",
        "output": "sigmoid; four overlapping multiple-of-32 crops where the size is not a multiple of 32; min-max "
                  "stretched to [0, 1] per image (test.py); written with sagebench's 8-bit rounding",
        "checked": "architecture: equal to the authors' Ufuser on a seeded random state_dict (tested); the "
                   "released weights are not in ../shared, so outputs are not compared",
    }

    def __init__(self, weights: str | os.PathLike | None = "emma") -> None:
        FusionModel.__init__(self)
        EMMANet.__init__(self)
        if weights is not None:
            self.load_weights(weights)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir, _TILE)
        h, w = ir.shape[-2:]
        h1, w1 = h - h % _TILE, w - w % _TILE
        if (h1, w1) == (h, w):
            out = EMMANet.forward(self, ir, gray)
        else:
            out = torch.zeros_like(ir)
            out[..., :h1, :w1] = EMMANet.forward(self, ir[..., :h1, :w1], gray[..., :h1, :w1])
            if w1 != w:
                part = EMMANet.forward(self, ir[..., :h1, -w1:], gray[..., :h1, -w1:])
                out[..., :h1, w1:] = part[..., w1 - (w - w1):]
            if h1 != h:
                part = EMMANet.forward(self, ir[..., -h1:, :w1], gray[..., -h1:, :w1])
                out[..., h1:, :w1] = part[..., h1 - (h - h1):, :]
            if h1 != h and w1 != w:
                part = EMMANet.forward(self, ir[..., -h1:, -w1:], gray[..., -h1:, -w1:])
                out[..., h1:, w1:] = part[..., h1 - (h - h1):, w1 - (w - w1):]
        return minmax_stretch(out)
