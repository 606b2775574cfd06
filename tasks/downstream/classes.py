"""Class lists, colour palettes and ignore values of the datasets the downstream tasks know.

Detection class lists are given in the order sagebench uses for training and reporting; adapters map
every source's own ids **by name** (case-insensitive), never by position, because sources disagree on
the order (M3FD's COCO files: People, Car, Motorcycle, Bus, Truck, Lamp; TarDAL/YOLO lists: People, Car,
Bus, Motorcycle, Lamp, Truck).

Segmentation class lists include the ``unlabelled``/``background`` class at id 0 exactly as the label
PNGs encode it; whether id 0 counts in mIoU is a per-dataset setting (``SegSpec.reduce_zero_label``:
False for MSRS/MFNet/FMB, where the papers report mIoU over all classes including the unlabelled one
— see ``docs/downstream.md``). Pixels equal to ``ignore_index`` (255) never count.
Palettes are RGB and are for visualisation only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sagebench.datasets.base import IGNORE_INDEX  # the one definition: label value 255 is never scored


def metric_suffix(class_name: str) -> str:
    """A class name as the suffix of its per-class metric (``AP_<suffix>``, ``IoU_<suffix>``): characters other
    than letters, digits, ``_`` and ``-`` become ``_`` (``"traffic light"`` -> ``traffic_light``). Metric
    names, not file names (those use :func:`sagebench.paths.slug`)."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in class_name)


@dataclass(frozen=True)
class DetSpec:
    """Detection label space: ``classes`` in training/report order; ``aliases`` maps other spellings."""

    name: str
    classes: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def index(self, label: str) -> int:
        """Index of a class given by any spelling (case-insensitive); KeyError names the known classes."""
        key = label.strip().lower()
        for alias, canon in self.aliases:
            if key == alias.lower():
                key = canon.lower()
        for i, c in enumerate(self.classes):
            if c.lower() == key:
                return i
        raise KeyError(f"class {label!r} is not one of {', '.join(self.classes)} ({self.name})")


@dataclass(frozen=True)
class SegSpec:
    """Segmentation label space: ids 0..len(classes)-1 with ``ignore_index`` for don't-care pixels."""

    name: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_index: int = IGNORE_INDEX
    reduce_zero_label: bool = False


#: M3FD (TarDAL, CVPR 2022). Report order follows the COCO files carried by ../shared (category ids 1..6).
M3FD_DET = DetSpec("m3fd", ("People", "Car", "Motorcycle", "Bus", "Truck", "Lamp"),
                   aliases=(("person", "People"), ("people", "People")))
#: The order TarDAL's YOLOv5 data file and most papers' YOLO labels use (for reading such labels).
M3FD_YOLO_ORDER = ("People", "Car", "Bus", "Motorcycle", "Lamp", "Truck")
#: MSRS detection boxes (Lele-3/MSRS-detection-label, classes.txt).
MSRS_DET = DetSpec("msrs", ("person", "bicycle", "car"), aliases=(("people", "person"), ("bike", "bicycle")))
#: LLVIP (pedestrians only; VOC XML upstream).
LLVIP_DET = DetSpec("llvip", ("person",), aliases=(("people", "person"), ("pedestrian", "person")))

#: MFNet / MSRS segmentation (Ha et al. 2017; Tang et al. 2022), palette of the MFNet toolkits.
MSRS_SEG = SegSpec(
    "msrs",
    ("unlabelled", "car", "person", "bike", "curve", "car_stop", "guardrail", "color_cone", "bump"),
    ((0, 0, 0), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 192), (128, 128, 0), (64, 64, 128),
     (192, 128, 128), (192, 64, 0)),
)
MFNET_SEG = SegSpec("mfnet", MSRS_SEG.classes, MSRS_SEG.palette)
#: FMB (Liu et al., SegMiF, ICCV 2023): 14 classes + unlabelled; palette as used by public FMB loaders.
FMB_SEG = SegSpec(
    "fmb",
    ("unlabelled", "Road", "Sidewalk", "Building", "Lamp", "Sign", "Vegetation", "Sky", "Person", "Car",
     "Truck", "Bus", "Motorcycle", "Bicycle", "Pole"),
    ((0, 0, 0), (228, 228, 179), (133, 57, 181), (177, 162, 67), (50, 178, 200), (199, 45, 132),
     (84, 172, 66), (79, 73, 179), (166, 99, 76), (253, 121, 66), (91, 165, 137), (152, 97, 155),
     (140, 153, 105), (158, 215, 222), (90, 113, 135)),
)
#: Binary person masks staged for MSRS train pairs (value 255 in the file = person; decoded to id 1).
MSRS_BINMASK_SEG = SegSpec("msrs_binmask", ("background", "person"), ((0, 0, 0), (220, 20, 60)))

DET_SPECS = {s.name: s for s in (M3FD_DET, MSRS_DET, LLVIP_DET)}
SEG_SPECS = {s.name: s for s in (MSRS_SEG, MFNET_SEG, FMB_SEG, MSRS_BINMASK_SEG)}


def default_palette(n: int) -> list[tuple[int, int, int]]:
    """A deterministic, distinct-enough RGB palette for ``n`` classes (class 0 black)."""
    out = [(0, 0, 0)]
    for i in range(1, n):
        out.append(((i * 97) % 256, (i * 57 + 80) % 256, (i * 151 + 40) % 256))
    return out[:n]
