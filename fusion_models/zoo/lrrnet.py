"""LRRNet (Li, Xu, Wu, Lu & Kittler, "LRRNet: A Novel Representation Learning Guided Fusion Network for
Infrared and Visible Images", IEEE TPAMI 2023), released PyTorch weights (hli1221/imagefusion-LRRNet).

Our re-implementation of the published architecture (learned low-rank representation: two unrolled LISTA
encoders that split each source into low-rank and sparse features, a decoder that fuses the two parts);
module names follow the released state_dict so that it loads with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, require_size
from sagebench.weights import register_rows

#: The authors' released checkpoint: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("lrrnet", "https://github.com/hli1221/imagefusion-LRRNet/raw/main/model/"
     "final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model",
     "1de9dd8dee9b650ce69c74ea53e3b9a6b749222f1059a689aabf28f68ee63e29", 218_515,
     "lrrnet/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model", NO_LICENCE,
     "hli1221/imagefusion-LRRNet@e489fc3 model/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model",
     dict(redistributable=False)),
)

_EPS = 1e-5  # the release's utils.EPSILON (min-max normalisation of inputs and output)


class _ConvLayer(nn.Module):
    """Reflection padding ``k // 2`` then a ``k x k`` convolution (no activation)."""

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


def _soft_threshold(r: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``sign(r) max(|r| - lam, 0)`` with one threshold per channel (``lam``: ``1 x C``)."""
    return torch.sign(r) * torch.clamp(r.abs() - lam.view(1, -1, 1, 1), min=0)


class _LRRBlock(nn.Module):
    """One unrolled iteration: ``Z <- soft(lam_z Z + W_dt (x - W_d Z), lam)``."""

    def __init__(self, n: int, c: int) -> None:
        super().__init__()
        self.conv_Wdz = _ConvLayer(n, c)
        self.conv_Wdtz = _ConvLayer(c, n)

    def forward(self, x: torch.Tensor, z: torch.Tensor, lam: torch.Tensor, lam_z: torch.Tensor) -> torch.Tensor:
        return _soft_threshold(lam_z * z + self.conv_Wdtz(x - self.conv_Wdz(z)), lam)


class _LowRankSparse(nn.Module):
    """LISTA encoder: ``x -> (L, S)``, ``B x n x H x W`` each (the first and second half of Z)."""

    def __init__(self, n: int = 128, channel: int = 1, num_block: int = 4) -> None:
        super().__init__()
        self.n, self.num_block = n, num_block
        self.conv_W00 = _ConvLayer(channel, 2 * n)
        self.lamj = nn.Parameter(torch.zeros(1, 2 * n))
        self.lamz = nn.Parameter(torch.zeros(1, 1))
        for i in range(num_block):
            self.add_module(f"lrrblock{i}", _LRRBlock(2 * n, channel))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = _soft_threshold(self.conv_W00(x), self.lamj)
        for i in range(self.num_block):
            z = getattr(self, f"lrrblock{i}")(x, z, self.lamj, self.lamz)
        return z[:, :self.n], z[:, self.n:2 * self.n]


class _Decoder(nn.Module):
    """Each part to one channel, low-rank and sparse parts fused by concatenation ('cat'), summed."""

    def __init__(self, n: int = 128, channel: int = 1) -> None:
        super().__init__()
        self.conv_ReZx = _ConvLayer(n, channel)
        self.conv_ReUx = _ConvLayer(n, channel)
        self.conv_ReZy = _ConvLayer(n, channel)
        self.conv_ReUy = _ConvLayer(n, channel)
        self.conv_ReL = _ConvLayer(2 * channel, channel)
        self.conv_ReH = _ConvLayer(2 * channel, channel)

    def forward(self, zx: torch.Tensor, ux: torch.Tensor, zy: torch.Tensor, uy: torch.Tensor) -> torch.Tensor:
        low = self.conv_ReL(torch.cat([self.conv_ReZx(zx), self.conv_ReZy(zy)], 1))
        high = self.conv_ReH(torch.cat([self.conv_ReUx(ux), self.conv_ReUy(uy)], 1))
        return low + high


class LRRNetNet(nn.Module):
    """The bare network: ``forward(ir, vis)`` on images min-max normalised to [0, 1] -> the unnormalised
    fused image ``B x 1 x H x W`` (the release's ``out['fuse']``)."""

    def __init__(self, n: int = 128, channel: int = 1, num_block: int = 4) -> None:
        super().__init__()
        self.get_ls1 = _LowRankSparse(n, channel, num_block)
        self.get_ls2 = _LowRankSparse(n, channel, num_block)
        self.decoder = _Decoder(n, channel)

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        lx, sx = self.get_ls1(ir)
        ly, sy = self.get_ls2(vis)
        return self.decoder(lx, sx, ly, sy)


def _minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-image ``(x - min) / (max - min + 1e-5)`` (the release's ``normalize_tensor`` and ``save_image``)."""
    flat = x.flatten(1)
    lo = flat.min(1).values.view(-1, 1, 1, 1)
    hi = flat.max(1).values.view(-1, 1, 1, 1)
    return (x - lo) / (hi - lo + _EPS)


@FUSION_MODELS.register_module(name="lrrnet")
class LRRNet(FusionModel, LRRNetNet):
    """LRRNet, grey (IR with visible luminance; chroma of a colour visible image restored).

    As the authors' ``testing_fusion_lrr.py`` (run on CUDA, ``args.cuda = 1``): each input on 0..255 is
    min-max normalised (eps 1e-5); the output is min-max stretched to 0..255 (eps 1e-5, no clamp before) and
    truncated to uint8.

    Args:
        weights: manifest name (default ``"lrrnet"``), checkpoint path, or ``None`` (random init).
        official_8bit: truncate the stretched output to the 8-bit grid as the official code (default True).
    """

    pretrained_tags = {"official": {"weights": "lrrnet"}}
    min_size = 2
    card = {
        "paper": "LRRNet: A Novel Representation Learning Guided Fusion Network for Infrared and Visible Images",
        "authors": "Li, Xu, Wu, Lu, Kittler", "year": 2023,
        "venue": "IEEE Transactions on Pattern Analysis and Machine Intelligence",
        "code": "https://github.com/hli1221/imagefusion-LRRNet", "weights": "lrrnet", "params": 49_204,
        "licence": "none stated upstream (not redistributed)",
        "input": "IR grey + visible grey (Y of YCrCb for colour input here; the official code reads grey), each "
                 "min-max normalised to [0, 1]",
        "output": "min-max stretched to 0..255 and truncated to uint8 (as the authors' CUDA run)",
        "checked": "the authors' published 21-pair TNO outputs (IR1..IR6): within one grey level (tested)",
    }

    def __init__(self, weights: str | None = "lrrnet", official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        LRRNetNet.__init__(self)
        self.official_8bit = official_8bit
        if weights is not None:
            self.load_weights(weights)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        out = _minmax(LRRNetNet.forward(self, _minmax(ir * 255.0), _minmax(gray * 255.0)))
        return torch.floor(out * 255.0) / 255.0 if self.official_8bit else out
