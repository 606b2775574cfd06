"""SAGE student (Wu et al., "Every SAM Drop Counts", CVPR 2025): the 0.136 M-parameter CNN distilled
from the SAM-guided teacher. Needs no SAM at inference.

Re-implemented from the architecture description in the project's SAGE notes; module names and
``nn.Sequential`` indices follow the released checkpoint so that it loads with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS


def cbl(cin: int, cout: int, k: int = 3) -> list[nn.Module]:
    """Conv(k x k, stride 1, same padding, bias) -> BatchNorm2d -> LeakyReLU(0.01) (in place: same values,
    one full-size pass fewer)."""
    return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout), nn.LeakyReLU(0.01, inplace=True)]


def stage(cin: int, width: int) -> nn.Sequential:
    """Three CBL(3) blocks; Sequential indices 0..8 (conv 0/3/6, BN 1/4/7, activation 2/5/8)."""
    return nn.Sequential(*cbl(cin, width), *cbl(width, width), *cbl(width, width))


class SAGEStudentNet(nn.Module):
    """The bare network: ``forward(vis_y, ir) -> (fused_y, (x1, x2, x3, x4, x5))``.

    Inputs ``B x 1 x H x W`` in [0, 1] (visible luminance first, as the official code). Output is tanh,
    ``B x 1 x H x W``. The intermediates (width ``dim``) are at scales 1, 1/2, 1/4, 1/2, 1 and are the
    student side of the feature-distillation loss.
    """

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.module1 = stage(2, dim)
        self.downsample1 = nn.MaxPool2d(2)
        self.module2 = stage(dim, dim)
        self.downsample2 = nn.MaxPool2d(2)
        self.module3 = stage(dim, dim)
        self.adjust_channels4 = nn.Sequential(*cbl(2 * dim, dim, k=1))
        self.module4 = stage(dim, dim)
        self.adjust_channels5 = nn.Sequential(*cbl(2 * dim, dim, k=1))
        self.module5 = stage(dim, dim)
        self.final_decoder = nn.Sequential(nn.Conv2d(dim, 1, 3, padding=1), nn.Tanh())

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor):
        x1 = self.module1(torch.cat([vis_y, ir], dim=1))
        x2 = self.module2(self.downsample1(x1))
        x3 = self.module3(self.downsample2(x2))
        up3 = F.interpolate(x3, size=x2.shape[-2:], mode="bilinear", align_corners=False)
        x4 = self.module4(self.adjust_channels4(torch.cat([up3, x2], dim=1)))
        up4 = F.interpolate(x4, size=x1.shape[-2:], mode="bilinear", align_corners=False)
        x5 = self.module5(self.adjust_channels5(torch.cat([up4, x1], dim=1)))
        return self.final_decoder(x5), (x1, x2, x3, x4, x5)



#: Above this many pixels per image (and with sides that are multiples of 4), inference runs in tiles of
#: ``_TILE`` x ``_TILE`` output pixels, each computed with ``_HALO`` pixels of context on every side: the
#: network's receptive field reaches 37 pixels, so a tile's output is the whole image's there (tested), and
#: memory stays that of one tile instead of growing with the image (a 4096 x 4096 image needed 13 GB).
#: Tile corners stay on multiples of 4, the grid of the two 2 x 2 poolings and of the bilinear upsamplings.
_TILE_ABOVE = 4 * 1024 * 1024
_TILE, _HALO = 1536, 64


def tiled(fn, gray: torch.Tensor, ir: torch.Tensor, tile: int = _TILE, halo: int = _HALO) -> torch.Tensor:
    """``fn(gray, ir) -> B x 1 x h x w`` applied to overlapping tiles of ``B x 1 x H x W`` inputs (``H``, ``W``,
    ``tile`` and ``halo`` multiples of 4), each tile's centre written into the ``B x 1 x H x W`` result."""
    B, _, H, W = ir.shape
    out = torch.empty(B, 1, H, W, dtype=ir.dtype, device=ir.device)
    fmt = torch.channels_last if ir.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    for y in range(0, H, tile):
        for x in range(0, W, tile):
            y0, x0 = max(0, y - halo), max(0, x - halo)
            y1, x1 = min(H, y + tile + halo), min(W, x + tile + halo)
            part = fn(gray[..., y0:y1, x0:x1].contiguous(memory_format=fmt),
                      ir[..., y0:y1, x0:x1].contiguous(memory_format=fmt))
            h, w = min(tile, H - y), min(tile, W - x)
            out[..., y:y + h, x:x + w] = part[..., y - y0:y - y0 + h, x - x0:x - x0 + w]
    return out


#: Publication facts shared by the SAGE student's and teacher's model cards.
SAGE_PAPER = {
    "paper": "Every SAM Drop Counts: Embracing Semantic Priors for Multi-Modality Image Fusion and Beyond",
    "authors": "Wu, Liu, Liu, Ma, Fan, Liu",
    "year": 2025,
    "venue": "CVPR",
    "code": "https://github.com/RollingPlain/SAGE_IVIF",
    "licence": "MIT",
}

@FUSION_MODELS.register_module(name="sage_student")
class SAGEStudent(FusionModel, SAGEStudentNet):
    """SAGE student as a fusion model.

    Args:
        weights: manifest name (default: the authors' release), a checkpoint path, or ``None`` for an
            explicitly random initialisation (training from scratch).
        dim: network width (32 in the release).
        quantize_colour: emulate the official OpenCV 8-bit YCrCb conversion (default True: parity with
            the authors' published fused images).
    """

    pretrained_tags = {"official": {"weights": "sage_student_official"}}

    min_size = 4  # the smallest size its pooling stages accept (tested)

    card = {
        **SAGE_PAPER,
        "weights": "sage_student_official",
        "input": "visible Y (OpenCV 8-bit YCrCb) + IR grey, [0, 1]; output tanh Y, chroma from visible",
        "checked": "parity with the authors' fused M3FD 00000-00005 (max 1 grey level)",
        "grey visible": "a grey visible image gives a grey output here. The official code reads every visible "
                        "image as colour and restores it with utils.YCrCb2RGB, whose 0.5 offsets do not cancel "
                        "OpenCV's 8-bit chroma of 128/255: its RGB output of a grey scene is tinted by about "
                        "R +0.7, G -0.5, B +0.9 grey levels before rounding (so 1 level in some pixels); "
                        "metrics on luminance are unaffected",
    }

    def __init__(self, weights: str | None = "sage_student_official", dim: int = 32,
                 quantize_colour: bool = True) -> None:
        FusionModel.__init__(self)
        SAGEStudentNet.__init__(self, dim=dim)
        self.quantize_colour = quantize_colour
        if weights is not None:
            self.load_weights(weights)

    def configure(self, device: str | torch.device | None = None, precision: str | None = None,
                  channels_last: bool | None = None, fold_bn: bool | None = None, compile: bool = False):
        """As :meth:`FusionModel.configure`, except that on the CPU in fp32 the fast path is the default:
        inference runs on a private copy of the network with BatchNorm folded into the convolutions, in
        channels_last (within 2.5e-4 grey levels of the plain path before rounding: a handful of 8-bit values
        per megapixel move by one; tested against the authors' outputs). The model itself, its
        ``state_dict`` and its weights stay as released. ``fold_bn=False, channels_last=False`` gives the
        plain path; an explicit ``fold_bn=True`` folds the model itself, as for any method."""
        dev = torch.device(device) if device is not None else self.device
        fast = dev.type == "cpu" and precision in (None, "fp32") and not self.training
        self._fast_default = fast and fold_bn is None and channels_last is None
        self.__dict__.pop("_fast_net", None)
        return super().configure(device, precision, channels_last=bool(channels_last), fold_bn=bool(fold_bn),
                                 compile=compile)

    def _fast_copy(self) -> SAGEStudentNet:
        """The folded channels_last copy the CPU default runs (rebuilt when the weights or device change;
        kept outside the module tree, so it is not in ``state_dict``)."""
        from sagebench.fusion_models.optimize import fold_batchnorm

        key = (self.weights_sha256, self.device, id(self.module1[0].weight), self.module1[0].weight._version)
        cached = self.__dict__.get("_fast_net")
        if cached is None or cached[0] != key:
            net = SAGEStudentNet(dim=self.module1[0].out_channels).to(self.device)
            net.load_state_dict(SAGEStudentNet.state_dict(self))
            net.eval()
            fold_batchnorm(net)
            net.to(memory_format=torch.channels_last)
            self.__dict__["_fast_net"] = cached = (key, net)
        return cached[1]

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        inference = not self.training and not torch.is_grad_enabled()
        if getattr(self, "_fast_default", False) and inference:
            cl = torch.channels_last
            net = self._fast_copy()
            gray, ir = gray.contiguous(memory_format=cl), ir.contiguous(memory_format=cl)
        else:
            net = self
        H, W = ir.shape[-2:]
        if inference and H * W > _TILE_ABOVE and H % 4 == 0 and W % 4 == 0:
            return tiled(lambda g, i: SAGEStudentNet.forward(net, g, i)[0], gray, ir, _TILE, _HALO)
        return SAGEStudentNet.forward(net, gray, ir)[0]
