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



#: Inference runs in tiles of ``rows x columns`` output pixels (multiples of 4), each computed with
#: ``_HALO`` pixels of context on every side. An output pixel depends on inputs up to 37 pixels away (the
#: support of its gradient, tested); 40 is the next multiple of 4, so a tile's output is the whole image's
#: there: the same convolution arithmetic on a smaller input (bit for bit with the released weights on
#: this machine's oneDNN; tested to float rounding). Tile corners stay on multiples of 4, the grid of the two
#: 2 x 2 poolings and of the bilinear upsamplings. The tile side follows the process's C allocator:
#:
#: * large blocks reused (CPU inference runs inside ``sagebench.memory.reuse_large_blocks``, and the
#:   ``sagebench`` command sets it for its whole process): only images above ``_TILE_LARGE`` are tiled, for
#:   memory (4096 x 4096 needed 13 GB untiled) at a small halo cost; the same on a GPU.
#: * glibc as the process left it (``SAGEBENCH_ALLOCATOR=system``, or no glibc): every block above glibc's
#:   mmap ceiling (32 MiB) is fresh pages from the kernel, zeroed on every allocation, and a full-size
#:   32-channel activation of a 1024 x 768 image is 100 MB. With ``_TILE_SMALL`` a tile's 32-channel
#:   activations (halo included) are 20 MB, which glibc serves from its heap after the first; the halo's
#:   extra work costs less than the page faults it saves (docs/running.md).
_TILE_SMALL, _TILE_LARGE, _HALO = 320, 1536, 40


def tile_shape(height: int, width: int, device: str | torch.device = "cpu") -> tuple[int, int] | None:
    """The tile shape (rows, columns) the default inference uses for one ``height x width`` image, or None
    for one pass. Each side is cut into the fewest equal parts (multiples of 4) no larger than the tile side
    (``_TILE_SMALL`` on the CPU when sagebench's allocator setting is not in force, else ``_TILE_LARGE``), so that
    no thin strip at the edge pays a whole halo. One pass when the image is within one tile and its halo, or
    a side is not a multiple of 4 (the upsampling sizes would change)."""
    from sagebench.memory import allocator_settings

    cpu = torch.device(device).type == "cpu"
    tile = _TILE_SMALL if cpu and not allocator_settings() else _TILE_LARGE
    if height % 4 or width % 4 or (height <= tile + _HALO and width <= tile + _HALO):
        return None
    return tuple(4 * -(-side // (4 * -(-side // tile))) for side in (height, width))


def tiled(fn, gray: torch.Tensor, ir: torch.Tensor, tile: tuple[int, int], halo: int = _HALO) -> torch.Tensor:
    """``fn(gray, ir) -> B x 1 x h x w`` applied to overlapping tiles of ``B x 1 x H x W`` inputs (``H``, ``W``,
    ``tile = (rows, columns)`` and ``halo`` multiples of 4), each tile's centre written into the
    ``B x 1 x H x W`` result."""
    B, _, H, W = ir.shape
    th, tw = tile
    out = torch.empty(B, 1, H, W, dtype=ir.dtype, device=ir.device)
    fmt = torch.channels_last if ir.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    for y in range(0, H, th):
        for x in range(0, W, tw):
            y0, x0 = max(0, y - halo), max(0, x - halo)
            y1, x1 = min(H, y + th + halo), min(W, x + tw + halo)
            part = fn(gray[..., y0:y1, x0:x1].contiguous(memory_format=fmt),
                      ir[..., y0:y1, x0:x1].contiguous(memory_format=fmt))
            h, w = min(th, H - y), min(tw, W - x)
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
        if inference and ir.device.type == "cpu":
            from sagebench.memory import reuse_large_blocks

            with reuse_large_blocks():
                return self._infer(ir, gray)
        return self._infer(ir, gray) if inference else SAGEStudentNet.forward(self, gray, ir)[0]

    def _infer(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        """Inference (no autograd): the fast copy where it is the default, in tiles where :func:`tile_shape`
        gives some."""
        if getattr(self, "_fast_default", False):
            cl = torch.channels_last
            net = self._fast_copy()
            gray, ir = gray.contiguous(memory_format=cl), ir.contiguous(memory_format=cl)
        else:
            net = self
        tile = tile_shape(*ir.shape[-2:], ir.device)
        if tile is not None:
            return tiled(lambda g, i: SAGEStudentNet.forward(net, g, i)[0], gray, ir, tile, _HALO)
        return SAGEStudentNet.forward(net, gray, ir)[0]
