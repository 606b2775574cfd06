"""PIAFusion (Tang, Yuan, Zhang, Jiang, Ma, "PIAFusion: A progressive infrared and visible image fusion
network based on illumination aware", Information Fusion 2022), Linfeng-Tang/PIAFusion (TensorFlow 1).

Our re-implementation of the published fusion network: per source a 1x1 convolution, then four 3x3
reflection-padded convolutions shared by the two streams (LeakyReLU 0.1), with the cross-modality
differential aware fusion (CMDAF: each stream gains the other's difference, gated by the sigmoid of its
global mean) after the first three; a decoder of four 3x3 convolutions on the concatenated streams and a 1x1
convolution, ``tanh / 2 + 0.5``. The illumination classifier of the release only weights the training loss
and is not needed to fuse. The TensorFlow checkpoint is read without TensorFlow (``sagebench.tf_checkpoint``);
its variable names map one to one onto this port (checked on the release's own ``.index`` file), kernels HWIO
-> OIHW. Architecture parity with the authors' TensorFlow graph is tested on seeded random variables; the
released data file is not in ``../shared``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sagebench.errors import WeightsError
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import combined_sha
from sagebench.weights import register_rows

_URL = "https://github.com/Linfeng-Tang/PIAFusion/raw/main/checkpoint/PIAFusion/"
_SRC = "Linfeng-Tang/PIAFusion@10b5c59 checkpoint/PIAFusion/"
#: The authors' checkpoint (MIT). The index is small and public (its sha256 is known); the data file's
#: sha256 is not published: it is checked against its git blob id and pinned on first use.
WEIGHTS = register_rows(
    ("piafusion_data", _URL + "IAFusion.model-29.data-00000-of-00001", "", 0,
     "piafusion/IAFusion.model-29.data-00000-of-00001", "MIT (Copyright (c) 2021 Linfeng Tang)",
     _SRC + "IAFusion.model-29.data-00000-of-00001", dict(git_blob="a730a7c46d8c315e8bcefeb827d5520499e66751")),
    ("piafusion_index", _URL + "IAFusion.model-29.index",
     "757d90f0837ce9d4f7caf1a5270be31442c55b67517a336809dec251a3eab799", 1_499,
     "piafusion/IAFusion.model-29.index", "MIT (Copyright (c) 2021 Linfeng Tang)", _SRC + "IAFusion.model-29.index"),
)

_ENC = (16, 32, 64, 128)
_DEC = (256, 128, 64, 32)
_SCOPE = "PIAFusion/"
#: variables of the release that fusion does not use (the illumination classifier's)
_UNUSED_PREFIX = "classifier/"


class _Conv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.pad = k // 2
        self.conv = nn.Conv2d(cin, cout, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.pad,) * 4, mode="reflect") if self.pad else x)


def _cmdaf(vi: torch.Tensor, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-modality differential aware fusion: ``vi + sig(gap(ir - vi)) (vi - ir)``, and symmetrically."""
    d_vi_ir, d_ir_vi = vi - ir, ir - vi
    w_vi_ir = torch.sigmoid(d_vi_ir.mean((2, 3), keepdim=True))
    w_ir_vi = torch.sigmoid(d_ir_vi.mean((2, 3), keepdim=True))
    return vi + w_ir_vi * d_vi_ir, ir + w_vi_ir * d_ir_vi


class PIAFusionNet(nn.Module):
    """``forward(vis_y, ir)`` on ``B x 1 x H x W`` in [0, 1] -> fused Y in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv5x5_ir = _Conv(1, _ENC[0], 1)  # named 5x5 in the release, 1x1 in fact
        self.conv5x5_vi = _Conv(1, _ENC[0], 1)
        cin = _ENC[0]
        for k, c in enumerate(_ENC, 1):
            self.add_module(f"Conv{k}", _Conv(cin, c, 3))
            cin = c
        cin = 2 * _ENC[-1]
        for k, c in enumerate(_DEC, 1):
            self.add_module(f"dec{k}", _Conv(cin, c, 3))
            cin = c
        self.conv1x1 = _Conv(_DEC[-1], 1, 1)

    def forward(self, vis_y: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        lrelu = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731 - the release's lrelu (alpha 0.1)
        vi, ir_f = lrelu(self.conv5x5_vi(vis_y)), lrelu(self.conv5x5_ir(ir))
        for k in range(1, len(_ENC) + 1):
            conv = getattr(self, f"Conv{k}")  # one kernel for both streams
            vi, ir_f = lrelu(conv(vi)), lrelu(conv(ir_f))
            if k < len(_ENC):
                vi, ir_f = _cmdaf(vi, ir_f)
        x = torch.cat([vi, ir_f], 1)
        for k in range(1, len(_DEC) + 1):
            x = lrelu(getattr(self, f"dec{k}")(x))
        return torch.tanh(self.conv1x1(x)) / 2 + 0.5


def _tf_name(key: str) -> str:
    """Port state_dict key -> the release's TensorFlow variable name."""
    module, param = key.rsplit(".conv.", 1)
    leaf = "kernel" if param == "weight" else "bias"
    if module.startswith("dec"):
        return f"{_SCOPE}decoder/conv{module[3:]}/{leaf}"
    if module == "conv1x1":
        return f"{_SCOPE}decoder/conv1x1/{leaf}"
    if module.startswith("Conv"):
        return f"{_SCOPE}encoder/{module}/conv3x3/{leaf}"
    return f"{_SCOPE}encoder/{module}/{leaf}"


def state_from_tf(variables: dict[str, np.ndarray], model: nn.Module) -> dict[str, torch.Tensor]:
    """``{TensorFlow variable: array}`` of the release -> the port's state_dict (HWIO -> OIHW), strictly: every
    ``PIAFusion/`` variable must map onto the port and every port tensor must be present (the illumination
    classifier's ``classifier/`` variables are not used)."""
    wanted = {_tf_name(k): k for k in model.state_dict()}
    extra = [n for n in variables if n not in wanted and not n.startswith(_UNUSED_PREFIX)]
    missing = [n for n in wanted if n not in variables]
    if extra or missing:
        raise WeightsError(f"PIAFusion checkpoint does not match the port: missing {missing[:3]}, unexpected "
                           f"{extra[:3]}")
    state = {}
    for tf_name, key in wanted.items():
        t = torch.from_numpy(np.asarray(variables[tf_name], dtype=np.float32))
        state[key] = t.permute(3, 2, 0, 1).contiguous() if t.ndim == 4 else t
    return state


def _rgb_to_ycbcr(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The release's ``RGB2YCbCr`` (its coefficients: Y = .257 R + .564 G + .098 B + 16/255, ...)."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    y = 0.257 * r + 0.564 * g + 0.098 * b + 16.0 / 255.0
    cb = -0.148 * r - 0.291 * g + 0.439 * b + 128.0 / 255.0
    cr = 0.439 * r - 0.368 * g - 0.071 * b + 128.0 / 255.0
    return y, cb, cr


def _ycbcr_to_rgb(y: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor) -> torch.Tensor:
    y, cb, cr = 1.164 * (y - 16.0 / 255.0), cb - 128.0 / 255.0, cr - 128.0 / 255.0
    return torch.cat([y + 1.596 * cr, y - 0.392 * cb - 0.813 * cr, y + 2.017 * cb], 1)


@FUSION_MODELS.register_module(name="piafusion")
class PIAFusion(FusionModel, PIAFusionNet):
    """PIAFusion, colour as the authors' ``main.py --is_train False``: the visible RGB image on [0, 1] to the
    release's YCbCr, the network on its Y and the IR, the fused Y with the visible Cb / Cr back to RGB and
    written as ``cv2.imwrite`` of ``x * 255`` does (rounded, saturated). A grey visible image is an RGB image
    with equal channels (the release reads every visible image as colour).

    Args:
        weights: ``"piafusion"`` (the manifest pair ``piafusion_data`` + ``piafusion_index``), a checkpoint
            prefix (``.../IAFusion.model-29``), or ``None`` (random init).
    """

    colour = "native"
    pretrained_tags = {"official": {"weights": "piafusion"}}
    min_size = 2
    card = {
        "paper": "PIAFusion: A progressive infrared and visible image fusion network based on illumination aware",
        "authors": "Tang, Yuan, Zhang, Jiang, Ma", "year": 2022, "venue": "Information Fusion",
        "code": "https://github.com/Linfeng-Tang/PIAFusion (TensorFlow 1; the checkpoint is read without "
                "TensorFlow)", "weights": ["piafusion_data", "piafusion_index"], "params": 1_076_785,
        "licence": "MIT",
        "input": "IR grey on [0, 1]; visible RGB on [0, 1] to the release's YCbCr (Y = .257 R + .564 G + .098 B "
                 "+ 16/255), the network on Y",
        "output": "fused Y with the visible Cb / Cr to RGB, x 255 rounded and saturated (cv2.imwrite)",
        "checked": "architecture: equal to the authors' TensorFlow graph on seeded random variables (tested), and "
                   "every variable of the release's .index maps onto the port; the data file is not in ../shared",
    }

    def __init__(self, weights: str | os.PathLike | None = "piafusion") -> None:
        FusionModel.__init__(self)
        PIAFusionNet.__init__(self)
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, weights, *, key: str | None = None, strict: bool = True,
                     strip_prefix: str | None = None) -> None:
        """Read the TensorFlow checkpoint (``"piafusion"`` or a prefix path) into the port, strictly."""
        from sagebench.tf_checkpoint import read_tf_checkpoint
        from sagebench.weights import file_digest, get_weights, load_state_into

        if isinstance(weights, str) and weights == "piafusion":
            data, index = get_weights("piafusion_data"), get_weights("piafusion_index")
            source, name = str(index.parent), "piafusion"
        else:
            prefix = Path(weights)
            data, index = Path(f"{prefix}.data-00000-of-00001"), Path(f"{prefix}.index")
            source, name = str(prefix), str(prefix)
        state = state_from_tf(read_tf_checkpoint(weights, index=index, data=data), self)
        load_state_into(self, state, source=source, strict=strict)
        self.weights_name, self.weights_sha256 = name, combined_sha(file_digest(data), file_digest(index))

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        y, cb, cr = _rgb_to_ycbcr(rgb)
        fused = PIAFusionNet.forward(self, y, ir[:, :1])
        return torch.round(_ycbcr_to_rgb(fused, cb, cr).mul(255.0)).clamp(0, 255) / 255.0

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        out = self.fuse_rgb(ir, gray.expand(-1, 3, -1, -1))
        return out.mean(1, keepdim=True)
