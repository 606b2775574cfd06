"""IGNet (Li, Chen, Liu, Ma, "Learning a Graph Neural Network with Cross Modality Interaction for Image
Fusion", ACM MM 2023), lok-18/IGNet.

Our re-implementation of the published architecture: per source a four-convolution encoder (LeakyReLU 0.2,
ceil-mode 2x2 max pooling; the deepest level pools by max and by mean, multiplied for the infrared branch and
added for the visible one, then squeeze-and-excitation channel attention), and a cross-modality graph
reasoning decoder (``CGR``): at each of three levels, dilated-convolution nodes (dilations 4, 8, 16) of both
sources exchange information pairwise, are refined by a graph of ConvGRU messages (two iterations), and feed
a cascade of bilinear x2 upsampling and 3x3 convolutions with BatchNorm; a 1x1 convolution gives the fused
luminance. Module names follow the authors' ``backbone``, so the released ``model/IGNet.pth`` loads with
``strict=True``. Architecture parity with the authors' module is tested on a seeded random state_dict; the
released weights are not in ``../shared`` (the authors' published outputs are a precomputed reference row).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.weights import register_rows

#: The authors' checkpoint (MIT; no sha256 published: pinned and reported on first use).
WEIGHTS = register_rows(
    ("ignet", "https://github.com/lok-18/IGNet/raw/master/model/IGNet.pth", "", 0, "ignet/IGNet.pth",
     "MIT (Copyright (c) 2023 Jiawei Li)", "lok-18/IGNet@1757e6b model/IGNet.pth (backbone state_dict; absent "
     "from the snapshot available here, so no git blob id either)", dict(redistributable=True)),
)

_SIDE = (512, 256, 128)  # encoder channels of the three graph levels (deepest first)
_TARG = (512, 128, 32, 4)  # cascade channels
_RD = 32  # channel reduction of the graph nodes
_DILA = (4, 8, 16)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class _Encoder(nn.Module):
    """conv1..conv4 (3x3), ceil-mode pooling; returns ``(deep, x2, x1)`` at H/8, H/4, H/2."""

    def __init__(self, combine: str) -> None:
        super().__init__()
        self.combine = combine  # "mul" (infrared) or "add" (visible)
        self.conv1, self.conv2 = nn.Conv2d(1, 128, 3, padding=1), nn.Conv2d(128, 256, 3, padding=1)
        self.conv3, self.conv4 = nn.Conv2d(256, 384, 3, padding=1), nn.Conv2d(384, 512, 3, padding=1)
        self.fc1 = nn.Linear(512, 32, bias=False)
        self.fc2 = nn.Linear(32, 512, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x1 = F.max_pool2d(_lrelu(self.conv1(x)), 2, ceil_mode=True)
        x2 = F.max_pool2d(_lrelu(self.conv2(x1)), 2, ceil_mode=True)
        y = _lrelu(self.conv4(_lrelu(self.conv3(x2))))
        a, b = F.max_pool2d(y, 2, ceil_mode=True), F.avg_pool2d(y, 2, ceil_mode=True)
        deep = a * b if self.combine == "mul" else a + b
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(deep.mean((2, 3))))))
        return deep * w[:, :, None, None], x2, x1


def _conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _PPM(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList([_conv_bn_relu(cin, cin // _RD, d) for d in _DILA])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [conv(x) for conv in self.convs]


class _ConvGRUCell(nn.Module):
    """1x1 ConvGRU: gates from ``[input, hidden]``; ``h' = (1 - u) h + u tanh(conv([input, r h]))``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.ConvGates = nn.Conv2d(2 * ch, 2 * ch, 1)
        self.Conv_ct = nn.Conv2d(2 * ch, ch, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        r, u = torch.sigmoid(self.ConvGates(torch.cat([x, h], 1))).chunk(2, 1)
        ct = torch.tanh(self.Conv_ct(torch.cat([x, r * h], 1)))
        return (1 - u) * h + u * ct


class _Graph(nn.Module):
    """One round of messages between the ``n`` nodes: each node gathers the others, weighted by a sigmoid of
    a grouped 1x1 convolution of the differences, and is updated by the ConvGRU (scaled by ``gamma``)."""

    def __init__(self, n: int, ch: int) -> None:
        super().__init__()
        self.n_node = n
        self.C_wgt = nn.Conv2d(ch * (n - 1), n - 1, 1, groups=n - 1, bias=False)
        self.ConvGRU = _ConvGRUCell(ch)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, nodes: list[torch.Tensor]) -> list[torch.Tensor]:
        n, out = self.n_node, []
        for i, h in enumerate(nodes):
            others = torch.cat([nodes[j] for j in range(n) if j != i], 1)
            wgt = self.C_wgt(h.repeat(1, n - 1, 1, 1) - others)
            msg = others * torch.sigmoid(wgt.repeat(1, others.shape[1] // (n - 1), 1, 1))
            m = msg.view(h.shape[0], n - 1, *h.shape[1:]).sum(1)
            out.append(self.ConvGRU(m, h) * self.gamma + h)
        return out


class _GraphReasoning(nn.Module):
    def __init__(self, cin: int, n_iter: int = 2) -> None:
        super().__init__()
        ch = cin // _RD
        self.n_iter = n_iter
        self.ppm_rgb, self.ppm_dep = _PPM(cin), _PPM(cin)
        self.graph_rgb, self.graph_dep = _Graph(len(_DILA), ch), _Graph(len(_DILA), ch)
        self.C_ca = nn.ModuleList([nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(2 * ch, ch // 2, 1, bias=False),
                                                 nn.ReLU(inplace=True), nn.Conv2d(ch // 2, ch, 1, bias=False))
                                   for _ in range(2)])
        self.C_pa = nn.ModuleList([nn.Conv2d(ch, 1, 1, bias=False) for _ in range(2)])

    def _exchange(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new_b = a * torch.sigmoid(self.C_pa[0](a - b)) + b
        new_a = b * torch.sigmoid(self.C_pa[1](b - a)) + a
        return new_a, new_b

    def forward(self, ir: torch.Tensor, vis: torch.Tensor, prev: tuple[torch.Tensor, torch.Tensor] | None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        fa, fb = self.ppm_rgb(ir), self.ppm_dep(vis)
        if prev is not None:  # channel attention from the previous level's nodes
            wa, wb = torch.sigmoid(self.C_ca[0](prev[0])), torch.sigmoid(self.C_ca[1](prev[1]))
            fa, fb = [wa * f + f for f in fa], [wb * f + f for f in fb]
        for k in range(len(fa)):
            for _ in range(2):
                fa[k], fb[k] = self._exchange(fa[k], fb[k])
        for _ in range(self.n_iter):
            fa, fb = self.graph_rgb(fa), self.graph_dep(fb)
        return fa, fb


class _CGR(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        n = len(_DILA)
        self.graph = nn.ModuleList([_GraphReasoning(c) for c in _SIDE])
        side = _SIDE + _SIDE
        self.C_cat = nn.ModuleList([_cat_block(c // _RD * n, c // _RD) for c in side])
        self.C_up = nn.ModuleList([_cat_block(_TARG[i] + _SIDE[i] // _RD, _TARG[i + 1]) for i in (0, 1, 2) * 2])
        self.C_cls = nn.Conv2d(_TARG[-1] * 2, 1, 1)

    def forward(self, ir: tuple[torch.Tensor, ...], vis: tuple[torch.Tensor, ...]) -> torch.Tensor:
        n = len(_SIDE)
        cas_a, cas_b, prev = ir[0], vis[0], None
        for i in range(n):
            fa, fb = self.graph[i](ir[i], vis[i], prev)
            na, nb = self.C_cat[i](torch.cat(fa, 1)), self.C_cat[n + i](torch.cat(fb, 1))
            prev = (na, nb)
            cas_a = self.C_up[i](_up2(torch.cat([na, cas_a], 1)))
            cas_b = self.C_up[n + i](_up2(torch.cat([nb, cas_b], 1)))
        return self.C_cls(torch.cat([cas_a, cas_b], 1))


def _cat_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class IGNetNet(nn.Module):
    """The bare ``backbone``: ``forward(vis_y, ir)`` on ``B x 1 x H x W`` in [0, 1] (H, W multiples of 8) ->
    the fused luminance ``B x 1 x H x W`` (unbounded)."""

    def __init__(self) -> None:
        super().__init__()
        self.vis_conv = _Encoder("add")
        self.inf_conv = _Encoder("mul")
        self.graph = _CGR()

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return self.graph(self.inf_conv(ir), self.vis_conv(vis_y[:, :1]))


def _rgb_to_ycrcb(rgb: torch.Tensor) -> torch.Tensor:
    """The release's ``RGB2YCrCb``, in float: Y = .299 R + .587 G + .114 B, Cr = .713 (R - Y) + .5,
    Cb = .564 (B - Y) + .5."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.cat([y, (r - y) * 0.713 + 0.5, (b - y) * 0.564 + 0.5], 1)


def _ycrcb_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """The release's ``YCrCb2RGB``: R = Y + 1.403 Cr', G = Y - .714 Cr' - .344 Cb', B = Y + 1.773 Cb' (' = - 0.5)."""
    y, cr, cb = ycc[:, 0:1], ycc[:, 1:2] - 0.5, ycc[:, 2:3] - 0.5
    return torch.cat([y + 1.403 * cr, y - 0.714 * cr - 0.344 * cb, y + 1.773 * cb], 1)


@FUSION_MODELS.register_module(name="ignet")
class IGNet(FusionModel, IGNetNet):
    """IGNet, colour as the authors' ``test.py``: the visible RGB image to YCrCb (float), the network on its
    Y and the IR, the fused Y with the visible Cr / Cb back to RGB, clamped to [0, 1], min-max stretched over
    the image and truncated to uint8. A grey visible image is an RGB image with equal channels (the release
    converts L to RGB): the result is grey. The release needs sides divisible by 8; other sizes are padded
    (reflect) and cropped here.

    Args:
        weights: manifest name (default ``"ignet"``), checkpoint path, or ``None`` (random init).
        official_8bit: truncate the stretched output to the 8-bit grid as the official code (default True).
    """

    colour = "native"
    pad_multiple = 8
    pad_mode = "reflect"
    pretrained_tags = {"official": {"weights": "ignet"}}
    min_size = 8
    card = {
        "paper": "Learning a Graph Neural Network with Cross Modality Interaction for Image Fusion",
        "authors": "Li, Chen, Liu, Ma", "year": 2023, "venue": "ACM Multimedia",
        "code": "https://github.com/lok-18/IGNet", "weights": "ignet", "params": 7_871_327, "licence": "MIT",
        "input": "IR grey on [0, 1]; visible RGB on [0, 1] to float YCrCb (the network sees Y); sides padded "
                 "(reflect) to multiples of 8",
        "output": "fused Y with the visible Cr / Cb to RGB (float), clamped, min-max stretched over the image, "
                  "truncated to uint8 (test.py)",
        "checked": "architecture: equal to the authors' backbone on a seeded random state_dict (tested); the "
                   "released weights are not in ../shared; the authors' published outputs are a precomputed row "
                   "of the reference leaderboard",
    }

    def __init__(self, weights: str | os.PathLike | None = "ignet", official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        IGNetNet.__init__(self)
        self.official_8bit = official_8bit
        if weights is not None:
            self.load_weights(weights)

    def _finish(self, rgb: torch.Tensor) -> torch.Tensor:
        rgb = rgb.clamp(0.0, 1.0)
        flat = rgb.flatten(1)
        lo = flat.min(1).values.view(-1, 1, 1, 1)
        hi = flat.max(1).values.view(-1, 1, 1, 1)
        # a constant image (everything clamped to one value) stays constant instead of the release's 0 / 0
        out = (rgb - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        return torch.floor(out * 255.0) / 255.0 if self.official_8bit else out

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        ycc = _rgb_to_ycrcb(rgb)
        y = IGNetNet.forward(self, ycc[:, :1], ir[:, :1])
        return self._finish(_ycrcb_to_rgb(torch.cat([y, ycc[:, 1:]], 1)))

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return self._finish(IGNetNet.forward(self, gray, ir[:, :1]))
