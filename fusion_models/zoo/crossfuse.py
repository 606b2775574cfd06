"""CrossFuse (Li, Wu, "CrossFuse: A novel cross attention mechanism based infrared and visible image fusion
approach", Information Fusion 2024), hli1221/CrossFuse.

Our re-implementation of the published architecture: one auto-encoder per modality (a linear dense-block
encoder, reflection-padded convolutions without activations, three 2x2 poolings: shallow features at full
size, deep ones at 1/8), and the fusion network ``Trans_FuseNet``: the deep features are cut into 32x32
tiles (reflect-padded), each tile into 2x2 tokens of 512 values; per tile a self-attention transformer block
per modality, a second one on the features rolled by half a tile (and rolled back), and two cross-attention
blocks whose attention uses the *negated* similarities (each modality attends to what the other lacks),
summed; the tiles are put back and decoded by a convolutional decoder (BatchNorm, no activations) that adds
the deep features and the shallow features of both sources with fixed local-mean weights, then a min-max
stretch to 0..255. Module names follow the authors' modules, so the three released files load with
``strict=True``. Architecture parity with the authors' modules is tested on a seeded random state_dict; the
released weights are not in ``../shared`` (the authors' published outputs are a precomputed reference row).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.errors import WeightsError
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, load_each, require_size
from sagebench.weights import register_rows

_URL = "https://github.com/hli1221/CrossFuse/raw/main/models/"
_SRC = "hli1221/CrossFuse@bb00cb4 models/"
#: The authors' three checkpoints (absent from the snapshot available here: no sha256 or git blob id is
#: known; the first download is pinned and reported).
WEIGHTS = register_rows(
    ("crossfuse_ae_ir", _URL + "autoencoder/auto_encoder_epoch_4_ir.model", "", 0,
     "crossfuse/auto_encoder_epoch_4_ir.model", NO_LICENCE,
     _SRC + "autoencoder/auto_encoder_epoch_4_ir.model (Auto_Encoder_single state_dict; no git blob id known)",
     dict(redistributable=False)),
    ("crossfuse_ae_vi", _URL + "autoencoder/auto_encoder_epoch_4_vi.model", "", 0,
     "crossfuse/auto_encoder_epoch_4_vi.model", NO_LICENCE,
     _SRC + "autoencoder/auto_encoder_epoch_4_vi.model (Auto_Encoder_single state_dict; no git blob id known)",
     dict(redistributable=False)),
    ("crossfuse_trans", _URL + "transfuse/fusetrans_epoch_32_bs_8_num_20k_lr_0.1_s1_c1.model", "", 0,
     "crossfuse/fusetrans_epoch_32_bs_8_num_20k_lr_0.1_s1_c1.model", NO_LICENCE,
     _SRC + "transfuse/fusetrans_epoch_32_bs_8_num_20k_lr_0.1_s1_c1.model (Trans_FuseNet state_dict; no git "
     "blob id known)", dict(redistributable=False)),
)

_TILE, _TOKEN, _DIM, _HEADS = 32, 2, 128, 16  # img_size, patch_size, part_out, n_heads of test_conv_trans.py
_EPS = 1e-6


class _Conv(nn.Module):
    """Reflection padding ``k // 2`` and a ``k x k`` convolution (``conv2d`` is a Sequential: conv[, BN])."""

    def __init__(self, cin: int, cout: int, k: int, bn: bool = False) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Sequential(nn.Conv2d(cin, cout, k), *([nn.BatchNorm2d(cout)] if bn else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class _DenseConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(1)
        self.conv2d = nn.Sequential(nn.Conv2d(cin, cout, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv2d(self.reflection_pad(x))], 1)


class _DenseBlock(nn.Module):
    def __init__(self, cin: int, growth: int = 64, layers: int = 3, out: int = 128) -> None:
        super().__init__()
        self.num_layers = layers
        for i in range(layers):
            self.add_module(f"dense_conv{i}", _DenseConv(cin + i * growth, growth))
        self.adjust_conv = _Conv(cin + layers * growth, out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.num_layers):
            x = getattr(self, f"dense_conv{i}")(x)
        return self.adjust_conv(x)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _Conv(1, 32, 3)
        self.dense_blocks = nn.Sequential(_DenseBlock(32), nn.MaxPool2d(2, 2), _DenseBlock(128), nn.MaxPool2d(2, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shallow = self.conv1(x)
        return shallow, self.dense_blocks(F.max_pool2d(shallow, 2))


class _ReconDecoder(nn.Module):
    """The auto-encoder's reconstruction decoder (training only; in the release's state_dict)."""

    def __init__(self, ch: int = _DIM) -> None:
        super().__init__()
        self.conv1 = _Conv(ch, ch // 2, 3)
        self.conv_block = nn.Sequential(_Conv(ch // 2, ch // 2, 3), nn.Upsample(scale_factor=2),
                                        _Conv(ch // 2, ch // 4, 3), nn.Upsample(scale_factor=2))
        self.conv_last = _Conv(ch // 4, 1, 1)


class CrossFuseAutoEncoder(nn.Module):
    """``Auto_Encoder_single``: ``forward(x on 0..255) -> (shallow 32 @ H, deep 128 @ H/8)``."""

    def __init__(self) -> None:
        super().__init__()
        self.fea_encoder1 = _Encoder()
        self.recon_decoder1 = _ReconDecoder()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fea_encoder1(x / 255)


def _tiles(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """``B x C x H x W`` reflect-padded (right / bottom) to multiples of ``size`` -> ``B x C x N x size x size``
    tiles in row-major order, and ``(rows, cols, pad_h, pad_w)``."""
    h, w = x.shape[-2:]
    rows, cols = -(-h // size), -(-w // size)
    ph, pw = rows * size - h, cols * size - w
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    b, c = x.shape[:2]
    t = x.view(b, c, rows, size, cols, size).permute(0, 1, 2, 4, 3, 5)
    return t.reshape(b, c, rows * cols, size, size), (rows, cols, ph, pw)


def _untile(t: torch.Tensor, grid: tuple[int, int, int, int]) -> torch.Tensor:
    rows, cols, ph, pw = grid
    b, c, _, s, _ = t.shape
    x = t.view(b, c, rows, cols, s, s).permute(0, 1, 2, 4, 3, 5).reshape(b, c, rows * s, cols * s)
    return x[..., :rows * s - ph, :cols * s - pw]


def _tokens(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """``B x C x S x S`` -> ``B x N x (C * 2 * 2)`` tokens of 2x2 patches (channel-major within a token)."""
    t, grid = _tiles(x, _TOKEN)
    b, c, n = t.shape[:3]
    return t.transpose(1, 2).reshape(b, n, c * _TOKEN * _TOKEN), grid


def _from_tokens(tok: torch.Tensor, c: int, grid: tuple[int, int, int, int]) -> torch.Tensor:
    b, n, _ = tok.shape
    return _untile(tok.view(b, n, c, _TOKEN, _TOKEN).permute(0, 2, 1, 3, 4), grid)


class _Attention(nn.Module):
    """Multi-head attention; the cross variant (own q / k / v projections) negates the similarities."""

    def __init__(self, dim: int, heads: int, cross: bool) -> None:
        super().__init__()
        self.n_heads, self.head_dim, self.cross = heads, dim // heads, cross
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)  # present (and unused) in the cross variant too
        if cross:
            self.q_linear, self.k_linear, self.v_linear = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.reshape(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.cross:
            q, k, v = self._heads(self.q_linear(q)), self._heads(self.k_linear(k)), self._heads(self.v_linear(v))
        else:
            b, n, d = q.shape
            q, k, v = self.qkv(q).reshape(b, n, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        sim = q @ k.transpose(-2, -1) * self.scale
        attn = (-sim if self.cross else sim).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).flatten(2))


class _MLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, cross: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads, cross)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _MLP(dim, dim * 4)


class _SelfModule(nn.Module):
    """``self_atten_module``: one self-attention block (its final ``norm`` is unused by the release)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_Block(dim, heads, cross=False)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            y = blk.norm1(x)
            x = x + blk.attn(y, y, y)
            x = x + blk.mlp(blk.norm2(x))
        return x


class _CrossModule(nn.Module):
    """``cross_atten_module``: queries from ``a``, keys and values from ``b``; the output is layer-normed."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_Block(dim, heads, cross=True)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = [a, b, b]
        for blk in self.blocks:
            n = [blk.norm1(t) for t in x]
            out = x[2] + blk.attn(*n)
            out = out + blk.mlp(blk.norm2(out))
            x = [n[0], out, self.norm(out)]
        return x[2]


class _SelfPair(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.self_atten1, self.self_atten2 = _SelfModule(dim, heads), _SelfModule(dim, heads)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = a.shape[1]
        (ta, grid), (tb, _) = _tokens(a), _tokens(b)
        return _from_tokens(self.self_atten1(ta), c, grid), _from_tokens(self.self_atten2(tb), c, grid)


class _CrossPair(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.cross_atten1, self.cross_atten2 = _CrossModule(dim, heads), _CrossModule(dim, heads)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        c = a.shape[1]
        (ta, grid), (tb, _) = _tokens(a), _tokens(b)
        return _from_tokens(self.cross_atten1(ta, tb) + self.cross_atten2(tb, ta), c, grid)


class _CrossEncoder(nn.Module):
    """Per 32x32 tile: self-attention, self-attention on the tile rolled by 16, cross-attention."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.self_atten_block1 = _SelfPair(dim, heads)
        self.self_atten_block2 = _SelfPair(dim, heads)
        self.cross_atten_block = _CrossPair(dim, heads)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        s = _TILE // 2
        a, b = self.self_atten_block1(a, b)
        a, b = self.self_atten_block2(torch.roll(a, (-s, -s), (2, 3)), torch.roll(b, (-s, -s), (2, 3)))
        return self.cross_atten_block(torch.roll(a, (s, s), (2, 3)), torch.roll(b, (s, s), (2, 3)))


class _Weight(nn.Module):
    """Fixed local-mean convolutions (1/k^2 over every channel of a k x k window) for the merge weights."""

    def __init__(self, ch_s: int, ch_d: int, k: int = 3) -> None:
        super().__init__()
        self.conv_sh = nn.Conv2d(ch_s, ch_s, k, padding=k // 2, bias=False)
        self.conv_de = nn.Conv2d(ch_d, ch_d, k, padding=k // 2, bias=False)
        with torch.no_grad():
            self.conv_sh.weight.fill_(1 / (k * k))
            self.conv_de.weight.fill_(1 / (k * k))
        self.requires_grad_(False)


class _FusionDecoder(nn.Module):
    def __init__(self, ch: int = _DIM) -> None:
        super().__init__()
        self.conv1 = _Conv(ch, ch // 2, 3, bn=True)
        self.conv_block = nn.Sequential(_Conv(ch // 2, ch // 2, 3, bn=True), nn.Upsample(scale_factor=2),
                                        _Conv(ch // 2, ch // 4, 3, bn=True), nn.Upsample(scale_factor=2),
                                        _Conv(ch // 4, ch // 4, 3, bn=True))
        self.conv_last = _Conv(ch // 4, 1, 1, bn=True)
        self.weight = _Weight(ch // 4, ch)

    def forward(self, ir_sh, vi_sh, ir_de, vi_de, fused):
        gi, gv = self.weight.conv_de(ir_de), self.weight.conv_de(vi_de)
        out = fused + gi / (gi + gv + _EPS) * ir_de + gv / (gi + gv + _EPS) * vi_de
        out = self.conv_block(F.interpolate(self.conv1(out), scale_factor=2, mode="nearest"))
        dh, dw = ir_sh.shape[2] - out.shape[2], ir_sh.shape[3] - out.shape[3]
        if dh or dw:  # UpsampleReshape_eval: reflect-pad to the shallow features' size
            out = F.pad(out, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode="reflect")
        gi = (ir_sh - self.weight.conv_sh(ir_sh)).abs()
        gv = (vi_sh - self.weight.conv_sh(vi_sh)).abs()
        out = out + 0.5 * (gi / (gi + gv + _EPS)) * ir_sh + gv / (gi + gv + _EPS) * vi_sh
        return self.conv_last(out)


class CrossFuseTrans(nn.Module):
    """``Trans_FuseNet``: ``forward(ir_de, ir_sh, vi_de, vi_sh)`` -> fused image on 0..255 (min-max)."""

    def __init__(self) -> None:
        super().__init__()
        self.cross_atten_block = _CrossEncoder(_DIM * _TOKEN * _TOKEN, _HEADS)
        self.conv_gra = nn.Conv2d(32, 32, 3, padding=1, bias=False)  # a fixed Laplacian; unused at inference
        self.decoder_fusion = _FusionDecoder()

    def forward(self, ir_de, ir_sh, vi_de, vi_sh) -> torch.Tensor:
        (ti, grid), (tv, _) = _tiles(ir_de, _TILE), _tiles(vi_de, _TILE)
        fused = torch.stack([self.cross_atten_block(ti[:, :, k], tv[:, :, k]) for k in range(ti.shape[2])], 2)
        out = self.decoder_fusion(ir_sh, vi_sh, ir_de, vi_de, _untile(fused, grid))
        flat = out.flatten(2)
        lo, hi = flat.amin(-1)[..., None, None], flat.amax(-1)[..., None, None]
        return (out - lo) / (hi - lo + _EPS) * 255


class CrossFuseNet(nn.Module):
    """The three released parts: ``forward(ir, vis)`` on grey 0..255 -> fused 0..255."""

    def __init__(self) -> None:
        super().__init__()
        self.ae_ir = CrossFuseAutoEncoder()
        self.ae_vi = CrossFuseAutoEncoder()
        self.trans = CrossFuseTrans()

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        ir_sh, ir_de = self.ae_ir(ir)
        vi_sh, vi_de = self.ae_vi(vis)
        return self.trans(ir_de, ir_sh, vi_de, vi_sh)


@FUSION_MODELS.register_module(name="crossfuse")
class CrossFuse(FusionModel, CrossFuseNet):
    """CrossFuse (the released s1_c1 model), grey, as the authors' ``test_conv_trans.py`` (``shift_flag=True``):
    sources on 0..255, the output stretched to 0..255 and truncated to uint8 (``astype('uint8')``).

    Args:
        weights: ``"crossfuse"`` (default: the three released files), a triple ``(ae_ir, ae_vi, trans)`` of
            manifest names or paths, or ``None`` (random init).
        official_8bit: truncate to the 8-bit grid as the official code (default True).
    """

    pretrained_tags = {"official": {"weights": "crossfuse"}}
    #: the 1/8 features are reflect-padded to multiples of 32, which needs at least 17 rows and columns there
    min_size = 136
    card = {
        "paper": "CrossFuse: A novel cross attention mechanism based infrared and visible image fusion approach",
        "authors": "Li, Wu", "year": 2024, "venue": "Information Fusion", "code": "https://github.com/hli1221/CrossFuse",
        "weights": ["crossfuse_ae_ir", "crossfuse_ae_vi", "crossfuse_trans"], "params": 23_310_181,
        "licence": "none stated upstream (not redistributed)",
        "input": "IR grey + visible grey on 0..255 (Y of YCrCb for colour input here; the official script reads "
                 "OpenCV grey); at least 136 x 136",
        "output": "min-max stretched to 0..255 (eps 1e-6) and truncated to uint8 (test_conv_trans.py)",
        "checked": "architecture: equal to the authors' Auto_Encoder_single and Trans_FuseNet on a seeded random "
                   "state_dict (tested); the released weights are not in ../shared; the authors' published "
                   "tno21 outputs are a precomputed row of the reference leaderboard",
    }

    def __init__(self, weights=("crossfuse_ae_ir", "crossfuse_ae_vi", "crossfuse_trans"),
                 official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        CrossFuseNet.__init__(self)
        self.official_8bit = official_8bit
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, weights, *, key=None, strict: bool = True, strip_prefix=None) -> None:
        if isinstance(weights, str) and weights == "crossfuse":
            weights = ("crossfuse_ae_ir", "crossfuse_ae_vi", "crossfuse_trans")
        if not isinstance(weights, (tuple, list)) or len(weights) != 3:
            raise WeightsError(f"CrossFuse needs three checkpoints (ae_ir, ae_vi, trans); got {weights!r}")
        parts = list(zip((self.ae_ir, self.ae_vi, self.trans), weights))
        self.weights_name, self.weights_sha256 = load_each(parts, strict=strict)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir, self.min_size)
        out = CrossFuseNet.forward(self, ir * 255.0, gray * 255.0) / 255.0
        return torch.floor(out * 255.0) / 255.0 if self.official_8bit else out
