"""Single-modality references: the IR image alone and the visible image alone, as "methods", so every
result table has the rows that show what fusion adds."""

from __future__ import annotations

import torch

from sagebench.fusion_models.base import FusionModel
from sagebench.fusion_models.registry import FUSION_MODELS


@FUSION_MODELS.register_module(name="ir_only")
class IROnly(FusionModel):
    """Returns the infrared image (grey; replicated to RGB when the visible input is RGB)."""

    colour = "native"
    single_modality = "ir"
    card = {"paper": "reference row: infrared input only", "licence": "n/a", "input": "IR grey",
            "checked": "identity on the IR input (tested)"}

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return ir

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return ir.expand(-1, 3, -1, -1)


@FUSION_MODELS.register_module(name="vis_only")
class VisOnly(FusionModel):
    """Returns the visible image unchanged."""

    colour = "native"
    single_modality = "vis"
    card = {"paper": "reference row: visible input only", "licence": "n/a", "input": "visible as given",
            "checked": "identity on the visible input (tested)"}

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return gray

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return rgb
