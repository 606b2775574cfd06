"""Paired infrared/visible datasets: folder readers for the common IVIF layouts, labels, and a synthetic
scene generator.

    from sagebench.datasets import open_dataset
    ds = open_dataset("data/M3FD")                 # layout auto-detected, labels found in labels/
    s = ds[0]                                       # Sample(name, ir 1xHxW, vis 3xHxW, target, ...)
    syn = open_dataset("synthetic:night", n=24, seed=0, size=(128, 160))
"""

from __future__ import annotations

from sagebench.datasets.api import open_dataset
from sagebench.datasets.base import IGNORE_INDEX, PairedDataset, Sample
from sagebench.datasets.folder import FolderDataset
from sagebench.datasets.layouts import LAYOUTS, DatasetLayout, register_layout
from sagebench.datasets.synthetic import (
    SYN_DET_CLASSES,
    SYN_SEG_CLASSES,
    SyntheticDataset,
    class_contrast,
    write_synthetic,
)

__all__ = [
    "IGNORE_INDEX",
    "LAYOUTS",
    "DatasetLayout",
    "FolderDataset",
    "PairedDataset",
    "SYN_DET_CLASSES",
    "SYN_SEG_CLASSES",
    "Sample",
    "SyntheticDataset",
    "class_contrast",
    "open_dataset",
    "register_layout",
    "write_synthetic",
]
