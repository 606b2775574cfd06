"""Colour-space conversions shared by every fusion model (BT.601 full range, as OpenCV's YCrCb).

All functions take float tensors ``B x C x H x W`` with values in [0, 1] and work on any device/dtype.
Channel order of YCrCb tensors is ``(Y, Cr, Cb)``, as OpenCV's ``COLOR_RGB2YCrCb``.

``rgb_to_ycrcb(..., quantize=True)`` reproduces OpenCV's 8-bit fixed-point conversion exactly
(integer coefficients with a 14-bit shift, round-half-up, saturation). The official code of most IVIF
methods converts 8-bit images with OpenCV, so the quantised path is what parity with published fused
images needs; the float path is the mathematically exact one.
"""

from __future__ import annotations

import torch

# BT.601 luma weights and the YCrCb chroma scales OpenCV uses.
KR, KG, KB = 0.299, 0.587, 0.114
CR_SCALE, CB_SCALE = 0.713, 0.564
# Inverse transform (OpenCV's YCrCb2RGB float coefficients).
R_CR, G_CR, G_CB, B_CB = 1.403, 0.714, 0.344, 1.773

# OpenCV fixed-point (yuv_shift = 14) coefficients of RGB2YCrCb_i / RGB2Gray.
_SHIFT = 14
_Y_R, _Y_G, _Y_B = 4899, 9617, 1868
_CR, _CB = 11682, 9241
# OpenCV's 8-bit RGB2Gray uses its own table with a 15-bit shift.
_GRAY_SHIFT = 15
_G_R, _G_G, _G_B = 9798, 19235, 3735


def _check(x: torch.Tensor, channels: int, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{name}: expected a B x {channels} x H x W tensor, got shape {tuple(x.shape)}")


def _descale(v: torch.Tensor) -> torch.Tensor:
    return (v + (1 << (_SHIFT - 1))) >> _SHIFT


def _to_uint8_levels(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x.double() * 255.0).clamp(0, 255).to(torch.int64)


def rgb_to_gray(rgb: torch.Tensor, quantize: bool = False) -> torch.Tensor:
    """Luma of an RGB image: ``B x 3 x H x W`` -> ``B x 1 x H x W`` in [0, 1].

    With ``quantize=True`` the result equals OpenCV's ``COLOR_RGB2GRAY`` on the 8-bit image.
    """
    _check(rgb, 3, "rgb_to_gray")
    if quantize:
        q = _to_uint8_levels(rgb)
        y = (q[:, 0:1] * _G_R + q[:, 1:2] * _G_G + q[:, 2:3] * _G_B + (1 << (_GRAY_SHIFT - 1))) >> _GRAY_SHIFT
        return y.clamp(0, 255).to(rgb.dtype) / 255.0
    return KR * rgb[:, 0:1] + KG * rgb[:, 1:2] + KB * rgb[:, 2:3]


def rgb_to_ycrcb(rgb: torch.Tensor, quantize: bool = False) -> torch.Tensor:
    """RGB -> YCrCb (``B x 3 x H x W``, channels Y, Cr, Cb; chroma centred on 0.5).

    ``quantize=True`` gives exactly OpenCV's 8-bit ``COLOR_RGB2YCrCb`` divided by 255.
    """
    _check(rgb, 3, "rgb_to_ycrcb")
    if quantize:
        q = _to_uint8_levels(rgb)
        r, g, b = q[:, 0:1], q[:, 1:2], q[:, 2:3]
        y = _descale(r * _Y_R + g * _Y_G + b * _Y_B)
        half = 128 << _SHIFT
        cr = _descale((r - y) * _CR + half)
        cb = _descale((b - y) * _CB + half)
        out = torch.cat([y, cr, cb], dim=1).clamp(0, 255)
        return out.to(rgb.dtype) / 255.0
    y = KR * rgb[:, 0:1] + KG * rgb[:, 1:2] + KB * rgb[:, 2:3]
    cr = (rgb[:, 0:1] - y) * CR_SCALE + 0.5
    cb = (rgb[:, 2:3] - y) * CB_SCALE + 0.5
    return torch.cat([y, cr, cb], dim=1)


def ycrcb_to_rgb(ycrcb: torch.Tensor) -> torch.Tensor:
    """YCrCb (Y, Cr, Cb, chroma centred on 0.5) -> RGB, no clamping (callers clamp once at the end)."""
    _check(ycrcb, 3, "ycrcb_to_rgb")
    y, cr, cb = ycrcb[:, 0:1], ycrcb[:, 1:2] - 0.5, ycrcb[:, 2:3] - 0.5
    r = y + R_CR * cr
    g = y - G_CR * cr - G_CB * cb
    b = y + B_CB * cb
    return torch.cat([r, g, b], dim=1)
