"""Folder-backed paired datasets: layout detection, pairing by file stem, validation and lazy reading.

Opening a folder lists and pairs the files, reads the (small) box label files and checks every image
header (size and readability, without decoding pixels). Pixels are decoded in ``__getitem__``.
"""

from __future__ import annotations

import csv
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from sagebench.colour import rgb_to_gray
from sagebench.datasets import labels as L
from sagebench.datasets.base import PairedDataset, Sample
from sagebench.datasets.layouts import LAYOUTS, DatasetLayout, layout_of_folders
from sagebench.errors import DataError
from sagebench.io import IMAGE_SUFFIXES, read_image, to_gray_if_equal, to_tensor
from sagebench.paths import check_name, inside

LABEL_DIR_NAMES = ("labels", "label", "segmentation_labels", "annotations", "annotation", "masks", "mask")
SPLIT_NAMES = ("train", "val", "test", "trainval", "validation", "valid")
ON_ERROR = ("raise", "skip")
_MAX_LISTED = 20


def _is_image(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES


def _child(d: Path, *names: str) -> Path | None:
    """Sub-folder of ``d`` whose name equals one of ``names`` case-insensitively (first name wins)."""
    if not d.is_dir():
        return None
    subs = {}
    for p in d.iterdir():
        if p.is_dir():
            subs.setdefault(p.name.lower(), []).append(p)
    for n in names:
        hits = subs.get(n.lower(), [])
        if len(hits) > 1:
            raise DataError(f"{d}: ambiguous folders {[h.name for h in hits]} (differ only in case)")
        if hits:
            return hits[0]
    return None


def _list_images(d: Path) -> dict[str, Path]:
    """stem -> image file in folder ``d`` (not recursive); two files with one stem raise DataError."""
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir()):
        if _is_image(p):
            if p.stem in out:
                raise DataError(f"{d}: two images share the stem {p.stem!r}: {out[p.stem].name}, {p.name}")
            out[p.stem] = p
    return out


def _header_size(p: Path) -> tuple[int, int] | str:
    """``(W, H)`` from the image header, or an error message (the file is not decoded)."""
    try:
        with Image.open(p) as im:
            return im.size
    except Exception as exc:  # PIL raises many types for broken files
        return f"cannot read image ({type(exc).__name__}: {exc})"


def _file_sha(p: Path, h: Any) -> None:
    from sagebench.deps import record_file

    record_file(p)  # a later run's no-change check looks at this file's metadata
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


@dataclass
class _Pair:
    stem: str
    ir: Path
    vis: Path
    seg: Path | None = None
    boxes: L.BoxSet | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class FolderDataset(PairedDataset):
    """Registered IR/visible pairs stored in two folders (see :func:`sagebench.datasets.open_dataset`).

    Attributes (beyond :class:`PairedDataset`):
        root: the dataset folder (None when only ``ir=``/``vis=`` folders were given).
        layout: how the pairs were found (a layout description, ``PAIRS.tsv`` or ``ir=/vis= folders``).
        ir_dir, vis_dir: the image folders (None when pairs come from ``PAIRS.tsv``).
        label_info: where labels came from and their format, e.g.
            ``{"det": {"format": "coco", "path": ..., "category_ids": [...]}, "seg": {"format": "binary", ...}}``.
    """

    def __init__(self, source: str | Path | None = None, *, ir: str | Path | None = None,
                 vis: str | Path | None = None, split: str | None = None, on_error: str = "raise",
                 labels: str | Path | bool | None = None, label_modality: str | None = None,
                 seg_classes: list[str] | None = None, det_classes: list[str] | None = None,
                 label_format: str = "auto", palette: dict[tuple[int, int, int], int] | None = None,
                 verify: bool = True, vis_gray_if_equal: bool = True, name: str | None = None,
                 ir_name: str = "{stem}", vis_name: str = "{stem}") -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        for what, tmpl in (("ir_name", ir_name), ("vis_name", vis_name)):
            if tmpl.count("{stem}") != 1 or any(c in tmpl for c in "/\\"):
                raise ValueError(f"{what} must name a file stem with one {{stem}} (e.g. 'IR{{stem}}'), got {tmpl!r}")
        self._name_templates = (ir_name, vis_name)
        if label_format not in ("auto", *L.SEG_FORMATS):
            raise ValueError(f"label_format must be 'auto' or one of {L.SEG_FORMATS}, got {label_format!r}")
        self.root = Path(source).expanduser() if source is not None else None
        if self.root is not None and not self.root.is_dir():
            raise DataError(f"{self.root}: dataset folder not found" if not self.root.exists()
                            else f"{self.root}: is a file, expected a dataset folder")
        if self.root is None and (ir is None or vis is None):
            raise DataError("open_dataset: give a dataset folder, or both ir= and vis= folders")
        super().__init__(name or (self.root.name if self.root is not None else Path(str(ir)).parent.name or "pairs"))
        self.split = split
        self.on_error = on_error
        self.vis_gray_if_equal = vis_gray_if_equal
        self.ir_dir: Path | None = None
        self.vis_dir: Path | None = None
        self.layout = ""
        self.label_info: dict[str, dict[str, Any]] = {}
        self._split_used = split is None
        self._problems: list[tuple[str, str, str]] = []  # (stem, path, reason)
        self._hashes: dict[int, tuple[tuple, str]] = {}  # index -> (file stamps, content hash)
        self._label_base: Path | None = self.root
        self._tsv_labels = False
        self._seg_format = "class_ids"
        self._palette: dict[tuple[int, int, int], int] | None = None

        pairs = self._find_pairs(ir, vis)
        if labels is not False:
            self._attach_labels(pairs, labels, label_modality, seg_classes, det_classes, label_format, palette)
        if split is not None and not self._split_used:
            raise DataError(f"{self.root}: split {split!r} not found: no {split}/ sub-folder beside or inside the "
                            "image folders, and the labels carry no 'split' field")
        if verify:
            self._verify(pairs)
        self._finish(pairs)

    # ------------------------------------------------------------------ pairing
    def _resolve(self, p: str | Path) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() or self.root is None else self.root / p

    def _find_pairs(self, ir: str | Path | None, vis: str | Path | None) -> list[_Pair]:
        root = self.root
        pairs_tsv = root / "PAIRS.tsv" if root is not None else None
        if pairs_tsv is not None and pairs_tsv.is_file() and vis is None and (
                ir is None or str(ir) in self._tsv_columns(pairs_tsv)):
            return self._pairs_from_tsv(pairs_tsv, str(ir) if ir is not None else "ir")
        if ir is not None and vis is not None:
            ir_dir, vis_dir = self._resolve(ir), self._resolve(vis)
            for d in (ir_dir, vis_dir):
                if not d.is_dir():
                    raise DataError(f"{d}: image folder not found")
            self.layout = "ir=/vis= folders"
        else:
            assert root is not None
            base = root
            if self.split is not None and _child(root, self.split) is not None and self._layout_dirs(root) is None:
                base = _child(root, self.split)  # e.g. MSRS/train/{ir,vi}
                self._split_used = True
            found = self._layout_dirs(base)
            if found is None:
                self._unknown_layout(root)
            _, ir_dir, vis_dir = found
            ir_dir = self._resolve(ir) if ir is not None else ir_dir
            vis_dir = self._resolve(vis) if vis is not None else vis_dir
            self.layout = f"{ir_dir.name}/ + {vis_dir.name}/"
            self._label_base = base
        # split below the image folders (LLVIP: infrared/{train,test})
        if self.split is not None and not self._split_used:
            si, sv = _child(ir_dir, self.split), _child(vis_dir, self.split)
            if si is not None and sv is not None:
                ir_dir, vis_dir = si, sv
                self._split_used = True
        self.ir_dir, self.vis_dir = ir_dir, vis_dir
        self._watch_outside(folders=(ir_dir, vis_dir))
        ir_files, vis_files = _list_images(ir_dir), _list_images(vis_dir)
        if self._name_templates != ("{stem}", "{stem}"):  # e.g. tno21: IR1.png + VIS1.png -> stem "1"
            ir_files = self._by_template(ir_dir, ir_files, self._name_templates[0], "ir_name")
            vis_files = self._by_template(vis_dir, vis_files, self._name_templates[1], "vis_name")
        for d, files in ((ir_dir, ir_files), (vis_dir, vis_files)):
            if not files:
                subs = sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []
                splits = [s for s in subs if s.lower() in SPLIT_NAMES]
                if splits and self.split is not None:
                    raise DataError(f"{d}: split {self.split!r} not found; split folders here: {splits}")
                hint = f"; it has split folders {splits}: pass split=" if splits else ""
                raise DataError(f"{d}: empty folder (no {'/'.join(IMAGE_SUFFIXES)} images){hint}")
        pairs = []
        for stem in sorted(set(ir_files) | set(vis_files)):
            if stem not in vis_files:
                self._problem(stem, ir_files[stem], f"missing counterpart: no visible image {stem}.* in {vis_dir}")
            elif stem not in ir_files:
                self._problem(stem, vis_files[stem], f"missing counterpart: no infrared image {stem}.* in {ir_dir}")
            else:
                pairs.append(_Pair(stem, ir_files[stem], vis_files[stem]))
        return pairs

    def _by_template(self, d: Path, files: dict[str, Path], template: str, what: str) -> dict[str, Path]:
        """Re-key ``{file stem: path}`` by the pair stem that ``template`` (``"IR{stem}"``) puts in each file's
        stem; a file that does not match is a problem of the pair list (named, never silently dropped)."""
        head, tail = template.split("{stem}")
        out: dict[str, Path] = {}
        for file_stem, path in files.items():
            core = file_stem[len(head):len(file_stem) - len(tail)] if tail else file_stem[len(head):]
            if not (file_stem.startswith(head) and file_stem.endswith(tail)) or not core:
                self._problem(file_stem, path, f"file name does not match {what}={template!r}")
                continue
            out[core] = path
        if not out:
            raise DataError(f"{d}: no image matches {what}={template!r}")
        return out

    def _layout_dirs(self, base: Path) -> tuple[DatasetLayout, Path, Path] | None:
        for layout in LAYOUTS:  # registered layouts (sagebench.datasets.layouts), in order
            i, v = _child(base, *layout.ir), _child(base, *layout.vis)
            if i is not None and v is not None:
                return layout, i, v
        return None

    def _unknown_layout(self, root: Path) -> None:
        subs = sorted(p.name for p in root.iterdir() if p.is_dir())
        splits = [s for s in subs if s.lower() in SPLIT_NAMES]
        if splits and self.split is None:
            raise DataError(f"{root}: the folder has split sub-folders {splits}; pass split= to choose one")
        known = "; ".join(layout.name for layout in LAYOUTS)
        raise DataError(f"{root}: unknown dataset layout (sub-folders: {subs or 'none'}). Known layouts: {known}; "
                        "or a PAIRS.tsv (columns stem, ir, vis[, label]); or pass ir= and vis= folders")

    @staticmethod
    def _tsv_columns(path: Path) -> list[str]:
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n").split("\t")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read pair list ({exc})") from exc

    def _pairs_from_tsv(self, path: Path, ir_col: str) -> list[_Pair]:
        assert self.root is not None
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f, delimiter="\t")
                rows = list(reader)
                cols = set(reader.fieldnames or [])
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: cannot read pair list ({exc})") from exc
        for c in ("stem", ir_col, "vis"):
            if c not in cols:
                raise DataError(f"{path}: pair list needs a {c!r} column (has {sorted(cols)})")
        if not rows:
            raise DataError(f"{path}: empty pair list")
        self.layout = f"PAIRS.tsv (ir column {ir_col!r})"
        self._label_base = self.root
        self._tsv_labels = "label" in cols
        pairs, seen = [], set()
        for line, r in enumerate(rows, start=2):
            if self.split is not None and "split" in cols:
                self._split_used = True
                if r["split"] != self.split:
                    continue
            where = f"{path} line {line}"
            stem = check_name((r["stem"] or "").strip(), f"{where} (stem)")
            if stem in seen:
                raise DataError(f"{path}: duplicate stem {stem!r}")
            seen.add(stem)
            p = _Pair(stem, self._tsv_file(r[ir_col], f"{where} ({ir_col})"),
                      self._tsv_file(r["vis"], f"{where} (vis)"))
            if self._tsv_labels and r.get("label"):
                p.seg = self._tsv_file(r["label"], f"{where} (label)")
            missing = [q for q in (p.ir, p.vis, p.seg) if q is not None and not q.is_file()]
            if missing:
                self._problem(stem, missing[0], f"file listed in {path.name} not found")
                continue
            pairs.append(p)
        return pairs

    def _tsv_file(self, rel: str | None, where: str) -> Path:
        """A file named in PAIRS.tsv: a relative path that stays inside the dataset folder."""
        assert self.root is not None
        text = (rel or "").strip()
        if not text:
            raise DataError(f"{where}: empty file name")
        if Path(text).is_absolute():
            raise DataError(f"{where}: {text!r} is an absolute path; PAIRS.tsv paths are relative to {self.root}")
        try:
            inside(self.root, text, what=f"{where}: file")
        except DataError as exc:
            raise DataError(f"{where}: {text!r} points outside the dataset folder {self.root}") from exc
        return self.root / text

    # ------------------------------------------------------------------ labels
    def _find_label_dir(self) -> Path | None:
        bases = [self._label_base, self.root]
        for b in bases:
            if b is not None:
                d = _child(b, *LABEL_DIR_NAMES)
                if d is not None:
                    return d
        return None

    def _watch_outside(self, files: tuple[Path | None, ...] = (), folders: tuple[Path | None, ...] = ()) -> None:
        """Files and folders outside the dataset folder that this dataset reads (image folders given as ir= /
        vis=, label files and folders) are inputs of a run: note them for the rerun check
        (:mod:`sagebench.deps`; the dataset folder itself is watched as a whole)."""
        from sagebench import deps

        for paths, record in ((files, deps.record_file), (folders, deps.record_tree)):
            for src in paths:
                if src is not None and (self.root is None or self.root.resolve() not in src.resolve().parents):
                    record(src)

    def _attach_labels(self, pairs: list[_Pair], labels: str | Path | None, modality: str | None,
                       seg_classes: list[str] | None, det_classes: list[str] | None, label_format: str,
                       palette: dict[tuple[int, int, int], int] | None) -> None:
        coco_path: Path | None = None
        yolo_dir = yolo_classes = voc_dir = seg_dir = seg_names_file = None
        if labels is not None:
            lp = self._resolve(labels)
            if not lp.exists():
                raise DataError(f"{lp}: label path not found")
            label_dir = lp if lp.is_dir() else None
            if lp.is_file():
                if lp.suffix.lower() != ".json":
                    raise DataError(f"{lp}: label file must be a COCO .json (or pass a label folder)")
                coco_path = lp
        else:
            label_dir = self._find_label_dir()
        if label_dir is not None:
            if self.split is not None and _child(label_dir, self.split) is not None:
                sub = _child(label_dir, self.split)
                if any(_is_image(p) or p.suffix.lower() in (".xml", ".json") for p in sub.iterdir()):
                    label_dir = sub
            if coco_path is None:
                jsons = sorted(p for p in label_dir.glob("*.json") if p.is_file())
                if len(jsons) > 1 and self.split is not None:
                    jsons = [p for p in jsons if self.split.lower() in p.stem.lower()] or jsons
                if len(jsons) > 1:
                    raise DataError(f"{label_dir}: several COCO files {[p.name for p in jsons]}; choose one "
                                    "with labels=<file.json>")
                coco_path = jsons[0] if jsons else None
            cls_txt = label_dir / "classes.txt"
            if cls_txt.is_file():
                yolo_classes = cls_txt
                yolo_dir = self._yolo_dir(label_dir, modality)
            elif modality is not None:
                raise DataError(f"{label_dir}: label_modality={modality!r} given but there are no YOLO labels "
                                "(classes.txt)")
            if any(p.suffix.lower() == ".xml" for p in label_dir.iterdir()):
                voc_dir = label_dir
            if any(_is_image(p) for p in label_dir.iterdir()):
                seg_dir = label_dir
            if (label_dir / "seg_classes.txt").is_file():
                seg_names_file = label_dir / "seg_classes.txt"
        self._watch_outside(files=(coco_path,), folders=(label_dir,))
        sources = [s for s in (coco_path, yolo_dir, voc_dir) if s is not None]
        if len(sources) > 1:
            raise DataError(f"{label_dir}: several box label formats found ({[str(s) for s in sources]}); "
                            "choose one with labels=")
        if coco_path is not None:
            self._attach_coco(pairs, coco_path)
        elif yolo_dir is not None:
            self._attach_yolo(pairs, yolo_dir, yolo_classes)
        elif voc_dir is not None:
            self._attach_voc(pairs, voc_dir, det_classes)
        if det_classes is not None and (coco_path is not None or yolo_dir is not None):
            if len(det_classes) != len(self.det_classes or []):
                raise DataError(f"det_classes has {len(det_classes)} names but the labels "
                                f"({self.label_info['det']['path']}) define {len(self.det_classes or [])}: "
                                f"{self.det_classes}")
            self.det_classes = list(det_classes)
        # segmentation maps: from PAIRS.tsv or from label-folder image files matched by stem
        if seg_dir is not None and not self._tsv_labels:
            files = _list_images(seg_dir)
            for p in pairs:
                if p.stem in files:
                    p.seg = files[p.stem]
            missing = [p for p in pairs if p.seg is None]
            for p in missing:
                self._problem(p.stem, p.ir, f"no label map {p.stem}.* in {seg_dir}")
            extra = sorted(set(files) - {p.stem for p in pairs} - {s for s, _, _ in self._problems})
            if extra:
                warnings.warn(f"{seg_dir}: {len(extra)} label map(s) have no image pair and are unused: "
                              f"{extra[:10]}{' ...' if len(extra) > 10 else ''}", stacklevel=4)
            pairs[:] = [p for p in pairs if p.seg is not None]
        seg_files = [p.seg for p in pairs if p.seg is not None]
        if seg_files:
            self._setup_seg(seg_files, seg_dir or seg_files[0].parent, seg_classes, label_format, palette,
                            seg_names_file)

    def _yolo_dir(self, label_dir: Path, modality: str | None) -> Path:
        subs = sorted(p for p in label_dir.iterdir() if p.is_dir() and any(p.rglob("*.txt")))
        if modality is not None:
            d = _child(label_dir, modality)
            if d is None:
                raise DataError(f"{label_dir}: no {modality}/ label folder (has {[s.name for s in subs]})")
            return d
        direct = [p for p in label_dir.glob("*.txt") if p.name not in ("classes.txt", "seg_classes.txt")]
        if direct:
            return label_dir
        d = _child(label_dir, "infrared", "ir")
        if d is not None:
            return d
        if len(subs) == 1:
            return subs[0]
        raise DataError(f"{label_dir}: several YOLO label folders {[s.name for s in subs]}; choose one with "
                        "label_modality=")

    def _attach_coco(self, pairs: list[_Pair], path: Path) -> None:
        coco = L.read_coco(path)
        keep = []
        filter_split = self.split is not None and not self._split_used
        if filter_split:
            if not any("split" in im for im in coco.images.values()):
                raise DataError(f"{path}: split {self.split!r} requested but the images carry no 'split' field "
                                "and there is no split folder")
            self._split_used = True
        unlisted = []
        for p in pairs:
            im = coco.images.get(p.stem)
            if im is None and filter_split:
                unlisted.append(p.stem)
                continue
            if im is None:
                self._problem(p.stem, p.ir, f"no image entry with file_name {p.stem}.* in {path}")
                continue
            if filter_split and im.get("split") != self.split:
                continue
            p.boxes = coco.by_stem[p.stem]
            p.meta["image_id"] = im["id"]
            for k in ("split", "scene"):
                if k in im:
                    p.meta[k] = im[k]
            if "width" in im and "height" in im:
                p.meta["_expect_wh"] = (int(im["width"]), int(im["height"]))
            keep.append(p)
        if unlisted:
            warnings.warn(f"{path}: {len(unlisted)} image pair(s) have no entry in the labels, so they belong to no "
                          f"split and are left out of split {self.split!r}: {unlisted[:10]}", stacklevel=5)
        pairs[:] = keep
        self.det_classes = coco.classes
        self.label_info["det"] = {"format": "coco", "path": str(path), "category_ids": coco.category_ids}

    def _attach_yolo(self, pairs: list[_Pair], d: Path, classes_file: Path) -> None:
        classes = L.read_yolo_classes(classes_file)
        files: dict[str, Path] = {}
        for p in sorted(d.rglob("*.txt")):
            if p.name in ("classes.txt", "seg_classes.txt"):
                continue
            if p.stem in files:
                raise DataError(f"{d}: two YOLO label files for {p.stem!r}: {files[p.stem]}, {p}")
            files[p.stem] = p
        keep = []
        for p in pairs:
            f = files.get(p.stem)
            if f is None:
                self._problem(p.stem, p.ir, f"no YOLO label file {p.stem}.txt in {d}")
                continue
            try:
                p.boxes = L.read_yolo_file(f, len(classes))
            except DataError as exc:
                self._problem(p.stem, f, str(exc))
                continue
            keep.append(p)
        extra = sorted(set(files) - {p.stem for p in pairs} - {s for s, _, _ in self._problems})
        if extra:
            warnings.warn(f"{d}: {len(extra)} label file(s) have no image pair and are unused: {extra[:10]}",
                          stacklevel=5)
        pairs[:] = keep
        self.det_classes = classes
        self.label_info["det"] = {"format": "yolo", "path": str(d), "classes_file": str(classes_file),
                                  "modality": d.name}

    def _attach_voc(self, pairs: list[_Pair], d: Path, det_classes: list[str] | None) -> None:
        parsed: dict[str, tuple[list, Any, Path]] = {}
        keep = []
        for p in pairs:
            f = d / f"{p.stem}.xml"
            if not f.is_file():
                self._problem(p.stem, p.ir, f"no VOC annotation {p.stem}.xml in {d}")
                continue
            try:
                rows, size = L.read_voc_file(f)
            except DataError as exc:
                self._problem(p.stem, f, str(exc))
                continue
            parsed[p.stem] = (rows, size, f)
            keep.append(p)
        classes = list(det_classes) if det_classes is not None else sorted(
            {r[4] for rows, _, _ in parsed.values() for r in rows})
        index = {c: i for i, c in enumerate(classes)}
        final = []
        for p in keep:
            rows, size, f = parsed[p.stem]
            unknown = sorted({r[4] for r in rows} - set(index))
            if unknown:
                self._problem(p.stem, f, f"object class(es) {unknown} not in det_classes {classes}")
                continue
            a = np.asarray([r[:4] for r in rows], np.float64).reshape(-1, 4)
            p.boxes = L.BoxSet(a, np.asarray([index[r[4]] for r in rows], np.int64),
                               np.asarray([r[5] for r in rows], np.int64), False, str(f))
            if size is not None:
                p.meta["_expect_wh"] = size
            final.append(p)
        pairs[:] = final
        self.det_classes = classes
        self.label_info["det"] = {"format": "voc", "path": str(d)}

    def _setup_seg(self, files: list[Path], seg_dir: Path, seg_classes: list[str] | None, label_format: str,
                   palette: dict[tuple[int, int, int], int] | None, names_file: Path | None) -> None:
        fmt = label_format
        known = None
        layout = (layout_of_folders(self.ir_dir.name, self.vis_dir.name)
                  if self.ir_dir is not None and self.vis_dir is not None else None)
        if names_file is not None:
            known = L.read_seg_classes(names_file)
        elif layout is not None:  # what the layout says this label folder's maps mean
            known = layout.classes_of_label_folder(seg_dir.name)
        if fmt == "auto":
            fmt = "class_ids" if known is not None else L.sniff_seg_format(files)
        if fmt == "palette":
            palette = palette or L.PST900_PALETTE
            n = max(palette.values()) + 1
            default = L.PST900_SEG_CLASSES if palette == L.PST900_PALETTE else [f"class_{i}" for i in range(n)]
        elif fmt == "binary":
            default = L.BINARY_SEG_CLASSES
        elif known is not None:
            default = known
        else:
            top = -1
            for f in files:
                arr = L.read_seg_map(f, "class_ids", None)
                vals = arr[arr != self.ignore_index]
                top = max(top, int(vals.max()) if vals.numel() else -1)
            default = [f"class_{i}" for i in range(top + 1)]
            warnings.warn(f"{seg_dir}: class names of the label maps are unknown; using {default[:3]}... "
                          "(pass seg_classes= or add seg_classes.txt)", stacklevel=5)
        names = list(seg_classes) if seg_classes is not None else list(default)
        self.seg_classes = names
        self._seg_format, self._palette = fmt, palette
        self.label_info["seg"] = {"format": fmt, "path": str(seg_dir)}

    # ------------------------------------------------------------------ validation
    def _problem(self, stem: str, path: Path | str, reason: str) -> None:
        self._problems.append((stem, str(path), reason))

    def _verify(self, pairs: list[_Pair]) -> None:
        keep = []
        for p in pairs:
            si, sv = _header_size(p.ir), _header_size(p.vis)
            bad = False
            for path, s in ((p.ir, si), (p.vis, sv)):
                if isinstance(s, str):
                    self._problem(p.stem, path, s)
                    bad = True
            if not bad and si != sv:
                self._problem(p.stem, p.ir, f"size mismatch: {p.ir} is {si[0]}x{si[1]} (WxH) but {p.vis} is "
                                            f"{sv[0]}x{sv[1]}")
                bad = True
            if not bad and p.seg is not None:
                ss = _header_size(p.seg)
                if isinstance(ss, str):
                    self._problem(p.stem, p.seg, ss)
                    bad = True
                elif ss != si:
                    self._problem(p.stem, p.seg, f"size mismatch: label {p.seg} is {ss[0]}x{ss[1]} but the "
                                                 f"images are {si[0]}x{si[1]}")
                    bad = True
            exp = p.meta.get("_expect_wh")
            if not bad and exp is not None and tuple(exp) != tuple(si):
                self._problem(p.stem, p.ir, f"size mismatch: labels state {exp[0]}x{exp[1]} but the image is "
                                            f"{si[0]}x{si[1]}")
                bad = True
            if not bad:
                keep.append(p)
        pairs[:] = keep

    def _finish(self, pairs: list[_Pair]) -> None:
        if self._problems:
            lines = [f"  {path}: {reason}" for _, path, reason in self._problems]
            if self.on_error == "raise":
                more = f"\n  ... and {len(lines) - _MAX_LISTED} more" if len(lines) > _MAX_LISTED else ""
                raise DataError(f"{self.root or self.ir_dir}: {len(lines)} problem(s) in dataset {self.name!r} "
                                f"(pass on_error='skip' to drop these pairs):\n" + "\n".join(lines[:_MAX_LISTED])
                                + more)
            self.skipped = [(path, reason) for _, path, reason in self._problems]
            self._report_skipped()
        if not pairs:
            raise DataError(f"{self.root or self.ir_dir}: no usable image pairs"
                            + (f" (all {len(self.skipped)} skipped)" if self.skipped else ""))
        pairs.sort(key=lambda p: p.stem)
        self._pairs = pairs
        self.names = [p.stem for p in pairs]

    # ------------------------------------------------------------------ access
    def paths(self, index: int) -> tuple[Path, Path]:
        """``(ir_path, vis_path)`` of sample ``index`` without reading it."""
        p = self._pairs[index]
        return p.ir, p.vis

    def content_hash(self, index: int) -> str:
        """sha256 over the IR file bytes then the visible file bytes (labels are not included). Kept per
        sample while both files keep their size and modification time, so the identity, the cache and
        ``ds[i]`` read each file once."""
        p = self._pairs[index]
        stamp = tuple((st.st_size, st.st_mtime_ns) for st in (p.ir.stat(), p.vis.stat()))
        known = self._hashes.get(index)
        if known is not None and known[0] == stamp:
            return known[1]
        h = hashlib.sha256()
        h.update(b"sagebench-pair-v1\0ir\0")
        _file_sha(p.ir, h)
        h.update(b"\0vis\0")
        _file_sha(p.vis, h)
        self._hashes[index] = (stamp, h.hexdigest())
        return self._hashes[index][1]

    def label_hash(self, index: int) -> str | None:
        """sha256 of sample ``index``'s labels (boxes as parsed, the label map's file bytes, the label format),
        or None when the dataset has no labels. Part of a result's identity for tasks that use labels."""
        p = self._pairs[index]
        if p.boxes is None and p.seg is None:
            return None
        h = hashlib.sha256(b"sagebench-labels-v1\0")
        if p.boxes is not None:
            for a in (p.boxes.coords, p.boxes.labels, p.boxes.iscrowd):
                arr = np.ascontiguousarray(a)
                h.update(f"{arr.dtype}{arr.shape}".encode())
                h.update(arr.tobytes())
            h.update(f"normalized={p.boxes.normalized}".encode())
        if p.seg is not None:
            h.update(f"\0seg:{self._seg_format}:{self._palette!r}\0".encode())
            _file_sha(p.seg, h)
        return h.hexdigest()

    def get_target(self, index: int) -> dict[str, torch.Tensor] | None:
        """The ``target`` of sample ``index`` without decoding the images (boxes use the header size)."""
        p = self._pairs[index]
        size = _header_size(p.ir)
        if isinstance(size, str):
            raise DataError(f"{p.ir}: {size}")
        return self._target(p, size[1], size[0])

    def _target(self, p: _Pair, h: int, w: int) -> dict[str, torch.Tensor] | None:
        target: dict[str, torch.Tensor] | None = None
        if p.boxes is not None:
            target = L.boxes_to_target(p.boxes, h, w)
        if p.seg is not None:
            seg = L.read_seg_map(p.seg, self._seg_format, len(self.seg_classes), self._palette)
            if tuple(seg.shape) != (h, w):
                raise DataError(f"size mismatch: label {p.seg} is {seg.shape[1]}x{seg.shape[0]} but the images "
                                f"are {w}x{h}")
            target = target or {}
            target["seg"] = seg
        return target

    def __getitem__(self, index: int) -> Sample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.name}: index {index} out of range (0..{len(self) - 1})")
        p = self._pairs[index]
        meta: dict[str, Any] = {k: v for k, v in p.meta.items() if not k.startswith("_")}
        ir_arr = read_image(p.ir)
        vis_arr = read_image(p.vis)
        if ir_arr.shape[:2] != vis_arr.shape[:2]:
            raise DataError(f"size mismatch: {p.ir} is {ir_arr.shape[1]}x{ir_arr.shape[0]} (WxH) but {p.vis} is "
                            f"{vis_arr.shape[1]}x{vis_arr.shape[0]}")
        if ir_arr.ndim == 3:
            ir_arr = to_gray_if_equal(ir_arr)
        if ir_arr.ndim == 3:
            q = ir_arr.dtype == np.uint8
            ir = rgb_to_gray(to_tensor(ir_arr)[None], quantize=q)[0]
            meta["ir_converted"] = "rgb_to_gray"
        else:
            ir = to_tensor(ir_arr)
        if self.vis_gray_if_equal and vis_arr.ndim == 3:
            vis_arr = to_gray_if_equal(vis_arr)
        vis = to_tensor(vis_arr)
        target = self._target(p, int(ir.shape[-2]), int(ir.shape[-1]))
        if self.split is not None:
            meta.setdefault("split", self.split)
        return Sample(name=p.stem, ir=ir, vis=vis, ir_path=p.ir, vis_path=p.vis,
                      content_hash=self.content_hash(index), target=target, meta=meta)
