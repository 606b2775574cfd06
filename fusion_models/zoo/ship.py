"""SHIP (Zheng, Huang, Zhou, Hong, Li, Wang & Zhao, "Probing Synergistic High-Order Interaction in Infrared
and Visible Image Fusion", CVPR 2024), released PyTorch weights (zheng980629/SHIP).

Our re-implementation of the published architecture: edge-aware feature extraction of each source (a
residual branch plus central-difference "cross" convolutions), three high-order interaction stages (spatial:
products of FFT-correlated features refreshed by the infrared branch, four orders; channel: softmax channel
attention refreshed over four orders, then an invertible coupling block), an invertible fusion of the three
stages' features and a channel-attention refinement to the fused Y. Module names follow the released
state_dict so that it loads with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, require_size
from sagebench.weights import register_rows

#: The authors' released checkpoint: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("ship", "https://github.com/zheng980629/SHIP/raw/main/pretrained_model/SHIP_model.pth",
     "e61783e79144d5c9da6681b833ad64624ed2e61f6a533fd18ab896349e3f7329", 2_397_047, "ship/SHIP_model.pth",
     NO_LICENCE, "zheng980629/SHIP@6b95318 pretrained_model/SHIP_model.pth", dict(redistributable=False)),
)


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, 1, k // 2)


def _conv_block(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    """conv -> ReLU -> conv (indices 0 and 2, as the release's ``nn.Sequential``)."""
    return nn.Sequential(_conv(cin, cout, k), nn.ReLU(), _conv(cout, cout, k))


class _CrossConv(nn.Module):
    """A 3 x 3 convolution whose kernel has 5 learned taps (``weight``: ``C_out x C_in x 1 x 5``) on a cross
    (``diagonal=False``: centre row and column) or on the diagonals, minus ``theta`` times the response of
    the kernel's sum (a central-difference convolution; no bias)."""

    def __init__(self, cin: int, cout: int, diagonal: bool, theta: float = 0.8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, (1, 5), bias=False)
        self.diagonal, self.theta = diagonal, theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv.weight[:, :, 0]  # C_out x C_in x 5
        z = torch.zeros_like(w[..., :1])
        taps = [w[..., i:i + 1] for i in range(5)]
        order = ([taps[0], z, taps[1], z, taps[2], z, taps[3], z, taps[4]] if self.diagonal
                 else [z, taps[0], z, taps[1], taps[2], taps[3], z, taps[4], z])
        kernel = torch.cat(order, 2).view(w.shape[0], w.shape[1], 3, 3)
        out = F.conv2d(x, kernel, padding=1)
        return out - self.theta * F.conv2d(x, w.sum(2)[:, :, None, None])


class _CDC(nn.Module):
    """``sigmoid(h) cross(x) + (1 - sigmoid(h)) diagonal(x) + x``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.h_conv = _CrossConv(cin, cout, diagonal=False)
        self.d_conv = _CrossConv(cin, cout, diagonal=True)
        self.HP_branch = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.sigmoid(self.HP_branch)
        return a * self.h_conv(x) + (1 - a) * self.d_conv(x) + x


class _EdgeBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.process = _conv(c, c)
        self.Res = _conv_block(c, c)
        self.CDC = _CDC(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.process(x)
        return self.Res(x) + self.CDC(x)


class _FeatureExtract(nn.Module):
    def __init__(self, cin: int, c: int) -> None:
        super().__init__()
        self.conv = _conv(cin, c, 1)
        self.block1 = _EdgeBlock(c)
        self.block2 = _EdgeBlock(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block2(self.block1(self.conv(x)))


class _UNetConvBlock(nn.Module):
    """conv -> half-instance-norm -> LeakyReLU(0.1) -> conv -> LeakyReLU(0.1), plus a 1 x 1 identity path."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.identity = _conv(cin, cout, 1)
        self.conv_1 = _conv(cin, cout)
        self.conv_2 = _conv(cout, cout)
        self.norm = nn.InstanceNorm2d(cout // 2, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_1(x)
        a, b = torch.chunk(out, 2, dim=1)
        out = F.leaky_relu(torch.cat([self.norm(a), b], 1), 0.1)
        return F.leaky_relu(self.conv_2(out), 0.1) + self.identity(x)


class _DenseBlock(nn.Module):
    def __init__(self, cin: int, cout: int, gc: int = 16) -> None:
        super().__init__()
        self.conv1 = _UNetConvBlock(cin, gc)
        self.conv2 = _UNetConvBlock(gc, gc)
        self.conv3 = _conv(cin + 2 * gc, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.leaky_relu(self.conv1(x), 0.2)
        x2 = F.leaky_relu(self.conv2(x1), 0.2)
        return F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), 0.2)


class _InvConv1x1(nn.Module):
    """Glow's invertible 1 x 1 convolution in LU form: ``W = P L (U + diag(sign_s exp(log_s)))``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.register_buffer("p", torch.eye(c))
        self.register_buffer("sign_s", torch.ones(c))
        self.lower = nn.Parameter(torch.zeros(c, c))
        self.log_s = nn.Parameter(torch.zeros(c))
        self.upper = nn.Parameter(torch.zeros(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.log_s.numel()
        l_mask = torch.tril(torch.ones(c, c, device=x.device, dtype=x.dtype), -1)
        lower = self.lower * l_mask + torch.eye(c, device=x.device, dtype=x.dtype)
        u = self.upper * l_mask.transpose(0, 1) + torch.diag(self.sign_s * torch.exp(self.log_s))
        w = torch.matmul(self.p, torch.matmul(lower, u))
        return F.conv2d(x, w.view(c, c, 1, 1))


class _InvBlock(nn.Module):
    """Affine coupling after the invertible 1 x 1 convolution (clamp 0.8)."""

    def __init__(self, channels: int, split: int, clamp: float = 0.8) -> None:
        super().__init__()
        self.split_len1, self.split_len2, self.clamp = split, channels - split, clamp
        self.F = _DenseBlock(self.split_len2, self.split_len1)
        self.G = _DenseBlock(self.split_len1, self.split_len2)
        self.H = _DenseBlock(self.split_len1, self.split_len2)
        self.invconv = _InvConv1x1(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.invconv(x)
        x1, x2 = x.narrow(1, 0, self.split_len1), x.narrow(1, self.split_len1, self.split_len2)
        y1 = x1 + self.F(x2)
        s = self.clamp * (torch.sigmoid(self.H(y1)) * 2 - 1)
        return torch.cat((y1, x2 * torch.exp(s) + self.G(y1)), 1)


class _ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each pixel, with bias (eps 1e-5)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Module()
        self.body.weight = nn.Parameter(torch.ones(c))
        self.body.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = x.var(1, keepdim=True, unbiased=False)
        w, b = self.body.weight.view(1, -1, 1, 1), self.body.bias.view(1, -1, 1, 1)
        return (x - mu) / torch.sqrt(var + 1e-5) * w + b


class _SpatialInteraction(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        for i in (1, 2, 3):
            self.add_module(f"reflashFused{i}", _conv_block(c, c))
        for i in (1, 2, 3):
            self.add_module(f"reflashInfrared{i}", _conv_block(c, c))
        for i in (1, 2, 3, 4):
            self.add_module(f"norm{i}", _ChannelLayerNorm(c))

    def forward(self, vis: torch.Tensor, inf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        H, W = vis.shape[-2:]
        atten = torch.fft.irfft2(torch.fft.rfft2(vis.float()) * torch.fft.rfft2(inf.float()), s=(H, W))
        fused = self.norm1(atten) * inf
        ref = inf
        for i in (1, 2, 3):
            fused = getattr(self, f"norm{i + 1}")(getattr(self, f"reflashFused{i}")(fused))
            ref = getattr(self, f"reflashInfrared{i}")(ref)
            fused = fused * ref
        return fused + vis, ref


class _ChannelInteraction(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.chaAtten = _conv_block(2 * c, c, 1)
        self.chaAtten[2] = nn.Conv2d(c, 2 * c, 1)
        for i in (1, 2, 3):
            block = _conv_block(2 * c, c, 1)
            block[2] = nn.Conv2d(c, 2 * c, 1)
            self.add_module(f"reflashChaAtten{i}", block)
        for i in (1, 2, 3):
            self.add_module(f"reflashFused{i}", _conv_block(2 * c, 2 * c))
        self.postprocess = nn.Sequential(_InvBlock(2 * c, c), nn.Conv2d(2 * c, c, 1))

    def forward(self, vis: torch.Tensor, inf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cat = torch.cat([vis, inf], 1)
        att = self.chaAtten(F.adaptive_avg_pool2d(cat, 1)).softmax(1)
        fused = cat * att
        for i in (1, 2, 3):
            fused = getattr(self, f"reflashFused{i}")(fused)
            att = getattr(self, f"reflashChaAtten{i}")(att).softmax(1)
            fused = fused * att
        return self.postprocess(fused) + vis, inf


class _HighOrderInteraction(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.spatial = _SpatialInteraction(c)
        self.channel = _ChannelInteraction(c)

    def forward(self, vis: torch.Tensor, inf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.channel(*self.spatial(vis, inf))


class _CALayer(nn.Module):
    def __init__(self, c: int, reduction: int = 4) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2d(c, c // reduction, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(c // reduction, c, 1), nn.Sigmoid())
        self.process = _conv_block(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.adaptive_avg_pool2d(self.process(x), 1)
        return self.conv_du(y) * y + x


class _Refine(nn.Module):
    def __init__(self, c: int, cout: int) -> None:
        super().__init__()
        self.conv_in = _conv(c, c)
        self.process = nn.Sequential(_CALayer(c), _CALayer(c))
        self.conv_last = _conv(c, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_last(self.process(self.conv_in(x)))


class SHIPNet(nn.Module):
    """The bare network (the release's ``highOrderInteractionFusion``, 16 features): ``forward(vis_y, ir)``
    on ``B x 1 x H x W`` in [0, 1] -> the fused Y, unclamped."""

    def __init__(self, n_feat: int = 16) -> None:
        super().__init__()
        self.vis = _FeatureExtract(1, n_feat)
        self.inf = _FeatureExtract(1, n_feat)
        self.interaction1 = _HighOrderInteraction(n_feat)
        self.interaction2 = _HighOrderInteraction(n_feat)
        self.interaction3 = _HighOrderInteraction(n_feat)
        self.postprocess = nn.Sequential(_InvBlock(3 * n_feat, 3 * n_feat // 2), nn.Conv2d(3 * n_feat, n_feat, 1))
        self.reconstruction = _Refine(n_feat, 1)

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        v, i = self.vis(vis_y), self.inf(ir)
        v1, i1 = self.interaction1(v, i)
        v2, i2 = self.interaction2(v1, i1)
        v3, _ = self.interaction3(v2, i2)
        return self.reconstruction(self.postprocess(torch.cat([v1, v2, v3], 1)))


@FUSION_MODELS.register_module(name="ship")
class SHIP(FusionModel, SHIPNet):
    """SHIP with the authors' test conventions (BasicSR ``FusionMask_model.test``): visible Y (float
    0.299R + 0.587G + 0.114B) and IR in [0, 1]; fused Y clamped to [0, 1]; chroma of a colour visible image
    restored (the authors use the float inverse 1.403 / 0.714 / 0.344 / 1.773; sagebench's YCrCb path here).

    Args:
        weights: manifest name (default ``"ship"``), checkpoint path, or ``None`` (random init).
    """

    pretrained_tags = {"official": {"weights": "ship"}}
    min_size = 2
    card = {
        "paper": "Probing Synergistic High-Order Interaction in Infrared and Visible Image Fusion",
        "authors": "Zheng, Huang, Zhou, Hong, Li, Wang, Zhao", "year": 2024, "venue": "CVPR",
        "code": "https://github.com/zheng980629/SHIP", "weights": "ship", "params": 547_509,
        "licence": "none stated upstream (built on BasicSR, Apache-2.0; not redistributed)",
        "input": "visible Y (float BT.601) + IR grey, [0, 1]",
        "output": "fused Y clamped to [0, 1], rounded when saved; visible chroma restored",
        "checked": "outputs of the authors' code (run by the suite's makers on CPU, TNO 01-03; no published "
                   "outputs exist): within one grey level (tested)",
    }

    def __init__(self, weights: str | None = "ship") -> None:
        FusionModel.__init__(self)
        SHIPNet.__init__(self)
        if weights is not None:
            self.load_weights(weights, key="params")

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        return SHIPNet.forward(self, gray, ir).clamp(0.0, 1.0)
