"""Attention blocks of the SAGE teacher: a latent-diffusion-style spatial transformer whose second
(cross-)attention can take externally supplied keys/values -- the "persistent repository" of the
SPA block (semantic persistent attention).

Shapes: feature maps are ``B x C x h x w``; tokens are ``B x N x C`` with ``N = h * w`` (row-major).
A repository is a list with one ``[keys, values]`` pair of ``B x N x C`` tensors (already projected by
the producer's ``to_k`` / ``to_v``; consumers project them again with their own ``to_k`` / ``to_v``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Repository = list[list[torch.Tensor]]


class CrossAttention(nn.Module):
    """Multi-head attention; q/k/v projections without bias, output projection with bias.

    :meth:`forward_kv` returns the projected keys and values as well, so they can be handed on.
    """

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, n, inner = q.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], h, inner // h).transpose(1, 2)

        attn = torch.softmax(split(q) @ split(k).transpose(-1, -2) * self.scale, dim=-1)
        out = (attn @ split(v)).transpose(1, 2).reshape(b, n, inner)
        return self.to_out(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention on ``B x N x C`` tokens."""
        return self._attend(self.to_q(x), self.to_k(x), self.to_v(x))

    def forward_kv(self, x: torch.Tensor, ctx_k: torch.Tensor | None = None,
                   ctx_v: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention with queries from ``x``; keys/values from ``ctx_k``/``ctx_v`` when given, else from
        ``x``. Returns ``(out, k, v)`` with ``k``, ``v`` the projected ``B x N x inner`` tensors."""
        k = self.to_k(x if ctx_k is None else ctx_k)
        v = self.to_v(x if ctx_v is None else ctx_v)
        return self._attend(self.to_q(x), k, v), k, v


class GEGLUFeedForward(nn.Module):
    """``Linear(dim, 2 * hidden)`` split into value/gate, ``value * GELU(gate)``, ``Linear(hidden, dim)``."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = dim * mult
        self.proj = nn.Linear(dim, 2 * hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return self.out(self.drop(value * F.gelu(gate)))


class TransformerBlock(nn.Module):
    """Self-attention, repository cross-attention, GEGLU feed-forward; pre-LayerNorm residuals."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.attn1 = CrossAttention(dim, heads, dim_head, dropout)
        self.attn2 = CrossAttention(dim, heads, dim_head, dropout)
        self.ff = GEGLUFeedForward(dim, dropout=dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, t: torch.Tensor, repo: Repository | None = None) -> tuple[torch.Tensor, Repository]:
        t = t + self.attn1(self.norm1(t))
        ctx_k, ctx_v = (repo[0][0], repo[0][1]) if repo else (None, None)
        out, k, v = self.attn2.forward_kv(self.norm2(t), ctx_k, ctx_v)
        t = t + out
        t = t + self.ff(self.norm3(t))
        return t, [[k, v]]


class SpatialTransformer(nn.Module):
    """GroupNorm -> 1x1 ``proj_in`` -> tokens -> :class:`TransformerBlock` -> 1x1 ``proj_out``
    (zero-initialised) -> residual. ``forward(x, repo) -> (B x C x h x w, new repository)``."""

    def __init__(self, channels: int = 64, heads: int = 2, dim_head: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(4, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(channels, inner, 1)
        self.block = TransformerBlock(inner, heads, dim_head, dropout)
        self.proj_out = nn.Conv2d(inner, channels, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, repo: Repository | None = None) -> tuple[torch.Tensor, Repository]:
        b, _, h, w = x.shape
        t = self.proj_in(self.norm(x))
        t = t.flatten(2).transpose(1, 2)
        t, new_repo = self.block(t, repo)
        t = t.transpose(1, 2).reshape(b, -1, h, w)
        return self.proj_out(t) + x, new_repo
