"""SAGE teacher ("main network") of Wu et al., "Every SAM Drop Counts", CVPR 2025.

A fusion network that reads the visible luminance, the IR image and ``mask_num`` SAM-segment images per
modality. Its semantic persistent attention (SPA) block -- one set of weights shared by all five scales
-- lets the mask streams cross-attend to keys/values produced by the image stream (the "persistent
repository") and routes them on to the image stream. Five compressed intermediates (32 channels at
scales 1, 1/2, 1/4, 1/2, 1) have exactly the shapes of the student's ``x1..x5`` and are the teacher side
of the feature distillation.

Written from the architecture description in the project's SAGE notes (sections 2.1-2.4). The official
teacher defines one module that its forward never uses (``compress_and_upsample``); it is left out here
(no official teacher weights exist), so the model has 2,639,505 learnable parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.sage.attention import SpatialTransformer
from sagebench.fusion_models.sage.student import SAGE_PAPER

MaskProvider = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _conv(cin: int, cout: int, act: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1)]
    if act:
        layers.append(nn.LeakyReLU())
    return layers


class SPABlock(nn.Module):
    """Semantic persistent attention at one scale: ``forward(img, vi, ir) -> (out, vi'', ir'')``.

    Inputs are ``B x 64 x Hl x Wl``; the transformers run on a 4x max-pooled grid. ``out`` has 256
    channels (transformed image, pooled image, refined image, transformed mask stream) and the input
    size; ``vi''``/``ir''`` are the refined mask streams (64 channels, input size).
    """

    def __init__(self, ch: int = 64, heads: int = 2, dim_head: int = 32) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(4)
        self.img_transformer1 = SpatialTransformer(ch, heads, dim_head)
        self.mask_transformer1_vi = SpatialTransformer(ch, heads, dim_head)
        self.mask_transformer1_ir = SpatialTransformer(ch, heads, dim_head)
        self.mask_transformer2 = SpatialTransformer(ch, heads, dim_head)
        self.img_transformer2 = SpatialTransformer(ch, heads, dim_head)
        self.middle_mask_ir = nn.Sequential(*_conv(2 * ch, ch))
        self.middle_mask_vi = nn.Sequential(*_conv(2 * ch, ch))
        self.middle_mask = nn.Sequential(*_conv(2 * ch, ch))
        self.middle_img = nn.Sequential(*_conv(2 * ch, ch))

    def forward(self, img: torch.Tensor, vi: torch.Tensor, ir: torch.Tensor):
        size_img, size_vi, size_ir = img.shape[-2:], vi.shape[-2:], ir.shape[-2:]
        img_p, vi_p, ir_p = self.pool(img), self.pool(vi), self.pool(ir)
        img1, repo = self.img_transformer1(img_p)            # repository R from the image stream
        vi1, _ = self.mask_transformer1_vi(vi_p, repo)
        ir1, _ = self.mask_transformer1_ir(ir_p, repo)
        ir2 = self.middle_mask_ir(torch.cat([ir1, ir_p], 1)) + ir1
        vi2 = self.middle_mask_vi(torch.cat([vi1, vi_p], 1)) + vi1
        mask = self.middle_mask(torch.cat([ir2, vi2], 1)) + ir2 + vi2 + vi1 + ir1
        img2 = self.middle_img(torch.cat([img1, img_p], 1)) + img1
        mask3, repo2 = self.mask_transformer2(mask, repo)   # repository handed on through the mask stream
        img3, _ = self.img_transformer2(img2, repo2)
        out = torch.cat([img3, img_p, img2, mask3], 1)

        def up(t: torch.Tensor, size) -> torch.Tensor:
            return F.interpolate(t, size=size, mode="bilinear", align_corners=False)

        return up(out, size_img), up(vi2, size_vi), up(ir2, size_ir)


class SAGETeacherNet(nn.Module):
    """The bare teacher: ``forward(vis_y, ir, vi_masks, ir_masks) -> (fused, (t1, ..., t5))``.

    Args (forward): ``vis_y``, ``ir``: ``B x 1 x H x W`` in [0, 1]; ``vi_masks``, ``ir_masks``:
    ``B x mask_num x H x W`` SAM-segment images (see :mod:`sagebench.fusion_models.sage.sam_priors`). H and W should be
    multiples of 16 (two 2x downsamplings followed by the 4x pooling inside SPA).

    ``width`` is 64 in the paper (every other channel count follows from it: 16/32 in the encoders,
    256 after SPA, 320-256-128-64 and 96-64-32-16-1 in the decoder); smaller widths give a proportionally
    scaled teacher for CPU tests. ``feat_dim`` is the width of the compressed intermediates (= the
    student's width).

    Returns the fused luminance ``B x 1 x H x W`` (ends in LeakyReLU: not bounded to [0, 1]) and the
    compressed intermediates ``B x 32 x {H, H/2, H/4, H/2, H}``.
    """

    def __init__(self, mask_num: int = 4, width: int = 64, feat_dim: int = 32) -> None:
        super().__init__()
        c = width
        if c % 8:
            raise ValueError(f"teacher width must be a multiple of 8, got {width}")
        self.mask_num, self.width = mask_num, width
        q, h = c // 4, c // 2                       # 16 and 32 channels in the paper's width 64
        self.encoder_img1 = nn.Sequential(*_conv(2, q), *_conv(q, h))
        self.encoder_img2 = nn.Sequential(*_conv(h, c))
        self.encoder_mask1_ir = nn.Sequential(*_conv(mask_num, q), *_conv(q, h))
        self.encoder_mask2_ir = nn.Sequential(*_conv(h, c))
        self.encoder_mask1_vi = nn.Sequential(*_conv(mask_num, q), *_conv(q, h))
        self.encoder_mask2_vi = nn.Sequential(*_conv(h, c, act=False))  # no activation, as upstream
        self.spa = SPABlock(c, heads=2, dim_head=c // 2)
        self.compress_and_downsample_img1 = nn.Sequential(nn.Conv2d(4 * c, c, 3, padding=1), nn.MaxPool2d(2),
                                                          nn.LeakyReLU())
        self.compress_and_downsample_img2 = nn.Sequential(nn.Conv2d(4 * c, c, 3, padding=1), nn.MaxPool2d(2),
                                                          nn.LeakyReLU())
        self.compress_and_downsample_img3 = nn.Sequential(*_conv(4 * c, c))
        self.compress_and_downsample_img4 = nn.Sequential(*_conv(4 * c, c))
        self.mask_down = nn.MaxPool2d(2)
        self.img_decoder1 = nn.Sequential(*_conv(5 * c, 4 * c), *_conv(4 * c, 2 * c), *_conv(2 * c, c))
        self.img_decoder2 = nn.Sequential(*_conv(c + h, c), *_conv(c, h), *_conv(h, q), *_conv(q, 1))
        self.compress_to_32 = nn.ModuleList(nn.Conv2d(4 * c, feat_dim, 1) for _ in range(5))

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor, vi_masks: torch.Tensor, ir_masks: torch.Tensor):
        if vi_masks.shape[1] != self.mask_num or ir_masks.shape[1] != self.mask_num:
            raise ValueError(f"teacher expects {self.mask_num} mask channels per modality, got "
                             f"{vi_masks.shape[1]} (visible) and {ir_masks.shape[1]} (IR)")
        img0 = self.encoder_img1(torch.cat([vis_y, ir], 1))
        img = self.encoder_img2(img0)
        skip0 = img
        ir_m = self.encoder_mask2_ir(self.encoder_mask1_ir(ir_masks))
        vi_m = self.encoder_mask2_vi(self.encoder_mask1_vi(vi_masks))

        out1, vi_m, ir_m = self.spa(img, vi_m, ir_m)                         # level H
        img = self.compress_and_downsample_img1(out1)
        out2, vi_m, ir_m = self.spa(img, self.mask_down(vi_m), self.mask_down(ir_m))  # H/2
        img = self.compress_and_downsample_img2(out2)
        out3, vi_m, ir_m = self.spa(img, self.mask_down(vi_m), self.mask_down(ir_m))  # H/4

        def up(t: torch.Tensor, size) -> torch.Tensor:
            return F.interpolate(t, size=size, mode="bilinear", align_corners=True)

        img = self.compress_and_downsample_img3(up(out3, out2.shape[-2:]) + out2)
        size2 = img.shape[-2:]
        out4, vi_m, ir_m = self.spa(img, up(vi_m, size2), up(ir_m, size2))    # H/2
        img = self.compress_and_downsample_img4(up(out4, out1.shape[-2:]) + out1)
        size1 = img.shape[-2:]
        out5, vi_m, ir_m = self.spa(img, up(vi_m, size1), up(ir_m, size1))    # H

        dec = self.img_decoder1(torch.cat([out5, skip0], 1))
        fused = self.img_decoder2(torch.cat([dec, img0], 1))
        feats = tuple(head(o) for head, o in zip(self.compress_to_32, (out1, out2, out3, out4, out5)))
        return fused, feats


def unmasked_inputs(vis_y: torch.Tensor, ir: torch.Tensor, mask_num: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask inputs when no SAM segments are available: ``mask_num`` copies of the full images (the
    official data loader's padding rule). Returns ``(vi_masks, ir_masks)``, ``B x mask_num x H x W``."""
    return vis_y.expand(-1, mask_num, -1, -1), ir.expand(-1, mask_num, -1, -1)


@FUSION_MODELS.register_module(name="sage_teacher")
class SAGETeacher(FusionModel, SAGETeacherNet):
    """SAGE teacher as a fusion model (research use: it is slow and needs SAM masks).

    Args:
        weights: a checkpoint path (a teacher state_dict, e.g. ``teacher_final.pt`` written by
            ``sagebench train``) or ``None`` for a random initialisation. No official weights exist.
        mask_num: SAM segments per modality (4 in the paper).
        width: base width (64 in the paper; see :class:`SAGETeacherNet`).
        mask_provider: callable ``(ir, vis_y) -> (vi_masks, ir_masks)`` on ``B x 1 x H x W`` tensors;
            e.g. :meth:`sagebench.fusion_models.sage.sam_priors.SamPriors.teacher_inputs_for_tensors`. ``None`` uses
            unmasked copies of the inputs (the upstream padding rule).
    """

    min_size = 9  # the smallest size its pooling and attention stages accept (tested)

    pad_multiple = 16
    card = {
        **SAGE_PAPER,
        "requires": "a trained teacher checkpoint (none is released; train with `sagebench train configs/sage/...`)",
        "input": "visible Y + IR grey in [0, 1] and 4+4 SAM segment images; output LeakyReLU Y",
    }

    def __init__(self, weights: str | None = None, mask_num: int = 4, width: int = 64,
                 mask_provider: MaskProvider | None = None) -> None:
        FusionModel.__init__(self)
        SAGETeacherNet.__init__(self, mask_num=mask_num, width=width)
        self.mask_provider = mask_provider
        if weights is not None:
            self.load_weights(weights)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        if self.mask_provider is None:
            vi_m, ir_m = unmasked_inputs(gray, ir, self.mask_num)
        else:
            vi_m, ir_m = self.mask_provider(ir, gray)
            vi_m, ir_m = vi_m.to(gray), ir_m.to(gray)
        return SAGETeacherNet.forward(self, gray, ir, vi_m, ir_m)[0]
