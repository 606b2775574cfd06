"""DIDFuse (Zhao, Xu, Zhang, Liu, Zhang, Li, "DIDFuse: Deep Image Decomposition for Infrared and
Visible Image Fusion", IJCAI 2020).

Re-implemented from the architecture description in the project's zoo notes; module names follow the
released encoder / decoder state_dicts (``covN.covN.<index>``) so that both load with ``strict=True``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from sagebench.errors import WeightsError
from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS
from sagebench.fusion_models.zoo._common import NO_LICENCE, combined_sha, load_state, require_size
from sagebench.weights import load_state_into, register_rows

#: The authors' released checkpoints: (name, url, sha256, size, relpath, licence, source[, extra]).
WEIGHTS = register_rows(
    ("didfuse_encoder", "https://github.com/Zhaozixiang1228/IVIF-DIDFuse/raw/main/Models/Encoder_weight_IJCAI.pkl",
     "4d84a4e64e58469d3d4591f83c6683ead3e422498519db99bb617cb29d268471", 454_838, "didfuse/Encoder_weight_IJCAI.pkl",
     NO_LICENCE, "Zhaozixiang1228/IVIF-DIDFuse@5f28730 Models/Encoder_weight_IJCAI.pkl ({'weight': state_dict})",
     dict(redistributable=False)),
    ("didfuse_decoder", "https://github.com/Zhaozixiang1228/IVIF-DIDFuse/raw/main/Models/Decoder_weight_IJCAI.pkl",
     "c6974e2a7c66ab579a77bacb086023237a229e769d459783bad8ff43e52e9986", 600_772, "didfuse/Decoder_weight_IJCAI.pkl",
     NO_LICENCE, "Zhaozixiang1228/IVIF-DIDFuse@5f28730 Models/Decoder_weight_IJCAI.pkl ({'weight': state_dict})",
     dict(redistributable=False)),
)


FUSION_RULES = ("sum", "average")


class _Named(nn.Module):
    """Holds one ``nn.Sequential`` under the same name as itself (the official ``covN.covN`` keys)."""

    def __init__(self, name: str, *layers: nn.Module) -> None:
        super().__init__()
        self._name = name
        self.add_module(name, nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._modules[self._name](x)


def _pad_conv(cin: int, cout: int, act: nn.Module) -> list[nn.Module]:
    """Reflection pad 1 -> 3x3 conv (padding 0) -> BN -> activation (indices 0..3)."""
    return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout), act]


def _conv(cin: int, cout: int, act: nn.Module) -> list[nn.Module]:
    """3x3 conv (zero pad 1) -> BN -> activation (indices 0..2)."""
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), act]


class DIDFuseEncoder(nn.Module):
    """``forward(x) -> (f1, f2, base, detail)``, each ``B x 64 x H x W``; input ``B x 1 x H x W`` in [0, 1]."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__()
        self.cov1 = _Named("cov1", *_pad_conv(1, dim, nn.PReLU()))
        self.cov2 = _Named("cov2", *_conv(dim, dim, nn.PReLU()))
        self.cov3 = _Named("cov3", *_conv(dim, dim, nn.Tanh()))
        self.cov4 = _Named("cov4", *_conv(dim, dim, nn.Tanh()))

    def forward(self, x: torch.Tensor):
        f1 = self.cov1(x)
        f2 = self.cov2(f1)
        return f1, f2, self.cov3(f2), self.cov4(f2)


class DIDFuseDecoder(nn.Module):
    """``forward(f1, f2, base, detail) -> image`` (``B x 1 x H x W``, sigmoid)."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__()
        self.cov5 = _Named("cov5", *_conv(2 * dim, dim, nn.PReLU()))
        self.cov6 = _Named("cov6", *_conv(2 * dim, dim, nn.PReLU()))
        self.cov7 = _Named("cov7", *_pad_conv(2 * dim, 1, nn.Sigmoid()))

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, base: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        x = self.cov5(torch.cat([base, detail], dim=1))
        x = self.cov6(torch.cat([x, f2], dim=1))
        return self.cov7(torch.cat([x, f1], dim=1))


@FUSION_MODELS.register_module(name="didfuse")
class DIDFuse(FusionModel):
    """DIDFuse with the authors' test conventions: both images through the shared encoder, the four
    feature maps (f1, f2, base, detail) **summed** (``fusion_rule="sum"``, the official default), decoded,
    sigmoid output (written with rounding).

    Args:
        weights: ``"didfuse"`` (the manifest pair ``didfuse_encoder`` + ``didfuse_decoder``), a pair
            ``(encoder_path, decoder_path)``, or ``None`` (random init). Files are the official
            ``{'weight': state_dict, 'epoch': ...}`` dicts (a bare state_dict is accepted too).
        fusion_rule: ``"sum"`` (official) or ``"average"``.
    """

    pretrained_tags = {"official": {"weights": "didfuse"}}

    min_size = 2  # reflection padding and per-image statistics

    card = {
        "paper": "DIDFuse: Deep Image Decomposition for Infrared and Visible Image Fusion",
        "authors": "Zhao, Xu, Zhang, Liu, Zhang, Li",
        "year": 2020, "venue": "IJCAI",
        "code": "https://github.com/Zhaozixiang1228/IVIF-DIDFuse",
        "licence": "none stated upstream (not redistributed)",
        "weights": ["didfuse_encoder", "didfuse_decoder"],
        "params": 260_935,
        "input": "IR grey + visible grey (PIL 'L'; Y of YCrCb for colour input here), [0, 1]; no normalisation",
        "output": "sigmoid, written with rounding; fusion rule: sum of the encoder features",
        "checked": "parity with the authors' Test_result TNO_IJCAI F1-F3 and FLIR_IJCAI F1-F2: max 1 grey level "
                   "(tested)",
    }

    def __init__(self, weights: str | tuple[str | os.PathLike, str | os.PathLike] | None = "didfuse",
                 fusion_rule: str = "sum") -> None:
        super().__init__()
        if fusion_rule not in FUSION_RULES:
            raise ValueError(f"fusion_rule must be one of {FUSION_RULES}, got {fusion_rule!r}")
        self.fusion_rule = fusion_rule
        self.encoder = DIDFuseEncoder()
        self.decoder = DIDFuseDecoder()
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, weights, *, key: str | None = "weight", strict: bool = True,
                     strip_prefix: str | None = None) -> None:
        """Load the encoder and decoder checkpoints (see the class docstring for ``weights``)."""
        if isinstance(weights, str) and weights == "didfuse":
            pair = ("didfuse_encoder", "didfuse_decoder")
        elif isinstance(weights, (tuple, list)) and len(weights) == 2:
            pair = tuple(weights)
        else:
            raise WeightsError(f"DIDFuse needs two checkpoints (encoder, decoder) or 'didfuse'; got {weights!r}")
        shas = []
        for part, module in zip(pair, (self.encoder, self.decoder)):
            state, _, sha = load_state(part)
            if key is not None and isinstance(state, dict) and key in state:
                state = state[key]
            if strip_prefix:
                state = {k.removeprefix(strip_prefix): v for k, v in state.items()}
            load_state_into(module, state, source=part, strict=strict)
            shas.append(sha)
        self.weights_name = "didfuse" if pair == ("didfuse_encoder", "didfuse_decoder") else " + ".join(map(str, pair))
        self.weights_sha256 = combined_sha(*shas)

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        require_size(self, ir)
        feats = self.encoder(torch.cat([ir, gray], dim=0))  # one encoder pass for both sources
        b = ir.shape[0]
        scale = 1.0 if self.fusion_rule == "sum" else 0.5
        fused = [(f[:b] + f[b:]) * scale for f in feats]
        return self.decoder(*fused)
