"""SAGE losses: gradient loss, feature-cosine distillation, SAM-feature triplet (contrastive) loss, the
student's and the teacher's objectives and the teacher's pluggable segmentation term.

All images are ``B x 1 x H x W`` in [0, 1] unless noted; every function returns scalar tensors.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.datasets.base import IGNORE_INDEX
from sagebench.errors import ConfigError


class GradientLoss(nn.Module):
    """``mean | |grad x| - max(|grad s1|, |grad s2|) |`` with Sobel magnitudes ``|Sx * u| + |Sy * u|``
    (zero padding, cross-correlation). Kernels are buffers, so the loss follows ``.to(device)``."""

    def __init__(self) -> None:
        super().__init__()
        kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        ky = torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
        self.register_buffer("kernels", torch.stack([kx, ky]).unsqueeze(1), persistent=False)

    def magnitude(self, u: torch.Tensor) -> torch.Tensor:
        g = F.conv2d(u, self.kernels.to(u.dtype), padding=1)
        return g.abs().sum(1, keepdim=True)

    def forward(self, x: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        target = torch.maximum(self.magnitude(s1), self.magnitude(s2))
        return F.l1_loss(self.magnitude(x), target)


def cosine_distillation(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_k (1 - mean_batch cos(flatten(a_k), flatten(b_k)))`` over paired feature maps."""
    if len(a) != len(b):
        raise ValueError(f"feature lists differ in length: {len(a)} vs {len(b)}")
    total = a[0].new_zeros(())
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise ValueError(f"feature shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
        total = total + (1 - F.cosine_similarity(x.flatten(1), y.flatten(1), dim=1).mean())
    return total


class SamTripletLoss(nn.Module):
    """Contrastive-semantic (triplet) loss on SAM features.

    For every mask channel ``m`` of the visible and the IR masks: ``D(ref*m, out*m) / (D(src*m, out*m) + eps)``
    with ``src`` the visible Y for visible masks and the IR for IR masks (anchor = the network being
    trained, positive = the other network's output, negative = the raw source), summed over channels.
    ``D(a, b) = sum_levels || IN(F(a)) - IN(F(b)) ||_F`` with ``F`` the SAM feature encoder and ``IN`` an
    affine-free instance norm.

    Args:
        encoder: a frozen :class:`sagebench.fusion_models.sage.sam_priors.SamFeatureEncoder`.
        feature_distance: ``"batch_frobenius"`` (one norm over the whole batch; a channel is skipped when it
            is zero for the whole batch) or ``"per_sample"`` (norms and ratios per sample, averaged over the
            samples whose mask is non-empty).
    """

    def __init__(self, encoder: nn.Module, feature_distance: str = "per_sample", eps: float = 1e-7) -> None:
        super().__init__()
        if feature_distance not in ("batch_frobenius", "per_sample"):
            raise ConfigError(f"feature_distance must be batch_frobenius or per_sample, got {feature_distance!r}")
        self.encoder = encoder
        self.per_sample = feature_distance == "per_sample"
        self.eps = eps

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [F.instance_norm(f) for f in self.encoder(x)]

    def _dist(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        if self.per_sample:
            return sum((a - b).flatten(1).norm(dim=1) for a, b in zip(fa, fb))
        return sum((a - b).norm() for a, b in zip(fa, fb))

    def forward(self, out: torch.Tensor, vis_y: torch.Tensor, ir: torch.Tensor, ref: torch.Tensor,
                vis_masks: torch.Tensor, ir_masks: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        b, k = vis_masks.shape[:2]
        masks = torch.cat([vis_masks, ir_masks], 1)                  # B x 2K x H x W
        sources = [vis_y] * k + [ir] * ir_masks.shape[1]
        ref = ref.detach()
        # one encoder pass for every (masked anchor, masked positive, masked negative)
        anchors = torch.cat([out * masks[:, i:i + 1] for i in range(masks.shape[1])])
        with torch.no_grad():
            fixed = torch.cat([ref * masks[:, i:i + 1] for i in range(masks.shape[1])]
                              + [src * masks[:, i:i + 1] for i, src in enumerate(sources)])
            f_fixed = self._features(fixed)
        f_anchor = self._features(anchors)
        n = masks.shape[1]
        parts = {"vis": out.new_zeros(()), "ir": out.new_zeros(())}
        for i in range(n):
            sl_a = slice(i * b, (i + 1) * b)
            sl_p = slice(i * b, (i + 1) * b)
            sl_n = slice((n + i) * b, (n + i + 1) * b)
            fa = [f[sl_a] for f in f_anchor]
            fp = [f[sl_p] for f in f_fixed]
            fn = [f[sl_n] for f in f_fixed]
            valid = masks[:, i].flatten(1).any(dim=1)
            if not bool(valid.any()):
                continue
            ratio = self._dist(fa, fp) / (self._dist(fa, fn) + self.eps)
            if self.per_sample:
                ratio = ratio[valid].mean()
            parts["vis" if i < k else "ir"] = parts["vis" if i < k else "ir"] + ratio
        total = parts["vis"] + parts["ir"]
        return total, {"dh_vis": float(parts["vis"].detach()), "dh_ir": float(parts["ir"].detach())}


class FusionLoss(nn.Module):
    """The official ``Losses.cal``: ``3*fuse + 3*grad + triplet/3000`` with
    ``fuse = 3 MSE(o,y) + 2 MSE(o,ir) + 4 MSE(o,ref)`` and ``grad = 9 G(o;y,ir) + 3 G(o;ref,ref)``."""

    def __init__(self, triplet: SamTripletLoss | None, contrast_scale: float = 1 / 3000) -> None:
        super().__init__()
        self.grad = GradientLoss()
        self.triplet = triplet
        self.contrast_scale = contrast_scale

    def forward(self, out, vis_y, ir, ref, vis_masks, ir_masks) -> dict[str, torch.Tensor]:
        ref = ref.detach()
        fuse = 3 * F.mse_loss(out, vis_y) + 2 * F.mse_loss(out, ir) + 4 * F.mse_loss(out, ref)
        grad = 9 * self.grad(out, vis_y, ir) + 3 * self.grad(out, ref, ref)
        if self.triplet is not None:
            dh, _ = self.triplet(out, vis_y, ir, ref, vis_masks, ir_masks)
            contrast = dh * self.contrast_scale
        else:
            contrast = out.new_zeros(())
        return {"loss": 3 * fuse + 3 * grad + contrast, "fuse": fuse, "grad": grad, "contrast": contrast}


# ---------------------------------------------------------------------------------- segmentation term
class SegHead(nn.Module):
    """A small fully convolutional segmenter on the fused RGB image (``B x 3 x H x W`` -> logits
    ``B x C x H x W``), trained with the teacher (``seg_loss='head'``)."""

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.LeakyReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.LeakyReLU(),
            nn.Conv2d(width, width, 3, padding=4, dilation=4), nn.LeakyReLU(),
            nn.Conv2d(width, num_classes, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.net(rgb)


def load_frozen_segmenter(factory: str, **kwargs) -> nn.Module:
    """``"package.module:function"`` -> ``function(**kwargs)``, an ``nn.Module`` mapping RGB in [0, 1]
    (``B x 3 x H x W``) to logits ``B x C x H x W``; returned frozen in eval mode."""
    if ":" not in factory:
        raise ConfigError(f"segmenter factory must look like 'package.module:function', got {factory!r}")
    mod_name, fn_name = factory.split(":", 1)
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import segmenter factory {factory!r}: {exc}") from exc
    model = fn(**kwargs)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"segmenter factory {factory!r} returned {type(model).__name__}, not an nn.Module")
    return model.eval().requires_grad_(False)


def seg_targets(label: torch.Tensor, mode: str) -> torch.Tensor:
    """Turn ``B x H x W`` int64 class-id maps (255 = ignore) into CE targets.

    ``"class_ids"`` keeps them (ignore index 255); ``"divided_by_255"`` reproduces the official loader
    (``ToTensor`` divides the 8-bit label by 255, ``.long()`` truncates: class 0 except exact 255 -> 1)."""
    if mode == "class_ids":
        return label
    if mode == "divided_by_255":
        return torch.div(label.clamp(0, 255), 255, rounding_mode="floor")
    raise ConfigError(f"seg_labels must be class_ids or divided_by_255, got {mode!r}")


def seg_cross_entropy(logits: torch.Tensor, label: torch.Tensor, *, labels_mode: str, scores_mode: str,
                      ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """CE of segmenter output against labels under the switches ``seg_labels`` / ``seg_scores``.

    With ``class_ids`` pixels equal to ``ignore_index`` are ignored; with ``divided_by_255`` nothing is
    (as upstream) and targets beyond the class count are clamped to the last class."""
    target = seg_targets(label, labels_mode)
    scores = logits if scores_mode == "logits" else torch.softmax(logits, dim=1)
    if scores_mode not in ("logits", "probabilities_as_logits"):
        raise ConfigError(f"seg_scores must be logits or probabilities_as_logits, got {scores_mode!r}")
    if labels_mode == "class_ids":
        if not bool((target != ignore_index).any()):
            return scores.sum() * 0.0          # every pixel ignored: no signal (avoids a NaN mean)
        return F.cross_entropy(scores, target, ignore_index=ignore_index)
    return F.cross_entropy(scores, target.clamp(max=logits.shape[1] - 1))
