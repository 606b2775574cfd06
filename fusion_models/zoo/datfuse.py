"""DATFuse (Tang, He, Liu, Duan, Si, "DATFuse: Infrared and Visible Image Fusion via Dual Attention
Transformer", IEEE TCSVT 2023).

Re-implemented from the architecture description in the project's zoo notes; module names follow the
released state_dict so that it loads with ``strict=True``. The transformer part reproduces two quirks of
the official code exactly (see :class:`_Block`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, floor_8bit
from sagebench.weights import register_rows

#: The authors' released checkpoints: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("datfuse", "https://github.com/tthinking/DATFuse/raw/main/model_10.pth",
     "075b636954cbd425fc29be808bcfb42232e29b203f054c2a637ed301300d5a1d", 65_189, "datfuse/model_10.pth", NO_LICENCE,
     "tthinking/DATFuse@0cd93f1 model_10.pth", dict(redistributable=False)),
)


class _ConvIn(nn.Module):
    """Replicate pad 2 -> 5x5 conv 2->16 -> BN -> ReLU."""

    def __init__(self, cin: int = 2, dim: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, dim, 5)
        self.bn = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(F.pad(x, (2, 2, 2, 2), mode="replicate"))))


class _ConvOut(nn.Module):
    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _FEM(nn.Module):
    """Feature extraction: (replicate pad 1, conv, BN, ReLU) then the **same** conv and BN again, no ReLU."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3)
        self.bn = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))))
        return self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate")))


class _CAM(nn.Module):
    """Channel attention: global average pool -> 1x1 conv -> ReLU -> 1x1 conv -> sigmoid."""

    def __init__(self, dim: int = 16, reduction: int = 4) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Conv2d(dim, dim // reduction, 1), nn.ReLU(),
                                nn.Conv2d(dim // reduction, dim, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3), keepdim=True))


class _SAM(nn.Module):
    """Spatial attention: conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN -> sigmoid (one map)."""

    def __init__(self, dim: int = 16, reduction: int = 4) -> None:
        super().__init__()
        mid = dim // reduction
        self.body = nn.Sequential(nn.Conv2d(dim, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(),
                                  nn.Conv2d(mid, 1, 3, padding=1), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _Attention(nn.Module):
    """Window attention with window size 1: a single token per window, so softmax == 1 and the output is
    the value projection. ``relative_position_*`` and q, k exist for strict loading but have no effect."""

    def __init__(self, dim: int = 16, heads: int = 8) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(1, heads))
        self.register_buffer("relative_position_index", torch.zeros(1, 1, dtype=torch.int64))
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        # Only the v third of qkv matters: compute it with the matching slice of the weights.
        d = self.dim
        v = F.linear(t, self.qkv.weight[2 * d:], self.qkv.bias[2 * d:])
        return self.proj(v)


class _MLP(nn.Module):
    def __init__(self, dim: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(t)))


class _Block(nn.Module):
    """Transformer block on a ``N x 16`` token matrix: ``t + attn(LN(t))`` then ``t + mlp(LN(t))``."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _MLP(dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t + self.attn(self.norm1(t))
        return t + self.mlp(self.norm2(t))


class _BasicLayer(nn.Module):
    """Two blocks. Quirk of the official code kept here: the NCHW feature buffer is reinterpreted as a
    ``(B*H*W) x C`` matrix by a raw reshape (no permute), so a token is 16 consecutive values of one
    channel's rows, and reshaped back the same way."""

    def __init__(self, dim: int = 16, depth: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_Block(dim) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        t = x.contiguous().reshape(-1, shape[1])
        for blk in self.blocks:
            t = blk(t)
        return t.reshape(shape)


class _PatchEmbed(nn.Module):
    """Only holds the stored (never used) LayerNorm(96) of the release."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(96)


class DATFuseNet(nn.Module):
    """Bare network: ``forward(ir, vis) -> fused`` (``B x 1 x H x W`` in [0, 1]; output tanh).
    The dual-attention residual module (fem/cam/sam) is one set of weights used in encoder and decoder."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.convolutional = _ConvIn(2, dim)
        self.convolutional_out = _ConvOut(dim)
        self.fem = _FEM(dim)
        self.cam = _CAM(dim)
        self.sam = _SAM(dim)
        self.patch_embed = _PatchEmbed()
        self.basicLayer = _BasicLayer(dim)

    def _darm(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.fem(x)
        return f, f * self.cam(f) + f * self.sam(f)

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        c = self.convolutional(torch.cat([ir, vis], dim=1))
        _, a = self._darm(c)
        t = self.basicLayer(F.relu(a + c))
        f2, a2 = self._darm(t)
        return torch.tanh(self.convolutional_out(a2 + f2))


@FUSION_MODELS.register_module(name="datfuse")
class DATFuse(FusionModel, DATFuseNet):
    """DATFuse with the authors' test conventions: IR and visible grey (Y of YCrCb for a colour
    visible image, chroma restored), [0, 1], ``forward(cat(ir, vis))``, tanh output.

    Args:
        weights: manifest name (default ``"datfuse"``), checkpoint path, or ``None`` (random init).
        quantize: how the tanh output becomes 8 bits. ``"official"`` (default): as the authors'
            ``Test.py``, ``(out * 255).astype(uint8)``: truncation toward zero, and a negative value
            **wraps** (-5.3 -> 251: dark pixels turn almost white; three pixels of TNO 07 in CDDFuse's
            numbering). ``"clip"``: clipped to [0, 1] first, then truncated. ``"none"``: clipped float
            output, no 8-bit grid.
    """

    pretrained_tags = {"official": {"weights": "datfuse"}}

    card = {
        "paper": "DATFuse: Infrared and Visible Image Fusion via Dual Attention Transformer",
        "authors": "Tang, He, Liu, Duan, Si",
        "year": 2023, "venue": "IEEE Transactions on Circuits and Systems for Video Technology",
        "code": "https://github.com/tthinking/DATFuse",
        "licence": "none stated upstream (not redistributed)",
        "weights": "datfuse",
        "params": 10_760,
        "input": "IR grey + visible grey (PIL 'L'; Y of YCrCb for colour input here), [0, 1]; "
                 "forward(cat(ir, vis)); no normalisation",
        "output": "tanh, times 255, cast to uint8 as the official code: truncated, and negative values wrap to "
                  "241-255 (quantize='official', default; on the shipped pairs the output stays >= -0.002, on "
                  "TNO 07 three pixels reach -0.018 and become 251-255); quantize='clip' clips first",
        "checked": "parity with the authors' 'fusion results' 001.bmp and 2.bmp: max 1 grey level (tested)",
        "quirks": "transformer tokens are raw reshapes of the NCHW buffer (16 consecutive values of one "
                  "channel); window size 1, so attention reduces to the value projection; the DARM weights "
                  "are shared by encoder and decoder",
    }

    def __init__(self, weights: str | None = "datfuse", quantize: str = "official") -> None:
        FusionModel.__init__(self)
        DATFuseNet.__init__(self)
        if quantize not in QUANTIZE:
            from sagebench.errors import ConfigError

            raise ConfigError(f"datfuse: quantize must be one of {', '.join(QUANTIZE)}, got {quantize!r}")
        self.quantize = quantize
        if weights is not None:
            self.load_weights(weights)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        out = DATFuseNet.forward(self, ir, gray)
        if self.quantize == "official":
            return numpy_uint8_cast(out * 255.0) / 255.0
        out = out.clamp(0.0, 1.0)
        return floor_8bit(out) if self.quantize == "clip" else out


#: DATFuse's output quantisations (see :class:`DATFuse`)
QUANTIZE = ("official", "clip", "none")


def numpy_uint8_cast(x: torch.Tensor) -> torch.Tensor:
    """numpy's ``float -> uint8`` cast of values in (-256, 256): truncation toward zero, then modulo 256
    (a negative value wraps: -5.3 -> 251), as a float tensor of levels 0..255."""
    return torch.remainder(torch.trunc(x), 256.0)
