"""Training samples for SAGE: random crop + horizontal flip applied identically to IR, visible YCrCb, the
teacher's mask channels and the segmentation label; deterministic per ``(seed, epoch, index)`` so that a
resumed run sees exactly the same batches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sagebench.colour import rgb_to_ycrcb
from sagebench.datasets.base import IGNORE_INDEX
from sagebench.errors import DataError
from sagebench.fusion_models.sage.sam_priors import SamPriors, build_mask_inputs


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """The sample order of an epoch (a seeded permutation; reshuffled every epoch)."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g).tolist()


class SageTrainSet(Dataset):
    """Wraps a paired dataset (``sagebench.datasets`` interface) for SAGE training.

    Args:
        base: dataset whose items have ``ir`` (1xHxW), ``vis`` (3xHxW or 1xHxW), ``content_hash``, ``target``.
        priors: SAM mask source (None: teacher masks are unmasked copies -- only for ablations/tests).
        crop: ``(h, w)``; images smaller than the crop in a dimension are taken whole and resized
            (bilinear for images and masks, nearest for labels when ``label_nearest``).
        mask_num: teacher mask channels per modality; ``mask_mode``: ``intensity`` or ``binary``.
        hflip: random horizontal flip with probability 0.5.
        seed: base seed; the crop/flip of item ``i`` in ``epoch`` depend only on ``(seed, epoch, i)``.
        label_nearest: resize labels with nearest neighbour (False: bilinear, as upstream would).

    Items are dicts of tensors: ``y``, ``ir``, ``cr``, ``cb`` (1 x h x w), ``vis_masks``, ``ir_masks``
    (mask_num x h x w), ``label`` (h x w int64, all 255 when the pair has no segmentation label),
    ``has_label`` (bool), ``index`` (int).
    """

    def __init__(self, base: Sequence, priors: SamPriors | None, crop: tuple[int, int] = (192, 256),
                 mask_num: int = 4, mask_mode: str = "binary", hflip: bool = True, seed: int = 0,
                 label_nearest: bool = True) -> None:
        self.base, self.priors = base, priors
        self.crop = (int(crop[0]), int(crop[1]))
        self.mask_num, self.mask_mode, self.hflip, self.seed = mask_num, mask_mode, hflip, seed
        self.label_nearest = label_nearest
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s = self.base[index]
        ir, vis = s.ir.float(), s.vis.float()
        if ir.shape[0] != 1:
            raise DataError(f"{s.name}: IR must have 1 channel, got {tuple(ir.shape)}")
        if vis.shape[0] == 3:
            ycc = rgb_to_ycrcb(vis.unsqueeze(0), quantize=True)[0]
        elif vis.shape[0] == 1:
            ycc = torch.cat([vis, torch.full_like(vis, 0.5), torch.full_like(vis, 0.5)])
        else:
            raise DataError(f"{s.name}: visible image must have 1 or 3 channels, got {tuple(vis.shape)}")
        y = ycc[0:1]
        if self.priors is not None:
            ir_m, vis_m = self.priors.masks_for(s.content_hash, s.ir, s.vis)
        else:
            ir_m = vis_m = np.zeros((0,) + tuple(ir.shape[-2:]), dtype=bool)
        vis_in, ir_in = build_mask_inputs(y, ir, ir_m, vis_m, self.mask_num, self.mask_mode)
        seg = (s.target or {}).get("seg") if s.target else None
        has_label = seg is not None
        label = seg.long() if has_label else torch.full(ir.shape[-2:], IGNORE_INDEX, dtype=torch.long)

        images = torch.cat([y, ir, ycc[1:3], vis_in, ir_in])          # (4 + 2K) x H x W
        images, label = self._augment(images, label, index)
        k = self.mask_num
        return {"y": images[0:1], "ir": images[1:2], "cr": images[2:3], "cb": images[3:4],
                "vis_masks": images[4:4 + k], "ir_masks": images[4 + k:4 + 2 * k], "label": label,
                "has_label": torch.tensor(has_label), "index": torch.tensor(index)}

    def _augment(self, images: torch.Tensor, label: torch.Tensor, index: int):
        rng = np.random.default_rng([int(self.seed), int(self.epoch), int(index)])
        ch, cw = self.crop
        h, w = images.shape[-2:]
        top = int(rng.integers(0, h - ch + 1)) if h >= ch else 0
        left = int(rng.integers(0, w - cw + 1)) if w >= cw else 0
        images = images[:, top:top + min(ch, h), left:left + min(cw, w)]
        label = label[top:top + min(ch, h), left:left + min(cw, w)]
        if images.shape[-2:] != (ch, cw):
            images = F.interpolate(images[None], size=(ch, cw), mode="bilinear", align_corners=False)[0]
            if self.label_nearest:
                label = F.interpolate(label[None, None].float(), size=(ch, cw), mode="nearest")[0, 0].long()
            else:
                label = F.interpolate(label[None, None].float(), size=(ch, cw), mode="bilinear",
                                      align_corners=False)[0, 0].long()
        if self.hflip and rng.random() < 0.5:
            images, label = images.flip(-1), label.flip(-1)
        return images.contiguous(), label.contiguous()


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
