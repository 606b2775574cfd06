"""Label adapters: source annotation formats -> COCO JSON / class-id PNGs, and sagebench datasets ->
the files mmdet/mmseg read.

* :func:`coco_by_name` re-maps a COCO file's categories **by name** onto a :class:`DetSpec` order (M3FD).
* :func:`yolo_to_coco` converts YOLO txt labels (``class cx cy w h`` normalised to [0, 1]; MSRS boxes).
* :func:`voc_to_coco` converts Pascal-VOC XML (LLVIP, M3FD upstream).
* :func:`decode_palette_label` turns a colour-palette label PNG into class ids (unknown colours -> error).
* :func:`dataset_to_coco` / :func:`write_seg_labels` turn a ``PairedDataset``'s ``Sample.target`` into a
  COCO JSON whose ``file_name`` points at the fused images, and into uint8 class-id PNGs.

Box conventions: COCO ``bbox`` is ``[x, y, w, h]`` in pixels; sagebench targets are ``xyxy`` float pixels
(``w = x2 - x1``). VOC XML is 1-based inclusive; :func:`voc_to_coco` follows the common converter
(``x = xmin - 1``, ``w = xmax - xmin + 1``) so that its output matches ``../shared``'s M3FD COCO files.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sagebench.errors import DataError
from sagebench.io import write_json
from sagebench.tasks.downstream.classes import IGNORE_INDEX, DetSpec, SegSpec

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _categories(classes: Iterable[str]) -> list[dict[str, Any]]:
    return [{"id": i + 1, "name": c, "supercategory": "none"} for i, c in enumerate(classes)]


def _ann(ann_id: int, img_id: int, cat: int, x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"id": ann_id, "image_id": img_id, "category_id": cat, "bbox": [x, y, w, h], "area": w * h,
            "iscrowd": 0, "ignore": 0, "segmentation": []}


def coco_by_name(coco: Mapping[str, Any] | str | os.PathLike, spec: DetSpec) -> dict[str, Any]:
    """Re-map a COCO dict (or file) onto ``spec.classes`` by category **name**; category ids become 1..K.

    Image ids are kept as given; annotation ids are renumbered 1..N. Unknown category names raise
    :class:`DataError` naming them.
    """
    src = str(coco) if not isinstance(coco, Mapping) else "<dict>"
    if not isinstance(coco, Mapping):
        with open(coco, encoding="utf-8") as f:
            coco = json.load(f)
    try:
        remap = {c["id"]: spec.index(c["name"]) + 1 for c in coco["categories"]}
    except KeyError as e:
        raise DataError(f"{src}: {e}") from None
    anns = []
    for i, a in enumerate(coco.get("annotations", [])):
        b = dict(a)
        b["category_id"] = remap[a["category_id"]]
        b["id"] = i + 1
        anns.append(b)
    return {"images": [dict(im) for im in coco["images"]], "annotations": anns,
            "categories": _categories(spec.classes)}


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size  # (w, h)
    except Exception as e:
        raise DataError(f"{path}: cannot read image size: {e}") from e


def yolo_to_coco(label_dir: str | os.PathLike, image_dir: str | os.PathLike, classes: Iterable[str],
                 spec: DetSpec, *, allow_missing: bool = False) -> dict[str, Any]:
    """Convert YOLO txt labels (``cls cx cy w h`` in [0, 1]) of every image in ``image_dir`` to COCO.

    ``classes`` is the txt files' own class order (e.g. ``labels/classes.txt``); boxes are mapped by
    name onto ``spec``. An image without a txt file is an error unless ``allow_missing`` (then it has no
    boxes). Malformed lines raise :class:`DataError` with file and line number.
    """
    label_dir, image_dir = Path(label_dir), Path(image_dir)
    src_classes = list(classes)
    to_spec = [spec.index(c) + 1 for c in src_classes]
    images, anns = [], []
    paths = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not paths:
        raise DataError(f"{image_dir}: no images")
    for img_id, p in enumerate(paths, start=1):
        w, h = _image_size(p)
        images.append({"id": img_id, "file_name": p.name, "width": w, "height": h})
        txt = label_dir / f"{p.stem}.txt"
        if not txt.is_file():
            if allow_missing:
                continue
            raise DataError(f"{txt}: label file missing for image {p}")
        for ln, line in enumerate(txt.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                c, cx, cy, bw, bh = int(parts[0]), *(float(v) for v in parts[1:5])
                if len(parts) != 5 or not 0 <= c < len(src_classes):
                    raise ValueError
            except (ValueError, IndexError):
                raise DataError(f"{txt}:{ln}: expected 'class cx cy w h' with class in 0..{len(src_classes) - 1},"
                                f" got {line!r}") from None
            x1, y1 = max(0.0, (cx - bw / 2) * w), max(0.0, (cy - bh / 2) * h)
            x2, y2 = min(float(w), (cx + bw / 2) * w), min(float(h), (cy + bh / 2) * h)
            if x2 <= x1 or y2 <= y1:
                raise DataError(f"{txt}:{ln}: empty box after clipping to the {w}x{h} image: {line!r}")
            anns.append(_ann(len(anns) + 1, img_id, to_spec[c], x1, y1, x2 - x1, y2 - y1))
    return {"images": images, "annotations": anns, "categories": _categories(spec.classes)}


def voc_to_coco(xml_dir: str | os.PathLike, spec: DetSpec, *, names: Iterable[str] | None = None,
                image_ext: str = ".png") -> dict[str, Any]:
    """Convert Pascal-VOC XML files (one per image) to COCO, classes mapped by name onto ``spec``.

    ``names`` restricts/orders the stems (default: every ``*.xml``). Objects flagged ``difficult``
    get ``ignore = 1`` and ``iscrowd = 1`` (COCO eval then ignores them). Image size comes from ``<size>``.
    """
    xml_dir = Path(xml_dir)
    stems = list(names) if names is not None else sorted(p.stem for p in xml_dir.glob("*.xml"))
    if not stems:
        raise DataError(f"{xml_dir}: no .xml files")
    images, anns = [], []
    for img_id, stem in enumerate(stems, start=1):
        f = xml_dir / f"{stem}.xml"
        try:
            root = ET.parse(f).getroot()
            size = root.find("size")
            w, h = int(size.findtext("width")), int(size.findtext("height"))  # type: ignore[union-attr,arg-type]
        except FileNotFoundError:
            raise DataError(f"{f}: annotation file missing") from None
        except Exception as e:
            raise DataError(f"{f}: not a VOC annotation with <size>: {e}") from e
        images.append({"id": img_id, "file_name": stem + image_ext, "width": w, "height": h})
        for obj in root.iter("object"):
            name = obj.findtext("name", "")
            try:
                cat = spec.index(name) + 1
                bb = obj.find("bndbox")
                x1, y1, x2, y2 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore
            except KeyError as e:
                raise DataError(f"{f}: {e}") from None
            except Exception as e:
                raise DataError(f"{f}: object {name!r} has no valid <bndbox>: {e}") from e
            a = _ann(len(anns) + 1, img_id, cat, x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1)
            if obj.findtext("difficult", "0").strip() == "1":
                a["ignore"] = a["iscrowd"] = 1
            anns.append(a)
    return {"images": images, "annotations": anns, "categories": _categories(spec.classes)}


def decode_palette_label(rgb: np.ndarray, spec: SegSpec, *, source: str = "<array>") -> np.ndarray:
    """``H x W x 3`` uint8 colour label -> ``H x W`` int64 class ids by ``spec.palette``.

    A colour outside the palette raises :class:`DataError` naming ``source`` and the colour.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DataError(f"{source}: palette label must be H x W x 3, got shape {rgb.shape}")
    code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    out = np.full(code.shape, -1, np.int64)
    for i, (r, g, b) in enumerate(spec.palette):
        out[code == ((r << 16) | (g << 8) | b)] = i
    if (out < 0).any():
        c = int(code[out < 0][0])
        raise DataError(f"{source}: colour {(c >> 16, (c >> 8) & 255, c & 255)} is not in the {spec.name} palette")
    return out


def dataset_to_coco(dataset: Any, classes: Iterable[str], image_dir: str | os.PathLike,
                    out_json: str | os.PathLike) -> dict[str, Any]:
    """Write a COCO JSON for ``dataset``'s boxes whose images are ``image_dir/<stem>.png`` (fused images).

    ``dataset[i].target`` must hold ``boxes`` (N x 4 xyxy float pixels) and ``labels`` (N, int64, index
    into ``classes``); optional ``iscrowd`` (N) marks boxes COCO evaluation ignores. Image ids are
    1..len(dataset) in dataset order; ``file_name`` is the absolute path
    of the fused PNG, which must exist. Returns the COCO dict (also written atomically to ``out_json``).
    """
    classes = list(classes)
    image_dir = Path(image_dir)
    images, anns = [], []
    for idx in range(len(dataset)):
        s = dataset[idx]
        img = (image_dir / f"{s.name}.png").resolve()
        if not img.is_file():
            raise DataError(f"{img}: fused image missing for sample {s.name!r}")
        w, h = _image_size(img)
        ih, iw = s.ir.shape[-2:]
        if (h, w) != (ih, iw):
            raise DataError(f"{img}: fused image is {w}x{h} but the pair {s.name!r} is {iw}x{ih}")
        images.append({"id": idx + 1, "file_name": str(img), "width": w, "height": h, "stem": s.name})
        t = s.target
        if t is None or "boxes" not in t or "labels" not in t:
            raise DataError(f"sample {s.name!r} of {getattr(dataset, 'name', 'dataset')} has no box labels")
        boxes = np.asarray(t["boxes"], dtype=np.float64).reshape(-1, 4)
        labels = np.asarray(t["labels"], dtype=np.int64).reshape(-1)
        if len(boxes) != len(labels):
            raise DataError(f"sample {s.name!r}: {len(boxes)} boxes but {len(labels)} labels")
        crowd = np.asarray(t.get("iscrowd", np.zeros(len(labels))), dtype=np.int64).reshape(-1)
        if len(crowd) != len(labels):
            raise DataError(f"sample {s.name!r}: {len(crowd)} iscrowd flags but {len(labels)} labels")
        for (x1, y1, x2, y2), c, cr in zip(boxes.tolist(), labels.tolist(), crowd.tolist()):
            if not 0 <= c < len(classes):
                raise DataError(f"sample {s.name!r}: label {c} outside 0..{len(classes) - 1}")
            if x2 <= x1 or y2 <= y1:
                raise DataError(f"sample {s.name!r}: degenerate box {[x1, y1, x2, y2]}")
            a = _ann(len(anns) + 1, idx + 1, c + 1, x1, y1, x2 - x1, y2 - y1)
            if cr:
                a["iscrowd"] = a["ignore"] = 1
            anns.append(a)
    coco = {"images": images, "annotations": anns, "categories": _categories(classes)}
    write_json(out_json, coco)
    return coco


def write_seg_labels(dataset: Any, num_classes: int, out_dir: str | os.PathLike,
                     ignore_index: int = IGNORE_INDEX) -> list[str]:
    """Write ``dataset[i].target['seg']`` (H x W int64 ids, ``ignore_index`` = don't care) as uint8 PNGs
    ``out_dir/<stem>.png``. Values outside ``0..num_classes-1`` and ``ignore_index`` raise DataError.
    Returns the stems in dataset order."""
    from sagebench.io import write_image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = []
    for idx in range(len(dataset)):
        s = dataset[idx]
        if s.target is None or s.target.get("seg") is None:
            raise DataError(f"sample {s.name!r} of {getattr(dataset, 'name', 'dataset')} has no segmentation label")
        seg = np.asarray(s.target["seg"]).astype(np.int64)
        if seg.shape != tuple(s.ir.shape[-2:]):
            raise DataError(f"sample {s.name!r}: label is {seg.shape} but the pair is {tuple(s.ir.shape[-2:])}")
        bad = (seg != ignore_index) & ((seg < 0) | (seg >= num_classes))
        if bad.any():
            raise DataError(f"sample {s.name!r}: label values {sorted(set(seg[bad].tolist()))[:5]} outside "
                            f"0..{num_classes - 1} and ignore {ignore_index}")
        write_image(out_dir / f"{s.name}.png", seg.astype(np.uint8))
        stems.append(s.name)
    return stems
