"""The paired-dataset contract shared by folder-backed and synthetic datasets.

A :class:`PairedDataset` is a map-style ``torch.utils.data.Dataset`` of registered infrared/visible pairs.
``ds[i]`` returns a :class:`Sample`; images are decoded lazily, only when a sample is requested.
"""

from __future__ import annotations

import hashlib
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

#: Label value of pixels that are excluded from segmentation scoring.
IGNORE_INDEX = 255


@dataclass
class Sample:
    """One registered infrared/visible pair.

    Attributes:
        name: the pair's stem (file name without extension); fused images are saved as ``<name>.png``.
        ir: float32 tensor ``1 x H x W`` in [0, 1] (16-bit files are scaled by 1/65535, 8-bit by 1/255).
        vis: float32 tensor ``3 x H x W`` (RGB) or ``1 x H x W`` (grey) in [0, 1], same H, W as ``ir``.
        ir_path / vis_path: the source files (None for synthetic samples).
        content_hash: sha256 hex digest identifying the pair's content (file bytes, or generator
            parameters for synthetic samples); equal hashes mean identical inputs.
        target: None when the dataset has no labels, else a dict with any of
            ``boxes`` (float32 ``N x 4``, ``x1, y1, x2, y2`` in pixels, 0-based, x2/y2 exclusive edges),
            ``labels`` (int64 ``N``, indices into ``det_classes``),
            ``iscrowd`` (int64 ``N``, 1 for crowd/ignore boxes),
            ``seg`` (int64 ``H x W`` class ids into ``seg_classes``, 255 = ignore).
        meta: extra facts (split, day/night, scene id, conversions applied ...).
    """

    name: str
    ir: torch.Tensor
    vis: torch.Tensor
    ir_path: Path | None = None
    vis_path: Path | None = None
    content_hash: str = ""
    target: dict[str, torch.Tensor] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the pair."""
        return int(self.ir.shape[-2]), int(self.ir.shape[-1])


class PairedDataset(Dataset):
    """Base class of paired IR/visible datasets.

    Attributes:
        name: dataset name (folder name or ``synthetic:...``).
        names: list of sample stems, in index order (sorted).
        det_classes: detection class names (``labels`` index into it) or None.
        seg_classes: segmentation class names (``seg`` ids index into it) or None.
        skipped: ``(path, reason)`` for every pair dropped with ``on_error="skip"``.
        ignore_index: the ``seg`` value that means "not scored" (255).
    """

    ignore_index: int = IGNORE_INDEX

    def __init__(self, name: str) -> None:
        self.name = name
        self.names: list[str] = []
        self.det_classes: list[str] | None = None
        self.seg_classes: list[str] | None = None
        self.skipped: list[tuple[str, str]] = []

    @property
    def classes(self) -> list[str] | None:
        """Detection classes when the dataset has boxes, else segmentation classes, else None."""
        return self.det_classes if self.det_classes is not None else self.seg_classes

    @property
    def has_labels(self) -> bool:
        return self.det_classes is not None or self.seg_classes is not None

    def __len__(self) -> int:
        return len(self.names)

    @abstractmethod
    def __getitem__(self, index: int) -> Sample: ...

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def get_target(self, index: int) -> dict[str, torch.Tensor] | None:
        """``self[index].target``; folder datasets return it without decoding the images."""
        return self[index].target

    def index_of(self, name: str) -> int:
        """Index of the sample with stem ``name`` (KeyError if absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name}: no sample named {name!r}") from None

    def fingerprint(self) -> str:
        """sha256 over all sample names and content hashes (reads every pair once)."""
        h = hashlib.sha256()
        for i, n in enumerate(self.names):
            h.update(f"{n}\t{self.content_hash(i)}\n".encode())
        return h.hexdigest()

    def content_hash(self, index: int) -> str:
        """Content hash of sample ``index`` (subclasses may avoid decoding the images)."""
        return self[index].content_hash

    def _report_skipped(self) -> None:
        if self.skipped:
            lines = "\n".join(f"  {p}: {r}" for p, r in self.skipped)
            warnings.warn(f"{self.name}: skipped {len(self.skipped)} item(s) (on_error='skip'):\n{lines}",
                          stacklevel=3)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, n={len(self)}, det_classes={self.det_classes}, "
                f"seg_classes={self.seg_classes}, skipped={len(self.skipped)})")
