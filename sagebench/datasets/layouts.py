"""Dataset layouts as data: which folders hold the infrared and visible images, and what the label maps
of a label folder mean.

A :class:`DatasetLayout` is registered with :func:`register_layout`; :func:`open_dataset` tries the
registered layouts in order and the first whose two image folders both exist wins. A new layout (your
own dataset's folder names and classes) is one call, no edit of the reader::

    from sagebench.datasets.layouts import DatasetLayout, register_layout
    register_layout(DatasetLayout("MyCam (lw/ rgb/)", ir=("lw",), vis=("rgb_rect",),
                                  seg_classes={"masks": ("background", "person", "car")}))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sagebench.datasets import labels as L


@dataclass(frozen=True)
class DatasetLayout:
    """One folder layout.

    Attributes:
        name: how messages and ``ds.layout`` describe it, e.g. ``"MSRS / TNO / M3FD (ir/ vi/ or ir/ vis/)"``.
        ir, vis: folder names of the infrared and visible images (case-insensitive; the first that exists).
        seg_classes: label-folder name (lower case) -> class names of its label maps; ``"*"`` applies to
            every label folder. Folders not named here (and without ``seg_classes.txt``) have their
            format sniffed and their classes numbered.
    """

    name: str
    ir: tuple[str, ...]
    vis: tuple[str, ...]
    seg_classes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def classes_of_label_folder(self, folder: str) -> list[str] | None:
        hit = self.seg_classes.get(folder.lower(), self.seg_classes.get("*"))
        return list(hit) if hit is not None else None


#: The registered layouts, in the order they are tried.
LAYOUTS: list[DatasetLayout] = []


def register_layout(layout: DatasetLayout, *, first: bool = False) -> DatasetLayout:
    """Add ``layout`` (at the end, or ``first`` to try it before the others); a name is registered once."""
    if any(x.name == layout.name for x in LAYOUTS):
        raise ValueError(f"dataset layout {layout.name!r} is already registered")
    LAYOUTS.insert(0, layout) if first else LAYOUTS.append(layout)
    return layout


def layout_of_folders(ir_folder: str, vis_folder: str) -> DatasetLayout | None:
    """The registered layout whose folder names are these (for datasets opened with ``ir=``/``vis=``)."""
    for layout in LAYOUTS:
        if ir_folder.lower() in layout.ir and vis_folder.lower() in layout.vis:
            return layout
    return None


register_layout(DatasetLayout("RoadScene (cropinfrared/ crop_LR_visible/)", ("cropinfrared",), ("crop_lr_visible",)))
register_layout(DatasetLayout("FMB / LLVIP (Infrared/ Visible/)", ("infrared",), ("visible",),
                              seg_classes={"label": tuple(L.FMB_SEG_CLASSES)}))
register_layout(DatasetLayout("MSRS / TNO / M3FD (ir/ vi/ or ir/ vis/ or Ir/ Vis/)", ("ir",), ("vi", "vis"),
                              seg_classes={"label": tuple(L.MSRS_SEG_CLASSES),
                                           "segmentation_labels": tuple(L.MSRS_SEG_CLASSES)}))
register_layout(DatasetLayout("PST900 (thermal/ rgb/)", ("thermal",), ("rgb",),
                              seg_classes={"*": tuple(L.PST900_SEG_CLASSES)}))
register_layout(DatasetLayout("KAIST-style (lwir/ visible/)", ("lwir",), ("visible",)))
