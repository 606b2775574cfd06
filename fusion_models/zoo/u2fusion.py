"""U2Fusion (Xu, Ma, Jiang, Guo & Ling, "U2Fusion: A Unified Unsupervised Image Fusion Network", IEEE TPAMI
2022), the authors' TensorFlow 1 checkpoint (hanna-xu/U2Fusion).

Our PyTorch re-implementation of the published generator: a dense encoder (a 2->44 convolution and five
dense convolutions whose outputs are concatenated in front of their inputs) and a four-layer decoder, every
3 x 3 convolution after reflection padding 1, LeakyReLU ``max(x, 0.2 x)`` except at the end,
``tanh / 2 + 0.5`` output. The TensorFlow checkpoint is read directly (``sagebench.tf_checkpoint``: no
TensorFlow needed) and its HWIO kernels transposed to OIHW.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.errors import ConfigError, WeightsError
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, combined_sha, require_size
from sagebench.weights import register_rows

_SRC = "hanna-xu/U2Fusion@0a58821 model/"
_URL = "https://github.com/hanna-xu/U2Fusion/raw/master/model/"
#: The authors' checkpoint (the ``.meta`` graph file is not needed to read the variables).
WEIGHTS = register_rows(
    ("u2fusion_data", _URL + "model.ckpt.data-00000-of-00001",
     "e50cada8d4ec92f2577ad5db5d212fba521dffb35d04e00a20364b43512c64c8", 2_636_868,
     "u2fusion/model.ckpt.data-00000-of-00001", NO_LICENCE, _SRC + "model.ckpt.data-00000-of-00001",
     dict(redistributable=False)),
    ("u2fusion_index", _URL + "model.ckpt.index",
     "15b7d283a1de8f616cc42978346bd24d47a9c380d624370368b956beb593014e", 905,
     "u2fusion/model.ckpt.index", NO_LICENCE, _SRC + "model.ckpt.index", dict(redistributable=False)),
)

_N = 44
CONVENTIONS = ("vif_benchmark", "authors")


class _Conv(nn.Module):
    """Reflection padding 1 and a 3 x 3 convolution with bias."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return torch.maximum(x, 0.2 * x)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1_1 = _Conv(2, _N)
        for i in range(1, 6):
            self.add_module(f"dense_block_conv{i}", _Conv(_N * i, _N))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _lrelu(self.conv1_1(x))
        for i in range(1, 6):
            out = torch.cat([_lrelu(getattr(self, f"dense_block_conv{i}")(out)), out], 1)
        return out


class _Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv2_1 = _Conv(_N * 6, 128)
        self.conv2_2 = _Conv(128, 64)
        self.conv2_3 = _Conv(64, 32)
        self.conv2_4 = _Conv(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _lrelu(self.conv2_3(_lrelu(self.conv2_2(_lrelu(self.conv2_1(x))))))
        return torch.tanh(self.conv2_4(x)) / 2 + 0.5


class U2FusionNet(nn.Module):
    """The bare generator: ``forward(source1, source2)`` (``B x 1 x H x W`` in [0, 1]) -> ``B x 1 x H x W``
    in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _Encoder()
        self.decoder = _Decoder()

    def forward(self, source1: torch.Tensor, source2: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(torch.cat([source1, source2], 1)))


def state_from_tf(variables: dict) -> dict[str, torch.Tensor]:
    """The TensorFlow variables (``Generator/encoder/conv1_1/kernel`` ...) as this port's state_dict
    (``encoder.conv1_1.conv.weight`` ...), kernels HWIO -> OIHW."""
    state = {}
    for name, value in variables.items():
        parts = name.split("/")
        if len(parts) != 4 or parts[1] not in ("encoder", "decoder") or parts[3] not in ("kernel", "bias"):
            raise WeightsError(f"U2Fusion checkpoint: unexpected variable {name!r}")
        t = torch.from_numpy(value)
        state[f"{parts[1]}.{parts[2]}.conv.{'weight' if parts[3] == 'kernel' else 'bias'}"] = (
            t.permute(3, 2, 0, 1).contiguous() if parts[3] == "kernel" else t)
    return state


@FUSION_MODELS.register_module(name="u2fusion")
class U2Fusion(FusionModel, U2FusionNet):
    """U2Fusion's generator on IR and visible grey (Y of YCrCb for a colour visible image, chroma restored).

    The order of the two sources and the output scaling differ between the authors' ``test_main.py`` and
    the third-party outputs that papers cite (Tang's VIF-Benchmark / Evaluation-for-Image-Fusion):

    * ``convention="vif_benchmark"`` (default; what the published TNO outputs in the suite's reference set
      were made with): ``SOURCE1 = IR``, ``SOURCE2 = visible``; output min-max stretched to 0..255 and
      rounded (``scipy.misc.imsave``).
    * ``convention="authors"``: ``SOURCE1 = visible``, ``SOURCE2 = IR``; output divided by its maximum and
      rounded (``scipy.misc.toimage(out, cmin=0, cmax=max(out))``). A different image (9.8-12.1 grey levels
      mean difference on TNO).

    Args:
        weights: ``"u2fusion"`` (the manifest pair ``u2fusion_data`` + ``u2fusion_index``), a checkpoint
            prefix (``.../model.ckpt``), or ``None`` (random init).
        convention: see above.
        official_8bit: put the output on the 8-bit grid as the saving step does (default True).
    """

    pretrained_tags = {"official": {"weights": "u2fusion"}, "authors": {"weights": "u2fusion", "convention": "authors"}}
    min_size = 2
    card = {
        "paper": "U2Fusion: A Unified Unsupervised Image Fusion Network", "authors": "Xu, Ma, Jiang, Guo, Ling",
        "year": 2022, "venue": "IEEE Transactions on Pattern Analysis and Machine Intelligence",
        "code": "https://github.com/hanna-xu/U2Fusion (TensorFlow 1; the checkpoint is read without TensorFlow)",
        "weights": ["u2fusion_data", "u2fusion_index"], "params": 659_217,
        "licence": "none stated upstream (not redistributed)",
        "input": "IR and visible grey, [0, 1]; order IR first (convention='vif_benchmark', default, as the "
                 "published third-party outputs) or visible first (convention='authors', test_main.py)",
        "output": "tanh / 2 + 0.5, min-max stretched to 0..255 and rounded (default) or divided by its max",
        "checked": "third-party TNO outputs 01-03 (L. Tang's Evaluation-for-Image-Fusion): within one grey "
                   "level (tested)",
    }

    def __init__(self, weights: str | os.PathLike | None = "u2fusion", convention: str = "vif_benchmark",
                 official_8bit: bool = True) -> None:
        FusionModel.__init__(self)
        U2FusionNet.__init__(self)
        if convention not in CONVENTIONS:
            raise ConfigError(f"u2fusion: convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
        self.convention, self.official_8bit = convention, official_8bit
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, weights, *, key: str | None = None, strict: bool = True,
                     strip_prefix: str | None = None) -> None:
        """Read the TensorFlow checkpoint (``"u2fusion"`` or a prefix path) into the port, strictly."""
        from sagebench.tf_checkpoint import read_tf_checkpoint
        from sagebench.weights import file_digest, get_weights, load_state_into

        if isinstance(weights, str) and weights == "u2fusion":
            data, index = get_weights("u2fusion_data"), get_weights("u2fusion_index")
            source, name = str(index.parent), "u2fusion"
        else:
            prefix = Path(weights)
            data, index = Path(f"{prefix}.data-00000-of-00001"), Path(f"{prefix}.index")
            source, name = str(prefix), str(prefix)
        state = state_from_tf(read_tf_checkpoint(weights, index=index, data=data))
        load_state_into(self, state, source=source, strict=strict)
        self.weights_name, self.weights_sha256 = name, combined_sha(file_digest(data), file_digest(index))

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        if self.convention == "authors":
            out = U2FusionNet.forward(self, gray, ir)
            hi = out.flatten(1).amax(1).view(-1, 1, 1, 1)
            scaled = out / hi
        else:
            out = U2FusionNet.forward(self, ir, gray)
            flat = out.flatten(1)
            lo, hi = flat.amin(1).view(-1, 1, 1, 1), flat.amax(1).view(-1, 1, 1, 1)
            scaled = (out - lo) / (hi - lo)
        return torch.floor(scaled * 255.0 + 0.5).clamp(0, 255) / 255.0 if self.official_8bit else scaled.clamp(0, 1)
