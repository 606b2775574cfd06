"""Label formats found in IVIF datasets: COCO JSON, YOLO txt, Pascal-VOC XML (boxes) and class-id,
binary or colour-palette PNG maps (segmentation).

Box parsers run at open time (they are small text files) and return, per image stem, boxes in a
normalised intermediate form; :func:`boxes_to_target` turns them into pixel ``x1, y1, x2, y2`` tensors
once the image size is known. Segmentation maps are decoded lazily by :func:`read_seg_map`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sagebench.datasets.base import IGNORE_INDEX
from sagebench.errors import DataError
from sagebench.io import read_image

# --------------------------------------------------------------------------------------------- class tables
#: MSRS / MFNet semantic classes (Linfeng-Tang/MSRS ``Segmentation_labels``; SeAFusion ``Label``).
MSRS_SEG_CLASSES = ["unlabelled", "car", "person", "bike", "curve", "car_stop", "guardrail", "color_cone", "bump"]
#: FMB (SegMiF, ICCV 2023) semantic classes, id 0 = background/unlabelled.
FMB_SEG_CLASSES = ["background", "Road", "Sidewalk", "Building", "Lamp", "Sign", "Vegetation", "Sky", "Person",
                   "Car", "Truck", "Bus", "Motorcycle", "Bicycle", "Pole"]
#: PST900 classes (pstnet README order).
PST900_SEG_CLASSES = ["background", "fire_extinguisher", "backpack", "hand_drill", "survivor"]
#: PST900 label colours in the RGB visualisation PNG (toolkit colormap is BGR) -> class id.
PST900_PALETTE: dict[tuple[int, int, int], int] = {
    (0, 0, 0): 0, (255, 0, 0): 1, (0, 255, 0): 2, (0, 0, 255): 3, (255, 255, 255): 4}
#: Classes of a binary 0/255 mask (IVIF binary masks, e.g. DRMF's MSRS masks, mark persons).
BINARY_SEG_CLASSES = ["background", "person"]


@dataclass
class BoxSet:
    """Boxes of one image before conversion to pixels.

    ``coords`` is ``N x 4``: ``x1, y1, x2, y2`` in pixels when ``normalized`` is False, or YOLO
    ``cx, cy, w, h`` in [0, 1] when True. ``labels`` index into the dataset's detection classes.
    """

    coords: np.ndarray
    labels: np.ndarray
    iscrowd: np.ndarray
    normalized: bool = False
    source: str = ""
    meta: dict = field(default_factory=dict)


def boxes_to_target(bs: BoxSet, height: int, width: int) -> dict[str, torch.Tensor]:
    """Convert a :class:`BoxSet` to ``boxes`` (float32 N x 4 xyxy pixels), ``labels``, ``iscrowd`` (int64 N)."""
    c = bs.coords.astype(np.float64).reshape(-1, 4)
    if bs.normalized:
        cx, cy, w, h = c[:, 0] * width, c[:, 1] * height, c[:, 2] * width, c[:, 3] * height
        c = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return {
        "boxes": torch.from_numpy(c.astype(np.float32)).reshape(-1, 4),
        "labels": torch.from_numpy(bs.labels.astype(np.int64)).reshape(-1),
        "iscrowd": torch.from_numpy(bs.iscrowd.astype(np.int64)).reshape(-1),
    }


def _empty(source: str, normalized: bool = False) -> BoxSet:
    return BoxSet(np.zeros((0, 4), np.float64), np.zeros(0, np.int64), np.zeros(0, np.int64), normalized, source)


# --------------------------------------------------------------------------------------------- COCO
@dataclass
class CocoLabels:
    path: Path
    classes: list[str]
    category_ids: list[int]
    by_stem: dict[str, BoxSet]
    images: dict[str, dict]  # stem -> COCO image entry


def read_coco(path: Path) -> CocoLabels:
    """Parse a COCO detection JSON. Classes keep the order of ``categories`` in the file; ``labels`` are
    indices into that list. Images are keyed by the stem of ``file_name``; ``bbox`` ``[x, y, w, h]`` becomes
    ``[x, y, x + w, y + h]``; ``iscrowd`` is 1 when ``iscrowd`` or ``ignore`` is set.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read COCO JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(k in data for k in ("images", "annotations", "categories")):
        raise DataError(f"{path}: not a COCO detection file (needs 'images', 'annotations', 'categories')")
    try:
        cats = list(data["categories"])
        cat_ids = [int(c["id"]) for c in cats]
        names = [str(c["name"]) for c in cats]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed 'categories' ({exc!r})") from exc
    if len(set(cat_ids)) != len(cat_ids):
        raise DataError(f"{path}: duplicate category ids {cat_ids}")
    index = {cid: i for i, cid in enumerate(cat_ids)}
    images: dict[str, dict] = {}
    id_to_stem: dict = {}
    for im in data["images"]:
        try:
            stem = Path(str(im["file_name"])).stem
            iid = im["id"]
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}: image entry without file_name/id: {im!r}") from exc
        if stem in images:
            raise DataError(f"{path}: two image entries with the stem {stem!r}")
        images[stem] = im
        id_to_stem[iid] = stem
    rows: dict[str, list] = {s: [] for s in images}
    for ann in data["annotations"]:
        try:
            iid, cid, (x, y, w, h) = ann["image_id"], int(ann["category_id"]), [float(v) for v in ann["bbox"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: malformed annotation {ann.get('id', '?')!r} ({exc!r})") from exc
        if iid not in id_to_stem:
            raise DataError(f"{path}: annotation {ann.get('id', '?')} refers to unknown image_id {iid!r}")
        if cid not in index:
            raise DataError(f"{path}: annotation {ann.get('id', '?')} has unknown category_id {cid} "
                            f"(categories: {cat_ids})")
        if w < 0 or h < 0:
            raise DataError(f"{path}: annotation {ann.get('id', '?')} has a negative box size {ann['bbox']}")
        crowd = int(bool(ann.get("iscrowd", 0)) or bool(ann.get("ignore", 0)))
        rows[id_to_stem[iid]].append((x, y, x + w, y + h, index[cid], crowd))
    by_stem = {}
    for stem, r in rows.items():
        if r:
            a = np.asarray(r, dtype=np.float64)
            by_stem[stem] = BoxSet(a[:, :4], a[:, 4].astype(np.int64), a[:, 5].astype(np.int64), False, str(path))
        else:
            by_stem[stem] = _empty(str(path))
    return CocoLabels(path, names, cat_ids, by_stem, images)


# --------------------------------------------------------------------------------------------- YOLO
def read_yolo_classes(path: Path) -> list[str]:
    """``classes.txt``: one class per line, either ``name`` (id = line number) or ``id name``."""
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read class list ({exc})") from exc
    if not lines:
        raise DataError(f"{path}: empty class list")
    table: dict[int, str] = {}
    for i, ln in enumerate(lines):
        parts = ln.split(maxsplit=1)
        if len(parts) == 2 and parts[0].isdigit():
            table[int(parts[0])] = parts[1].strip()
        else:
            table[i] = ln
    if sorted(table) != list(range(len(table))):
        raise DataError(f"{path}: class ids must be 0..{len(table) - 1} without gaps, got {sorted(table)}")
    return [table[i] for i in range(len(table))]


def read_yolo_file(path: Path, n_classes: int) -> BoxSet:
    """One YOLO txt file: lines ``class cx cy w h`` normalised to [0, 1]; empty file = no objects."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read YOLO label file ({exc})") from exc
    rows = []
    for ln_no, ln in enumerate(text.splitlines(), 1):
        parts = ln.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise DataError(f"{path}:{ln_no}: expected 'class cx cy w h' (5 fields), got {len(parts)}: {ln!r}")
        try:
            cls = int(parts[0])
            vals = [float(v) for v in parts[1:]]
        except ValueError as exc:
            raise DataError(f"{path}:{ln_no}: non-numeric field in {ln!r}") from exc
        if not 0 <= cls < n_classes:
            raise DataError(f"{path}:{ln_no}: class id {cls} outside 0..{n_classes - 1}")
        if any(v < -0.01 or v > 1.01 for v in vals):
            raise DataError(f"{path}:{ln_no}: coordinates {vals} are not normalised to [0, 1]")
        rows.append((*vals, cls))
    if not rows:
        return _empty(str(path), normalized=True)
    a = np.asarray(rows, dtype=np.float64)
    return BoxSet(a[:, :4], a[:, 4].astype(np.int64), np.zeros(len(a), np.int64), True, str(path))


# --------------------------------------------------------------------------------------------- VOC
def read_voc_file(path: Path) -> tuple[list[tuple[float, float, float, float, str, int]], tuple[int, int] | None]:
    """Pascal-VOC XML: returns ``(x1, y1, x2, y2, name, difficult)`` rows and ``(W, H)`` if stated.

    VOC pixel indices are 1-based and inclusive; they become 0-based corners ``xmin - 1, ymin - 1, xmax,
    ymax`` (the same convention as the common voc2coco converters).
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DataError(f"{path}: cannot parse VOC XML ({exc})") from exc
    size = None
    sz = root.find("size")
    if sz is not None and sz.findtext("width") and sz.findtext("height"):
        try:
            size = (int(float(sz.findtext("width"))), int(float(sz.findtext("height"))))
        except ValueError:
            size = None
    rows = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bb = obj.find("bndbox")
        if not name or bb is None:
            raise DataError(f"{path}: <object> without <name> or <bndbox>")
        try:
            x1, y1, x2, y2 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: malformed <bndbox> of {name!r}") from exc
        diff = int((obj.findtext("difficult") or "0").strip() or 0)
        rows.append((x1 - 1, y1 - 1, x2, y2, name, diff))
    return rows, size


# --------------------------------------------------------------------------------------------- seg maps
SEG_FORMATS = ("class_ids", "binary", "palette")


def sniff_seg_format(paths: list[Path]) -> str:
    """Guess how segmentation PNGs encode classes from up to three files: RGB with unequal channels ->
    ``palette``; single channel with values only 0 and 255 -> ``binary``; otherwise ``class_ids``."""
    fmt = None
    for p in paths[:3]:
        arr = read_image(p, keep_palette=True)
        if arr.ndim == 3 and not (np.array_equal(arr[..., 0], arr[..., 1])
                                  and np.array_equal(arr[..., 0], arr[..., 2])):
            return "palette"
        vals = np.unique(arr if arr.ndim == 2 else arr[..., 0])
        this = "binary" if set(vals.tolist()) <= {0, 255} and 255 in vals else "class_ids"
        if this == "class_ids":
            return "class_ids"
        fmt = this
    return fmt or "class_ids"


def read_seg_map(path: Path, fmt: str, n_classes: int | None,
                 palette: dict[tuple[int, int, int], int] | None = None) -> torch.Tensor:
    """Decode a label PNG into an int64 ``H x W`` tensor of class ids (255 = ignore).

    ``class_ids``: pixel value = class id (values >= ``n_classes`` other than 255 raise DataError).
    ``binary``: 0 -> 0, 255 -> 1 (other values raise). ``palette``: RGB colour -> id via ``palette``
    (a colour that is not in the palette raises DataError naming it).
    """
    arr = read_image(path, keep_palette=True)
    if arr.dtype != np.uint8 and fmt != "class_ids":
        raise DataError(f"{path}: {fmt} label maps must be 8-bit, got {arr.dtype}")
    if fmt == "palette":
        if palette is None:
            raise DataError(f"{path}: colour label map but no palette is known; pass palette={{(r,g,b): id}}")
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        code = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2]
        lut_keys = np.array([(r << 16) | (g << 8) | b for (r, g, b) in palette], dtype=np.int64)
        lut_vals = np.array(list(palette.values()), dtype=np.int64)
        order = np.argsort(lut_keys)
        lut_keys, lut_vals = lut_keys[order], lut_vals[order]
        pos = np.clip(np.searchsorted(lut_keys, code), 0, len(lut_keys) - 1)
        ok = lut_keys[pos] == code
        if not ok.all():
            bad = np.unique(code[~ok])[:5]
            cols = [((int(c) >> 16) & 255, (int(c) >> 8) & 255, int(c) & 255) for c in bad]
            raise DataError(f"{path}: {int((~ok).sum())} pixel(s) have colours not in the label palette, "
                            f"e.g. {cols}; palette: {sorted(palette)}")
        return torch.from_numpy(lut_vals[pos])
    if arr.ndim == 3:
        if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise DataError(f"{path}: RGB label map with unequal channels cannot be a {fmt} map "
                            "(pass label_format='palette' with a palette)")
        arr = arr[..., 0]
    if fmt == "binary":
        vals = np.unique(arr)
        if not set(vals.tolist()) <= {0, 255}:
            raise DataError(f"{path}: binary mask has values other than 0/255: {vals[:10].tolist()}")
        return torch.from_numpy((arr == 255).astype(np.int64))
    out = arr.astype(np.int64)
    if n_classes is not None:
        bad = (out >= n_classes) & (out != IGNORE_INDEX)
        if bad.any():
            raise DataError(f"{path}: class ids {np.unique(out[bad])[:10].tolist()} outside 0..{n_classes - 1} "
                            f"(and not the ignore value {IGNORE_INDEX})")
    return torch.from_numpy(out)


def read_seg_classes(path: Path) -> list[str]:
    """``seg_classes.txt``: same syntax as YOLO ``classes.txt`` (``name`` or ``id name`` per line)."""
    return read_yolo_classes(path)
