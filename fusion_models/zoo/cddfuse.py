"""CDDFuse (Zhao, Bai, Zhang, Zhang, Xu, Lin, Timofte, Van Gool, "CDDFuse: Correlation-Driven Dual-Branch
Feature Decomposition for Multi-Modality Image Fusion", CVPR 2023), Zhaozixiang1228/MMIF-CDDFuse.

Our re-implementation of the published architecture: a shared Restormer encoder (3x3 patch embedding, four
MDTA + GDFN transformer blocks) whose features split into a base branch (a Lite-Transformer block with
spatial attention over channels) and a detail branch (three invertible INN nodes of inverted residual
blocks); fusion layers of the same two kinds on the summed features of both sources; a Restormer decoder
(four blocks, two 3x3 convolutions, the visible image added back, sigmoid). Module names follow the authors'
modules, so the released checkpoint (four ``nn.DataParallel`` state_dicts) loads with ``strict=True``.
Architecture parity with the authors' modules is tested on a seeded random state_dict; the released weights
are not in ``../shared``.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import load_parts, minmax_stretch, require_size
from sagebench.weights import register_rows

#: The authors' checkpoint (no sha256 published: pinned and reported on first use; git blob id checked).
WEIGHTS = register_rows(
    ("cddfuse", "https://github.com/Zhaozixiang1228/MMIF-CDDFuse/raw/main/models/CDDFuse_IVF.pth", "", 0,
     "cddfuse/CDDFuse_IVF.pth", "none stated upstream (no LICENSE file; all rights reserved by default)",
     "Zhaozixiang1228/MMIF-CDDFuse@fd8da1f models/CDDFuse_IVF.pth "
     "({'DIDF_Encoder', 'DIDF_Decoder', 'BaseFuseLayer', 'DetailFuseLayer'}: nn.DataParallel state_dicts)",
     dict(redistributable=False, git_blob="d2794226bd48961132111bceff89ce3c955b3985")),
)

#: checkpoint entry -> attribute of :class:`CDDFuseNet`
PARTS = {"DIDF_Encoder": "encoder", "DIDF_Decoder": "decoder", "BaseFuseLayer": "base_fuse",
         "DetailFuseLayer": "detail_fuse"}


class _LayerNorm(nn.Module):
    """Layer norm over channels of ``B x C x H x W`` (biased variance, eps 1e-5); the authors' ``LayerNorm``
    holds its parameters in ``body``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = _WithBias(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _WithBias(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.permute(0, 2, 3, 1)
        mu = t.mean(-1, keepdim=True)
        var = t.var(-1, keepdim=True, unbiased=False)
        return ((t - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias).permute(0, 3, 1, 2)


def _channel_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                       scale: torch.Tensor) -> torch.Tensor:
    """Transposed (channel) attention: per head, L2-normalised ``q``, ``k`` over pixels, ``softmax(q k^T s) v``."""
    b, c, h, w = q.shape
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    attn = (q @ k.transpose(-2, -1) * scale).softmax(-1)
    return (attn @ v).reshape(b, c, h, w)


class _MDTA(nn.Module):
    """Multi-Dconv head transposed attention (Restormer): 1x1 then depthwise 3x3 to q, k, v."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.num_heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, 1)
        return self.project_out(_channel_attention(q, k, v, self.num_heads, self.temperature))


class _GDFN(nn.Module):
    """Gated-Dconv feed-forward: 1x1 to 2 x hidden, grouped 3x3 (``hidden * groups_per_hidden`` groups; zero or
    reflect padding), GELU gate, 1x1 to ``out_dim`` (default ``dim``)."""

    def __init__(self, dim: int, expansion: float, groups_per_hidden: int = 2, pad_mode: str = "zeros",
                 out_dim: int | None = None) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * groups_per_hidden, bias=False,
                                padding_mode=pad_mode)
        self.project_out = nn.Conv2d(hidden, out_dim or dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dwconv(self.project_in(x)).chunk(2, 1)
        return self.project_out(F.gelu(a) * b)


class _TransformerBlock(nn.Module):
    def __init__(self, dim: int = 64, heads: int = 8, expansion: float = 2.0) -> None:
        super().__init__()
        self.norm1 = _LayerNorm(dim)
        self.attn = _MDTA(dim, heads)
        self.norm2 = _LayerNorm(dim)
        self.ffn = _GDFN(dim, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class _BaseAttention(nn.Module):
    """The base branch's attention: 1x1 then a full 3x3 convolution to q, k, v; channel attention."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.num_heads = heads
        self.scale = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv1 = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv2 = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, bias=False)
        self.proj = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv2(self.qkv1(x)).chunk(3, 1)
        return self.proj(_channel_attention(q, k, v, self.num_heads, self.scale))


class BaseFeatureExtraction(nn.Module):
    """Base (low-frequency) branch: a Lite-Transformer block (expansion 1; its GDFN's grouped convolution
    has one group per hidden channel pair). EMMA's ``GlobalFeatureExtraction`` is the same block with
    reflect padding there (``pad_mode``)."""

    def __init__(self, dim: int = 64, num_heads: int = 8, pad_mode: str = "zeros") -> None:
        super().__init__()
        self.norm1 = _LayerNorm(dim)
        self.attn = _BaseAttention(dim, num_heads)
        self.norm2 = _LayerNorm(dim)
        self.mlp = _GDFN(dim, 1.0, groups_per_hidden=1, pad_mode=pad_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _InvertedResidual(nn.Module):
    """1x1 expand, ReLU6, reflection-padded depthwise 3x3, ReLU6, 1x1 project (no biases, no norm)."""

    def __init__(self, cin: int = 32, cout: int = 32, expand: int = 2) -> None:
        super().__init__()
        hid = cin * expand
        self.bottleneckBlock = nn.Sequential(
            nn.Conv2d(cin, hid, 1, bias=False), nn.ReLU6(inplace=True), nn.ReflectionPad2d(1),
            nn.Conv2d(hid, hid, 3, groups=hid, bias=False), nn.ReLU6(inplace=True), nn.Conv2d(hid, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneckBlock(x)


class _DetailNode(nn.Module):
    """One invertible coupling: 1x1 mixing of the two halves, ``z2 += phi(z1)``, ``z1 = z1 exp(rho(z2)) + eta(z2)``."""

    def __init__(self) -> None:
        super().__init__()
        self.theta_phi = _InvertedResidual()
        self.theta_rho = _InvertedResidual()
        self.theta_eta = _InvertedResidual()
        self.shffleconv = nn.Conv2d(64, 64, 1)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z1, z2 = self.shffleconv(torch.cat([z1, z2], 1)).chunk(2, 1)
        z2 = z2 + self.theta_phi(z1)
        z1 = z1 * torch.exp(self.theta_rho(z2)) + self.theta_eta(z2)
        return z1, z2


class DetailFeatureExtraction(nn.Module):
    """Detail (high-frequency) branch: ``num_layers`` INN nodes on the two channel halves."""

    def __init__(self, num_layers: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(*[_DetailNode() for _ in range(num_layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z1, z2 = x.chunk(2, 1)
        for node in self.net:
            z1, z2 = node(z1, z2)
        return torch.cat([z1, z2], 1)


class _PatchEmbed(nn.Module):
    def __init__(self, cin: int = 1, dim: int = 64) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class RestormerEncoder(nn.Module):
    """``B x 1 x H x W`` -> ``(base, detail, shared)`` features, ``B x 64 x H x W`` each."""

    def __init__(self, dim: int = 64, blocks: int = 4, heads: int = 8) -> None:
        super().__init__()
        self.patch_embed = _PatchEmbed(1, dim)
        self.encoder_level1 = nn.Sequential(*[_TransformerBlock(dim, heads) for _ in range(blocks)])
        self.baseFeature = BaseFeatureExtraction(dim, heads)
        self.detailFeature = DetailFeatureExtraction()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        shared = self.encoder_level1(self.patch_embed(x))
        return self.baseFeature(shared), self.detailFeature(shared), shared


class RestormerDecoder(nn.Module):
    """``(image, base, detail)`` -> ``(sigmoid(out + image), reduced features)``."""

    def __init__(self, dim: int = 64, blocks: int = 4, heads: int = 8) -> None:
        super().__init__()
        self.reduce_channel = nn.Conv2d(dim * 2, dim, 1, bias=False)
        self.encoder_level2 = nn.Sequential(*[_TransformerBlock(dim, heads) for _ in range(blocks)])
        self.output = nn.Sequential(nn.Conv2d(dim, dim // 2, 3, padding=1, bias=False), nn.LeakyReLU(),
                                    nn.Conv2d(dim // 2, 1, 3, padding=1, bias=False))
        self.sigmoid = nn.Sigmoid()

    def forward(self, img: torch.Tensor | None, base: torch.Tensor, detail: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        reduced = self.reduce_channel(torch.cat([base, detail], 1))
        out = self.output(self.encoder_level2(reduced))
        return self.sigmoid(out + img if img is not None else out), reduced


class CDDFuseNet(nn.Module):
    """The four released parts; ``forward(ir, vis)`` on grey ``B x 1 x H x W`` in [0, 1] -> the decoder's
    sigmoid output (before the test script's min-max stretch)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = RestormerEncoder()
        self.decoder = RestormerDecoder()
        self.base_fuse = BaseFeatureExtraction(64, 8)
        self.detail_fuse = DetailFeatureExtraction(num_layers=1)

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        vb, vd, _ = self.encoder(vis)
        ib, id_, _ = self.encoder(ir)
        out, _ = self.decoder(vis, self.base_fuse(vb + ib), self.detail_fuse(vd + id_))
        return out


@FUSION_MODELS.register_module(name="cddfuse")
class CDDFuse(FusionModel, CDDFuseNet):
    """CDDFuse (IVF checkpoint), grey (IR with the visible luminance; chroma of a colour visible image restored).

    As the authors' ``test_IVF.py``: both sources on [0, 1], the encoder run on each, base and detail
    features fused by the base / detail fusion layers on their sums, decoded with the visible image added;
    the output is min-max stretched to [0, 1] per image.

    Args:
        weights: manifest name (default ``"cddfuse"``), checkpoint path, or ``None`` (random init).
    """

    pretrained_tags = {"ivf": {"weights": "cddfuse"}}
    min_size = 2
    card = {
        "paper": "CDDFuse: Correlation-Driven Dual-Branch Feature Decomposition for Multi-Modality Image Fusion",
        "authors": "Zhao, Bai, Zhang, Zhang, Xu, Lin, Timofte, Van Gool", "year": 2023, "venue": "CVPR",
        "code": "https://github.com/Zhaozixiang1228/MMIF-CDDFuse", "weights": "cddfuse", "params": 1_188_272,
        "licence": "none stated upstream (not redistributed)",
        "input": "IR grey + visible grey (Y of YCrCb for colour input here; the official script reads OpenCV "
                 "grey), both on [0, 1]",
        "output": "min-max stretched to [0, 1] per image (test_IVF.py); written with sagebench's 8-bit rounding",
        "checked": "architecture: equal to the authors' modules on a seeded random state_dict (tested); the "
                   "released weights are not in ../shared, so outputs are not compared",
    }

    def __init__(self, weights: str | os.PathLike | None = "cddfuse") -> None:
        FusionModel.__init__(self)
        CDDFuseNet.__init__(self)
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, weights, *, key=None, strict: bool = True, strip_prefix=None) -> None:
        """Load the four parts of the release (``nn.DataParallel`` keys: ``module.`` is stripped)."""
        self.weights_name, self.weights_sha256 = load_parts(self, weights, PARTS, strip_prefix="module.",
                                                            strict=strict)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        out = CDDFuseNet.forward(self, ir, gray)
        return minmax_stretch(out)
