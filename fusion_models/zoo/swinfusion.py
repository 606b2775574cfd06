"""SwinFusion (Ma, Tang, Fan, Huang, Mei, Ma, "SwinFusion: Cross-domain Long-range Learning for General Image
Fusion via Swin Transformer", IEEE/CAA Journal of Automatica Sinica 2022), Linfeng-Tang/SwinFusion: the
infrared-visible model of ``test_swinfusion.py`` (``models/network_swinfusion1.py``).

Our re-implementation of the published architecture. Each source passes two 3x3 convolutions (LeakyReLU 0.2;
the visible branch reuses the infrared branch's convolutions, as the authors' forward does, so the release's
``conv_first*_B`` weights are loaded but unused), a LayerNorm token embedding and four Swin Transformer blocks
(8 x 8 windows, every second one shifted by 4, 6 heads over 60 channels, MLP ratio 2, relative position
bias). Two cross-domain stages follow: per stage two self-attention blocks per source, then two blocks in
which each source's queries attend to the other source's keys and values. The two streams are normalised,
concatenated and merged by a 3x3 convolution; four more Swin blocks and three 3x3 convolutions reconstruct
one channel. Module names and buffers follow the authors' module (``depths`` and ``num_heads`` of the test
script are ignored by their constructor: the defaults ``Ex_depths=[4]``, ``Fusion_depths=[2, 2]``,
``Re_depths=[4]`` apply), so the released ``10000_E.pth`` loads with ``strict=True``.

The release stores each shifted block's attention mask for 128 x 128 training crops (``attn_mask``); the
authors' blocks use it at that size and recompute it at any other. The port always computes the mask for the
size at hand (the same values). Architecture parity with the authors' module is tested on a seeded random
state_dict; the released weights are not in ``../shared``.
"""

from __future__ import annotations

import functools
import os

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE
from sagebench.weights import register_rows

#: The authors' EMA checkpoint that test_swinfusion.py loads (``<iter>_E.pth``; no sha256 published: pinned
#: and reported on first use; git blob id checked).
WEIGHTS = register_rows(
    ("swinfusion", "https://github.com/Linfeng-Tang/SwinFusion/raw/master/Model/Infrared_Visible_Fusion/"
     "Infrared_Visible_Fusion/models/10000_E.pth", "", 0, "swinfusion/10000_E.pth", NO_LICENCE,
     "Linfeng-Tang/SwinFusion@ceeec3f Model/Infrared_Visible_Fusion/Infrared_Visible_Fusion/models/10000_E.pth "
     "(state_dict)", dict(redistributable=False, git_blob="67788c10509e2e63b81190ad56c206de5eb514c5")),
)

_DIM, _HEADS, _WINDOW, _MLP_RATIO = 60, 6, 8, 2
_TRAIN_SIZE = 128  # the crops the release was built for: the size of its stored attention masks
_EX_DEPTH, _FUSION_DEPTHS, _RE_DEPTH = 4, (2, 2), 4
_WINDOW_CHUNK = 1024  # windows per attention call: bounds the N x N attention maps' memory


def _to_windows(x: torch.Tensor, ws: int) -> torch.Tensor:
    """``B x H x W x C`` -> ``(B * nW) x ws^2 x C``, windows in row-major order."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def _from_windows(w: torch.Tensor, ws: int, B: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`_to_windows`."""
    x = w.view(B, H // ws, W // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, -1)


def _relative_index(ws: int) -> torch.Tensor:
    """``ws^2 x ws^2`` index into the ``(2 ws - 1)^2`` relative-position table for every token pair."""
    yy, xx = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    coords = torch.stack([yy.flatten(), xx.flatten()])
    rel = coords[:, :, None] - coords[:, None, :] + (ws - 1)
    return rel[0] * (2 * ws - 1) + rel[1]


@functools.lru_cache(maxsize=16)
def _shift_mask(H: int, W: int, ws: int, shift: int) -> torch.Tensor:
    """``nW x ws^2 x ws^2`` additive mask of a cyclically shifted window partition: -100 between tokens that
    come from different regions of the unshifted image, 0 elsewhere."""
    region = torch.zeros(1, H, W, 1)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for i, hs in enumerate(cuts):
        for j, wsl in enumerate(cuts):
            region[:, hs, wsl, :] = 3 * i + j
    ids = _to_windows(region, ws).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.where(diff != 0, torch.full_like(diff, -100.0), torch.zeros_like(diff))


class _Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * _MLP_RATIO)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(dim * _MLP_RATIO, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _WindowAttention(nn.Module):
    """Multi-head attention inside each window with a learned relative-position bias; ``cross=True`` takes
    the queries from one input and keys and values from the other (``q`` and ``kv`` instead of ``qkv``)."""

    def __init__(self, dim: int, heads: int, ws: int, cross: bool = False) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        self.register_buffer("relative_position_index", _relative_index(ws))
        if cross:
            self.q, self.kv = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, mask: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``x`` (and ``y``): ``(B * nW) x N x C`` windows; ``mask``: ``nW x N x N`` or None."""
        Bw, N, C = x.shape
        hd = C // self.heads
        if y is None:
            q, k, v = self.qkv(x).reshape(Bw, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        else:
            q = self.q(x).reshape(Bw, N, self.heads, hd).transpose(1, 2)
            k, v = self.kv(y).reshape(Bw, N, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(N, N, -1).permute(2, 0, 1)
        attn = (q * self.scale) @ k.transpose(-2, -1) + bias.unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = (attn.view(Bw // nW, nW, self.heads, N, N) + mask[None, :, None]).view(Bw, self.heads, N, N)
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(Bw, N, C)
        return self.proj(out)


class _BlockBase(nn.Module):
    """Window partition, cyclic shift and the release's stored mask buffer, shared by both block kinds."""

    def _init_shift(self, shift: int) -> None:
        self.shift = shift
        mask = _shift_mask(_TRAIN_SIZE, _TRAIN_SIZE, _WINDOW, shift).clone() if shift else None
        self.register_buffer("attn_mask", mask)  # as released (128 x 128); forward computes its own

    def _partition(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = x.view(x.shape[0], H, W, -1)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        return _to_windows(x, _WINDOW)

    def _merge(self, w: torch.Tensor, B: int, H: int, W: int) -> torch.Tensor:
        x = _from_windows(w, _WINDOW, B, H, W)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        return x.reshape(B, H * W, -1)

    def _mask(self, H: int, W: int, device: torch.device) -> torch.Tensor | None:
        return _shift_mask(H, W, _WINDOW, self.shift).to(device) if self.shift else None


def _chunked(attn: _WindowAttention, x: torch.Tensor, y: torch.Tensor | None, mask: torch.Tensor | None,
             B: int) -> torch.Tensor:
    """Attention over the windows of each image, at most ``_WINDOW_CHUNK`` windows per call (the same values
    as one call; the ``N x N`` maps of a large image would take gigabytes)."""
    nW = x.shape[0] // B
    step = max(1, _WINDOW_CHUNK // nW) * nW if nW <= _WINDOW_CHUNK else None
    if step is not None:  # whole images per call
        return torch.cat([attn(x[i:i + step], None if y is None else y[i:i + step], mask)
                          for i in range(0, x.shape[0], step)])
    parts = []
    for b in range(B):  # one image per call, its windows in chunks (the mask chunked alike)
        for i in range(0, nW, _WINDOW_CHUNK):
            sl = slice(b * nW + i, b * nW + min(i + _WINDOW_CHUNK, nW))
            m = None if mask is None else mask[i:i + _WINDOW_CHUNK]
            parts.append(attn(x[sl], None if y is None else y[sl], m))
    return torch.cat(parts)


class _SwinBlock(_BlockBase):
    """(Shifted) window self-attention and an MLP, each after a LayerNorm with a residual connection."""

    def __init__(self, dim: int, heads: int, shift: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _WindowAttention(dim, heads, _WINDOW)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim)
        self._init_shift(shift)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        (H, W), B = size, x.shape[0]
        w = _chunked(self.attn, self._partition(self.norm1(x), H, W), None, self._mask(H, W, x.device), B)
        x = x + self._merge(w, B, H, W)
        return x + self.mlp(self.norm2(x))


class _CrossSwinBlock(_BlockBase):
    """Cross-domain block: source A's queries attend to B's keys/values and vice versa, per (shifted) window."""

    def __init__(self, dim: int, heads: int, shift: int) -> None:
        super().__init__()
        self.norm1_A, self.norm1_B = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn_A = _WindowAttention(dim, heads, _WINDOW, cross=True)
        self.attn_B = _WindowAttention(dim, heads, _WINDOW, cross=True)
        self.norm2_A, self.norm2_B = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mlp_A, self.mlp_B = _Mlp(dim), _Mlp(dim)
        self._init_shift(shift)

    def forward(self, x: torch.Tensor, y: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        (H, W), B = size, x.shape[0]
        mask = self._mask(H, W, x.device)
        xw, yw = self._partition(self.norm1_A(x), H, W), self._partition(self.norm1_B(y), H, W)
        ax = self._merge(_chunked(self.attn_A, xw, yw, mask, B), B, H, W)
        ay = self._merge(_chunked(self.attn_B, yw, xw, mask, B), B, H, W)
        x, y = x + ax, y + ay
        return x + self.mlp_A(self.norm2_A(x)), y + self.mlp_B(self.norm2_B(y))


class _BasicLayer(nn.Module):
    def __init__(self, depth: int, cross: bool = False) -> None:
        super().__init__()
        kind = _CrossSwinBlock if cross else _SwinBlock
        self.blocks = nn.ModuleList([kind(_DIM, _HEADS, 0 if i % 2 == 0 else _WINDOW // 2) for i in range(depth)])

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, size)
        return x

    def forward_pair(self, x: torch.Tensor, y: torch.Tensor, size: tuple[int, int]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        for blk in self.blocks:
            x, y = blk(x, y, size)
        return x, y


class _RSTB(nn.Module):
    """The authors' "residual Swin Transformer block" (here without a convolution or residual: only its
    ``residual_group`` of Swin blocks)."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.residual_group = _BasicLayer(depth)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.residual_group(x, size)


class _CRSTB(nn.Module):
    """One cross-domain stage: self-attention blocks per source, then cross-attention blocks."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.residual_group = _BasicLayer(depth, cross=True)
        self.residual_group_A = _BasicLayer(depth)
        self.residual_group_B = _BasicLayer(depth)

    def forward(self, x: torch.Tensor, y: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.residual_group.forward_pair(self.residual_group_A(x, size), self.residual_group_B(y, size), size)


class _PatchEmbed(nn.Module):
    """``B x C x H x W`` -> ``B x HW x C`` tokens, LayerNorm (one instance shared by every stage)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.flatten(2).transpose(1, 2))


def _unembed(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *size)


def mirror_pad(x: torch.Tensor, multiple: int = _WINDOW) -> torch.Tensor:
    """test_swinfusion.py's padding: to the next multiple of ``multiple`` strictly above each side (a side that
    is already a multiple gets ``multiple`` more), with the image's mirror image (edge row repeated)."""
    h, w = x.shape[-2:]
    ph, pw = (h // multiple + 1) * multiple, (w // multiple + 1) * multiple
    x = torch.cat([x, torch.flip(x, [2])], 2)[:, :, :ph]
    return torch.cat([x, torch.flip(x, [3])], 3)[:, :, :, :pw]


class SwinFusionNet(nn.Module):
    """The bare network: ``forward(A, B)`` on grey ``B x 1 x H x W`` in [0, 1] (A infrared, B visible Y)
    -> ``B x 1 x H x W`` (unbounded; the test script clamps to [0, 1] when saving). Sides that are not
    multiples of 8 are reflect-padded inside, as the authors' ``check_image_size``."""

    def __init__(self) -> None:
        super().__init__()
        half = _DIM // 2
        self.conv_first1_A, self.conv_first1_B = nn.Conv2d(1, half, 3, 1, 1), nn.Conv2d(1, half, 3, 1, 1)
        self.conv_first2_A, self.conv_first2_B = nn.Conv2d(half, _DIM, 3, 1, 1), nn.Conv2d(half, half, 3, 1, 1)
        self.patch_embed = _PatchEmbed(_DIM)
        self.layers_Ex_A = nn.ModuleList([_RSTB(_EX_DEPTH)])
        self.norm_Ex_A = nn.LayerNorm(_DIM)
        self.layers_Ex_B = nn.ModuleList([_RSTB(_EX_DEPTH)])
        self.norm_Ex_B = nn.LayerNorm(_DIM)
        self.layers_Fusion = nn.ModuleList([_CRSTB(d) for d in _FUSION_DEPTHS])
        self.norm_Fusion_A, self.norm_Fusion_B = nn.LayerNorm(_DIM), nn.LayerNorm(_DIM)
        self.layers_Re = nn.ModuleList([_RSTB(_RE_DEPTH)])
        self.norm_Re = nn.LayerNorm(_DIM)
        self.conv_after_body_Fusion = nn.Conv2d(2 * _DIM, _DIM, 3, 1, 1)
        self.conv_last1 = nn.Conv2d(_DIM, half, 3, 1, 1)
        self.conv_last2 = nn.Conv2d(half, half // 2, 3, 1, 1)
        self.conv_last3 = nn.Conv2d(half // 2, 1, 3, 1, 1)

    def _extract(self, x: torch.Tensor, layers: nn.ModuleList, norm: nn.LayerNorm) -> torch.Tensor:
        x = F.leaky_relu(self.conv_first1_A(x), 0.2)  # both sources: the A convolutions (authors' forward)
        x = F.leaky_relu(self.conv_first2_A(x), 0.2)
        size = (x.shape[2], x.shape[3])
        t = self.patch_embed(x)
        for layer in layers:
            t = layer(t, size)
        return _unembed(norm(t), size)

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        H, W = A.shape[2:]
        ph, pw = (-H) % _WINDOW, (-W) % _WINDOW
        if ph or pw:
            A, B = F.pad(A, (0, pw, 0, ph), "reflect"), F.pad(B, (0, pw, 0, ph), "reflect")
        x = self._extract(A, self.layers_Ex_A, self.norm_Ex_A)
        y = self._extract(B, self.layers_Ex_B, self.norm_Ex_B)
        size = (x.shape[2], x.shape[3])
        tx, ty = self.patch_embed(x), self.patch_embed(y)
        for layer in self.layers_Fusion:
            tx, ty = layer(tx, ty, size)
        fused = torch.cat([_unembed(self.norm_Fusion_A(tx), size), _unembed(self.norm_Fusion_B(ty), size)], 1)
        t = self.patch_embed(F.leaky_relu(self.conv_after_body_Fusion(fused), 0.2))
        for layer in self.layers_Re:
            t = layer(t, size)
        x = _unembed(self.norm_Re(t), size)
        x = F.leaky_relu(self.conv_last1(x), 0.2)
        x = F.leaky_relu(self.conv_last2(x), 0.2)
        return self.conv_last3(x)[:, :, :H, :W]


@FUSION_MODELS.register_module(name="swinfusion")
class SwinFusion(FusionModel, SwinFusionNet):
    """SwinFusion's infrared-visible model, grey (IR with the visible luminance; chroma of a colour visible
    image restored).

    As the authors' ``test_swinfusion.py``: sources on [0, 1] (A = infrared, B = visible Y), padded with their
    mirror image to the next multiple of 8 strictly above each side, fused whole, cropped back; clamped to
    [0, 1] and rounded to 8 bits when written.

    Args:
        weights: manifest name (default ``"swinfusion"``), checkpoint path, or ``None`` (random init).
    """

    pretrained_tags = {"official": {"weights": "swinfusion"}}
    min_size = _WINDOW  # the mirror padding adds up to 8 rows / columns of the image itself
    card = {
        "paper": "SwinFusion: Cross-domain Long-range Learning for General Image Fusion via Swin Transformer",
        "authors": "Ma, Tang, Fan, Huang, Mei, Ma", "year": 2022, "venue": "IEEE/CAA J. Autom. Sinica",
        "code": "https://github.com/Linfeng-Tang/SwinFusion", "weights": "swinfusion", "params": 973_681,
        "licence": "none stated upstream (not redistributed)",
        "input": "IR grey (A) + visible Y of YCbCr (B; the official script reads pre-extracted VI_Y images with "
                 "OpenCV grey), both on [0, 1]; at least 8 x 8",
        "output": "mirror-padded to the next multiple of 8 above each side and cropped back (test script); the "
                  "raw output clamped to [0, 1]; written with sagebench's 8-bit rounding (the script rounds too)",
        "checked": "architecture: equal to the authors' SwinFusion (network_swinfusion1.py) on a seeded random "
                   "state_dict (tested); the released weights are not in ../shared, so outputs are not compared",
    }

    def __init__(self, weights: str | os.PathLike | None = "swinfusion") -> None:
        FusionModel.__init__(self)
        SwinFusionNet.__init__(self)
        if weights is not None:
            self.load_weights(weights)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        h, w = ir.shape[-2:]
        return SwinFusionNet.forward(self, mirror_pad(ir), mirror_pad(gray))[..., :h, :w]
