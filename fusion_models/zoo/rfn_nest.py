"""RFN-Nest (Li, Wu, Kittler, "RFN-Nest: An end-to-end residual fusion network for infrared and visible
images", Information Fusion 2021), hli1221/imagefusion-rfn-nest.

Our re-implementation of the published architecture: a NestFuse auto-encoder (a 1x1 stem, four encoder
blocks of a 3x3 then a 1x1 reflection-padded convolution with ReLU and 2x2 max pooling between levels, a
nested decoder with short connections and nearest upsampling reflection-padded to the skip's size, a 1x1
output convolution) and the residual fusion network (per level: a 3x3 fusion of the concatenated features
plus a residual branch of per-source 3x3 convolutions and a 1x1-3x3-3x3 bottleneck). Module names follow
the authors' ``NestFuse_light2_nodense`` and ``Fusion_network``, so both released files load with
``strict=True``. Architecture parity with the authors' modules is tested on a seeded random state_dict;
the released weights are not in ``../shared``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.errors import WeightsError
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, load_each, minmax_stretch, require_size
from sagebench.weights import register_rows

_REPO = "https://github.com/hli1221/imagefusion-rfn-nest/raw/main/models/"
#: The authors' two zip archives (no sha256 published: pinned on first use; git blob ids checked); the
#: member is the checkpoint the test script loads.
WEIGHTS = register_rows(
    ("rfn_nest_autoencoder", _REPO + "nestfuse.zip", "", 0, "rfn-nest/nestfuse.zip", NO_LICENCE,
     "hli1221/imagefusion-rfn-nest@76e4e05 models/nestfuse.zip (nestfuse_gray_1e2.model: NestFuse state_dict)",
     dict(redistributable=False, git_blob="25848abd8df11e4c6ae2ace078d449ee6111fc2b",
          archive_member="nestfuse/nestfuse_gray_1e2.model")),
    ("rfn_nest_fusion", _REPO + "rfn_twostage.zip", "", 0, "rfn-nest/rfn_twostage.zip", NO_LICENCE,
     "hli1221/imagefusion-rfn-nest@76e4e05 models/rfn_twostage.zip "
     "(6.0/Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model: Fusion_network state_dict)",
     dict(redistributable=False, git_blob="9e36a34ed6aaf018d54096ec31b633106541c972",
          archive_member="rfn_twostage/6.0/Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model")),
)

NB_FILTER = (64, 112, 160, 208)
_EPS = 1e-10  # utils.EPSILON of the release (output stretch)
_TILE_ABOVE = 512  # get_test_image: larger images are fused as four overlapping quarters


class _ConvLayer(nn.Module):
    """Reflection padding ``k // 2``, ``k x k`` convolution, ReLU (every layer of the release has it, the
    output layer included)."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2d(self.reflection_pad(x)))


class _Block(nn.Module):
    """DenseBlock_light: 3x3 to ``cin // 2`` channels, then 1x1 to ``cout`` (both ReLU)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.denseblock = nn.Sequential(_ConvLayer(cin, cin // 2, 3), _ConvLayer(cin // 2, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.denseblock(x)


def _up_to(ref: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Nearest x2 upsampling, reflection-padded to ``ref``'s size (extra pixel right / bottom)."""
    x = F.interpolate(x, scale_factor=2, mode="nearest")
    dh, dw = ref.shape[2] - x.shape[2], ref.shape[3] - x.shape[3]
    if dh or dw:
        x = F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode="reflect")
    return x


class NestFuse(nn.Module):
    """``NestFuse_light2_nodense`` (grey, no deep supervision): ``encoder(x)`` -> four levels,
    ``decoder_eval(levels)`` -> ``B x 1 x H x W``."""

    def __init__(self, nb: tuple[int, ...] = NB_FILTER) -> None:
        super().__init__()
        self.conv0 = _ConvLayer(1, 16, 1)
        self.DB1_0, self.DB2_0 = _Block(16, nb[0]), _Block(nb[0], nb[1])
        self.DB3_0, self.DB4_0 = _Block(nb[1], nb[2]), _Block(nb[2], nb[3])
        self.DB1_1, self.DB2_1 = _Block(nb[0] + nb[1], nb[0]), _Block(nb[1] + nb[2], nb[1])
        self.DB3_1 = _Block(nb[2] + nb[3], nb[2])
        self.DB1_2, self.DB2_2 = _Block(nb[0] * 2 + nb[1], nb[0]), _Block(nb[1] * 2 + nb[2], nb[1])
        self.DB1_3 = _Block(nb[0] * 3 + nb[1], nb[0])
        self.conv_out = _ConvLayer(nb[0], 1, 1)

    def encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        x1 = self.DB1_0(self.conv0(x))
        x2 = self.DB2_0(F.max_pool2d(x1, 2))
        x3 = self.DB3_0(F.max_pool2d(x2, 2))
        return [x1, x2, x3, self.DB4_0(F.max_pool2d(x3, 2))]

    def decoder_eval(self, f: list[torch.Tensor]) -> torch.Tensor:
        x1_1 = self.DB1_1(torch.cat([f[0], _up_to(f[0], f[1])], 1))
        x2_1 = self.DB2_1(torch.cat([f[1], _up_to(f[1], f[2])], 1))
        x1_2 = self.DB1_2(torch.cat([f[0], x1_1, _up_to(f[0], x2_1)], 1))
        x3_1 = self.DB3_1(torch.cat([f[2], _up_to(f[2], f[3])], 1))
        x2_2 = self.DB2_2(torch.cat([f[1], x2_1, _up_to(f[1], x3_1)], 1))
        x1_3 = self.DB1_3(torch.cat([f[0], x1_1, x1_2, _up_to(f[0], x2_2)], 1))
        return self.conv_out(x1_3)


class _FusionBlock(nn.Module):
    """FusionBlock_res: ``conv_fusion([ir, vi]) + bottleneck([conv_ir(ir), conv_vi(vi)])``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv_fusion = _ConvLayer(2 * ch, ch, 3)
        self.conv_ir = _ConvLayer(ch, ch, 3)
        self.conv_vi = _ConvLayer(ch, ch, 3)
        self.bottelblock = nn.Sequential(_ConvLayer(2 * ch, ch, 1), _ConvLayer(ch, ch, 3), _ConvLayer(ch, ch, 3))

    def forward(self, ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
        res = self.bottelblock(torch.cat([self.conv_ir(ir), self.conv_vi(vi)], 1))
        return self.conv_fusion(torch.cat([ir, vi], 1)) + res


class RFN(nn.Module):
    """The residual fusion network (``Fusion_network``): one block per encoder level."""

    def __init__(self, nb: tuple[int, ...] = NB_FILTER) -> None:
        super().__init__()
        for k, ch in enumerate(nb, 1):
            self.add_module(f"fusion_block{k}", _FusionBlock(ch))

    def forward(self, en_ir: list[torch.Tensor], en_vi: list[torch.Tensor]) -> list[torch.Tensor]:
        return [getattr(self, f"fusion_block{k}")(a, b) for k, (a, b) in enumerate(zip(en_ir, en_vi), 1)]


class RFNNestNet(nn.Module):
    """Auto-encoder ``nest`` and fusion network ``rfn``: ``forward(ir, vis)`` on grey 0..255 -> the decoder output."""

    def __init__(self) -> None:
        super().__init__()
        self.nest = NestFuse()
        self.rfn = RFN()

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        return self.nest.decoder_eval(self.rfn(self.nest.encoder(ir), self.nest.encoder(vis)))


def _quarters(h: int, w: int) -> list[tuple[slice, slice]]:
    """get_img_parts: four quarters overlapping by 5 pixels around the centre."""
    hc, wc = h // 2, w // 2
    rows, cols = (slice(0, hc + 3), slice(hc - 2, h)), (slice(0, wc + 3), slice(wc - 2, w))
    return [(r, c) for r in rows for c in cols]


@FUSION_MODELS.register_module(name="rfn_nest")
class RFNNest(FusionModel, RFNNestNet):
    """RFN-Nest (the released two-stage model, alpha 700, w_ir 6, w_vi 3), grey.

    As the authors' ``test_21pairs.py`` (CUDA run): sources on 0..255; an image with a side above 512 is
    fused as four quarters overlapping around the centre and averaged where they overlap; the output is
    min-max stretched (eps 1e-10, no clamp before: the CUDA branch) and truncated to uint8.

    Args:
        weights: ``"rfn_nest"`` (default: both released files), a pair ``(auto-encoder, fusion network)`` of
            manifest names or paths, or ``None`` (random init).
        official_8bit: truncate the stretched output to the 8-bit grid as the official code (default True).
    """

    pretrained_tags = {"official": {"weights": "rfn_nest"}}
    min_size = 8
    card = {
        "paper": "RFN-Nest: An end-to-end residual fusion network for infrared and visible images",
        "authors": "Li, Wu, Kittler", "year": 2021, "venue": "Information Fusion",
        "code": "https://github.com/hli1221/imagefusion-rfn-nest", "weights": ["rfn_nest_autoencoder",
                                                                             "rfn_nest_fusion"],
        "params": 7_524_249, "licence": "none stated upstream (not redistributed)",
        "input": "IR grey + visible grey (Y of YCrCb for colour input here; the official script reads 'L'), on "
                 "0..255; sides above 512: four overlapping quarters",
        "output": "min-max stretched to 0..255 (eps 1e-10) and truncated to uint8, as the authors' CUDA run",
        "checked": "architecture: equal to the authors' modules on a seeded random state_dict (tested); the "
                   "released weights are not in ../shared, so the published tno21 outputs are not compared",
    }

    def __init__(self, weights=("rfn_nest_autoencoder", "rfn_nest_fusion"), official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        RFNNestNet.__init__(self)
        self.official_8bit = official_8bit
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, weights, *, key=None, strict: bool = True, strip_prefix=None) -> None:
        if isinstance(weights, str) and weights == "rfn_nest":
            weights = ("rfn_nest_autoencoder", "rfn_nest_fusion")
        if not isinstance(weights, (tuple, list)) or len(weights) != 2:
            raise WeightsError(f"RFN-Nest needs two checkpoints (auto-encoder, fusion network); got {weights!r}")
        parts = list(zip((self.nest, self.rfn), weights))
        self.weights_name, self.weights_sha256 = load_each(parts, strict=strict)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir, self.min_size)
        a, b = ir * 255.0, gray * 255.0
        h, w = ir.shape[-2:]
        if h > _TILE_ABOVE or w > _TILE_ABOVE:
            out = torch.zeros_like(a)
            count = torch.zeros_like(a)
            for r, c in _quarters(h, w):
                out[..., r, c] += RFNNestNet.forward(self, a[..., r, c], b[..., r, c])
                count[..., r, c] += 1
            out = out / count
        else:
            out = RFNNestNet.forward(self, a, b)
        out = minmax_stretch(out, _EPS)
        return torch.floor(out * 255.0) / 255.0 if self.official_8bit else out
