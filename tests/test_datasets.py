"""Paired folder reader: layouts, pairing, image formats, labels, errors and skip mode."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from sagebench.datasets import FolderDataset, open_dataset
from sagebench.datasets import folder as folder_mod
from sagebench.datasets.labels import FMB_SEG_CLASSES, MSRS_SEG_CLASSES
from sagebench.errors import DataError

RNG = np.random.default_rng(0)


def _img(h=12, w=16, c=0, dtype=np.uint8):
    hi = 255 if dtype == np.uint8 else 65535
    shape = (h, w) if c == 0 else (h, w, c)
    return RNG.integers(0, hi + 1, size=shape, dtype=np.int64).astype(dtype)


def _save(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def _pair_dir(root: Path, stems=("a", "b", "c"), ir="ir", vis="vi", size=(12, 16)) -> Path:
    for s in stems:
        _save(root / ir / f"{s}.png", _img(*size))
        _save(root / vis / f"{s}.png", _img(*size, c=3))
    return root


# ------------------------------------------------------------------------------------------ shared data
SHARED_COUNTS = {"M3FD": 14, "MSRS": 30, "TNO": 25, "RoadScene": 40, "MSRS_binmask_seg": 8, "PST900_seg": 1}


@pytest.mark.parametrize("name,count", sorted(SHARED_COUNTS.items()))
def test_shared_pairing(shared_dir, name, count):
    ds = open_dataset(shared_dir / "data" / name)
    assert len(ds) == count and ds.skipped == []
    s = ds[0]
    assert s.name == ds.names[0] and s.ir.shape[0] == 1 and s.ir.dtype == torch.float32
    assert s.vis.shape[1:] == s.ir.shape[1:] and s.vis.shape[0] in (1, 3)
    assert 0.0 <= float(s.ir.min()) and float(s.ir.max()) <= 1.0
    assert len(s.content_hash) == 64


def test_shared_m3fd_coco(shared_dir):
    ds = open_dataset(shared_dir / "data" / "M3FD")
    assert ds.det_classes == ["People", "Car", "Motorcycle", "Bus", "Truck", "Lamp"]
    assert ds.classes == ds.det_classes and ds.seg_classes is None
    counts = np.zeros(6, int)
    for i in range(len(ds)):
        t = ds.get_target(i)
        counts += np.bincount(t["labels"].numpy(), minlength=6)
        assert t["boxes"].shape == (len(t["labels"]), 4)
        if i == 0:  # same target through the decoding path
            assert torch.equal(t["boxes"], ds[i].target["boxes"])
    assert counts.sum() == 168
    assert dict(zip(ds.det_classes, counts.tolist())) == {"People": 81, "Car": 81, "Motorcycle": 0, "Bus": 1,
                                                          "Truck": 4, "Lamp": 1}
    # first annotation of 00000: bbox [45, 371, 37, 107] (xywh) -> xyxy
    s0 = ds[ds.index_of("00000")]
    assert s0.target["boxes"][0].tolist() == [45.0, 371.0, 82.0, 478.0]
    assert s0.meta["split"] == "train" and s0.meta["image_id"] == "00000"
    # IR is stored as RGB with R=G=B -> one channel with the stored values
    raw = np.asarray(Image.open(s0.ir_path))
    assert raw.ndim == 3 and torch.equal(s0.ir[0], torch.from_numpy(raw[..., 0].astype(np.float32) / 255))
    assert {sp: len(open_dataset(shared_dir / "data" / "M3FD", split=sp)) for sp in ("train", "val", "test")} == {
        "train": 9, "val": 3, "test": 2}


def test_shared_msrs_yolo(shared_dir):
    root = shared_dir / "data" / "MSRS"
    ds = open_dataset(root)
    assert ds.det_classes == ["person", "bicycle", "car"] and ds.label_info["det"]["modality"] == "infrared"
    labels = torch.cat([ds.get_target(i)["labels"] for i in range(len(ds))])
    assert len(labels) == 159 and torch.bincount(labels).tolist() == [108, 10, 41]
    vis_ds = open_dataset(root, label_modality="visible")
    assert sum(len(vis_ds.get_target(i)["labels"]) for i in range(len(vis_ds))) == 95
    # YOLO -> pixel conversion against the raw file
    s = ds[0]
    line = (root / "labels" / "infrared" / f"{s.name}.txt").read_text().split("\n")[0].split()
    cx, cy, w, h = (float(v) for v in line[1:])
    W, H = 640, 480
    exp = [(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H]
    assert torch.allclose(s.target["boxes"][0], torch.tensor(exp, dtype=torch.float32), atol=1e-3)
    assert int(s.target["labels"][0]) == int(line[0])


def test_shared_seg_sets(shared_dir):
    ds = open_dataset(shared_dir / "data" / "MSRS_binmask_seg")
    assert ds.seg_classes == ["background", "person"] and ds.det_classes is None
    seg = ds[0].target["seg"]
    assert seg.dtype == torch.int64 and set(seg.unique().tolist()) == {0, 1}
    pst = open_dataset(shared_dir / "data" / "PST900_seg")
    assert pst.seg_classes[:4] == ["background", "fire_extinguisher", "backpack", "hand_drill"]
    vals, counts = pst[0].target["seg"].unique(return_counts=True)
    assert dict(zip(vals.tolist(), counts.tolist())) == {0: 896434, 1: 5172, 2: 14806, 3: 5188}
    filled = open_dataset(shared_dir / "data" / "PST900_seg", ir="ir_holefilled")
    assert filled[0].ir_path.parent.name == "ir_holefilled"
    assert (filled[0].ir == 0).sum() < (pst[0].ir == 0).sum()


def test_shared_tno_vis_grey_and_hash(shared_dir):
    ds = open_dataset(shared_dir / "data" / "TNO")
    s = ds[0]
    assert s.vis.shape[0] == 1  # stored R=G=B
    h = hashlib.sha256(b"sagebench-pair-v1\0ir\0" + s.ir_path.read_bytes() + b"\0vis\0" + s.vis_path.read_bytes())
    assert s.content_hash == h.hexdigest() == ds.content_hash(0)
    assert ds.content_hash(1) != s.content_hash


# ------------------------------------------------------------------------------------------ formats
def test_formats_16bit_tiff_bmp_jpeg(tmp_path):
    ir16 = _img(12, 16, dtype=np.uint16)
    _save(tmp_path / "ir" / "p16.png", ir16)
    _save(tmp_path / "vi" / "p16.png", _img(12, 16, c=3))
    _save(tmp_path / "ir" / "t16.tif", ir16)
    _save(tmp_path / "vi" / "t16.tiff", _img(12, 16))
    ir8 = _img(12, 16)
    _save(tmp_path / "ir" / "b.bmp", ir8)
    vis8 = _img(12, 16, c=3)
    _save(tmp_path / "vi" / "b.bmp", vis8)
    _save(tmp_path / "ir" / "j.png", ir8)
    _save(tmp_path / "vi" / "j.jpg", vis8, quality=95)
    ds = open_dataset(tmp_path)
    assert ds.names == ["b", "j", "p16", "t16"]
    for stem in ("p16", "t16"):
        s = ds[ds.index_of(stem)]
        assert torch.allclose(s.ir[0], torch.from_numpy(ir16.astype(np.float32) / 65535), atol=1e-7)
    assert ds[ds.index_of("t16")].vis.shape == (1, 12, 16)
    b = ds[ds.index_of("b")]
    assert torch.equal(b.ir[0], torch.from_numpy(ir8.astype(np.float32) / 255))
    assert torch.equal(b.vis, torch.from_numpy(vis8.astype(np.float32) / 255).permute(2, 0, 1))
    j = ds[ds.index_of("j")]
    assert j.vis.shape == (3, 12, 16) and j.vis_path.suffix == ".jpg"
    jpeg = np.asarray(Image.open(j.vis_path).convert("RGB")).astype(np.float32) / 255
    assert torch.equal(j.vis, torch.from_numpy(jpeg).permute(2, 0, 1))


def test_rgb_ir_equal_and_unequal(tmp_path):
    g = _img(12, 16)
    _save(tmp_path / "ir" / "eq.png", np.stack([g, g, g], -1))
    col = _img(12, 16, c=3)
    _save(tmp_path / "ir" / "col.png", col)
    for s in ("eq", "col"):
        _save(tmp_path / "vis" / f"{s}.png", _img(12, 16, c=3))
    ds = open_dataset(tmp_path)
    eq = ds[ds.index_of("eq")]
    assert eq.ir.shape == (1, 12, 16) and torch.equal(eq.ir[0], torch.from_numpy(g.astype(np.float32) / 255))
    c = ds[ds.index_of("col")]
    expect = cv2.cvtColor(col, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    assert c.ir.shape == (1, 12, 16) and c.meta["ir_converted"] == "rgb_to_gray"
    assert torch.allclose(c.ir[0], torch.from_numpy(expect), atol=1 / 255 + 1e-6)


def test_lazy_reading(tmp_path, monkeypatch):
    _pair_dir(tmp_path)
    calls = []
    real = folder_mod.read_image
    monkeypatch.setattr(folder_mod, "read_image", lambda p, **kw: calls.append(p) or real(p, **kw))
    ds = open_dataset(tmp_path)
    assert len(ds) == 3 and calls == []
    ds[1]
    assert [Path(p).name for p in calls] == ["b.png", "b.png"]


# ------------------------------------------------------------------------------------------ layouts
@pytest.mark.parametrize("ir,vis", [("Ir", "Vis"), ("Infrared", "Visible"), ("ir", "vis"),
                                    ("cropinfrared", "crop_LR_visible"), ("thermal", "rgb")])
def test_layouts(tmp_path, ir, vis):
    _pair_dir(tmp_path, ir=ir, vis=vis)
    ds = open_dataset(tmp_path)
    assert ds.names == ["a", "b", "c"] and ds.ir_dir.name == ir and ds.vis_dir.name == vis


def test_generic_ir_vis_folders(tmp_path):
    _pair_dir(tmp_path, ir="thermal8", vis="colour")
    with pytest.raises(DataError, match="unknown dataset layout"):
        open_dataset(tmp_path)
    ds = open_dataset(ir=tmp_path / "thermal8", vis=tmp_path / "colour")
    assert len(ds) == 3
    assert len(open_dataset(tmp_path, ir="thermal8", vis="colour")) == 3


def test_llvip_split_and_voc(tmp_path):
    for split, stems in (("train", ["010001", "010002"]), ("test", ["190001"])):
        _pair_dir(tmp_path, stems, ir=f"infrared/{split}", vis=f"visible/{split}")
    ann = tmp_path / "Annotations"
    ann.mkdir()
    for s in ("010001", "010002", "190001"):
        (ann / f"{s}.xml").write_text(
            "<annotation><size><width>16</width><height>12</height></size><object><name>person</name>"
            "<difficult>0</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>9</xmax><ymax>11</ymax></bndbox>"
            "</object></annotation>")
    with pytest.raises(DataError, match="split="):
        open_dataset(tmp_path)
    tr = open_dataset(tmp_path, split="train")
    te = open_dataset(tmp_path, split="test")
    assert tr.names == ["010001", "010002"] and te.names == ["190001"]
    assert tr.det_classes == ["person"]
    assert tr[0].target["boxes"].tolist() == [[1.0, 2.0, 9.0, 11.0]]
    with pytest.raises(DataError, match="split 'val' not found"):
        open_dataset(tmp_path, split="val")


def test_msrs_official_split_seg(tmp_path):
    root = tmp_path / "MSRS"
    _pair_dir(root / "train", ["00001D", "00002N"], ir="ir", vis="vi")
    lab = root / "train" / "Segmentation_labels"
    for s in ("00001D", "00002N"):
        m = np.zeros((12, 16), np.uint8)
        m[2:5, 3:9] = 2
        m[0, 0] = 255
        _save(lab / f"{s}.png", m)
    ds = open_dataset(root, split="train")
    assert ds.seg_classes == MSRS_SEG_CLASSES and len(ds) == 2
    seg = ds[0].target["seg"]
    assert int(seg[3, 4]) == 2 and int(seg[0, 0]) == 255 and int((seg == 2).sum()) == 18


def test_fmb_class_ids(tmp_path):
    _pair_dir(tmp_path, ["x"], ir="Infrared", vis="Visible")
    m = np.full((12, 16), 8, np.uint8)
    _save(tmp_path / "Label" / "x.png", m)
    ds = open_dataset(tmp_path)
    assert ds.seg_classes == FMB_SEG_CLASSES and ds[0].target["seg"].unique().tolist() == [8]
    m[0, 0] = 40
    _save(tmp_path / "Label" / "x.png", m)
    with pytest.raises(DataError, match=r"x\.png.*class ids \[40\]"):
        open_dataset(tmp_path)[0]


def test_palette_labels_and_unknown_colour(tmp_path):
    _pair_dir(tmp_path, ["p"], ir="ir", vis="vis")
    lab = np.zeros((12, 16, 3), np.uint8)
    lab[1:3, 1:3] = (255, 0, 0)
    lab[5:7, 5:7] = (0, 0, 255)
    _save(tmp_path / "labels" / "p.png", lab)
    ds = open_dataset(tmp_path)
    assert ds.label_info["seg"]["format"] == "palette"
    seg = ds[0].target["seg"]
    assert int(seg[1, 1]) == 1 and int(seg[5, 5]) == 3 and int((seg == 0).sum()) == 12 * 16 - 8
    lab[0, 0] = (10, 20, 30)
    _save(tmp_path / "labels" / "p.png", lab)
    with pytest.raises(DataError, match=r"p\.png.*\(10, 20, 30\)"):
        open_dataset(tmp_path)[0]


def test_coco_missing_entry_and_split(tmp_path):
    _pair_dir(tmp_path, ["a", "b", "c"], ir="ir", vis="vis")
    coco = {"images": [{"id": 1, "file_name": "a.png", "split": "train", "width": 16, "height": 12},
                       {"id": 2, "file_name": "b.png", "split": "test", "width": 16, "height": 12}],
            "annotations": [{"id": 1, "image_id": 2, "category_id": 7, "bbox": [1, 2, 3, 4]}],
            "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]}
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "x.json").write_text(json.dumps(coco))
    with pytest.raises(DataError, match=r"c\.png.*no image entry"):
        open_dataset(tmp_path)
    with pytest.warns(UserWarning, match=r"no entry in the labels.*\['c'\]"):
        ds = open_dataset(tmp_path, split="test")
    assert ds.names == ["b"] and ds.det_classes == ["dog", "cat"]
    assert ds[0].target["boxes"].tolist() == [[1, 2, 4, 6]] and ds[0].target["labels"].tolist() == [0]
    with pytest.warns(UserWarning):
        assert open_dataset(tmp_path, split="train")[0].target["boxes"].shape == (0, 4)


def test_yolo_bad_line(tmp_path):
    _pair_dir(tmp_path, ["a", "b"], ir="ir", vis="vi")
    lab = tmp_path / "labels"
    lab.mkdir()
    (lab / "classes.txt").write_text("0 person\n1 car\n")
    (lab / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (lab / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match=r"b\.txt:2: class id 5"):
        open_dataset(tmp_path)
    with pytest.warns(UserWarning, match=r"b\.txt:2"):
        ds = open_dataset(tmp_path, on_error="skip")
    assert ds.names == ["a"] and ds.det_classes == ["person", "car"]


# ------------------------------------------------------------------------------------------ errors
def test_error_size_mismatch(tmp_path):
    _pair_dir(tmp_path, ["a", "b"])
    _save(tmp_path / "vi" / "b.png", _img(10, 16, c=3))
    with pytest.raises(DataError) as ei:
        open_dataset(tmp_path)
    msg = str(ei.value)
    assert "size mismatch" in msg and str(tmp_path / "ir" / "b.png") in msg and str(tmp_path / "vi" / "b.png") in msg
    assert "16x12" in msg and "16x10" in msg


def test_error_missing_counterpart(tmp_path):
    _pair_dir(tmp_path, ["a", "b"])
    _save(tmp_path / "ir" / "only_ir.png", _img())
    _save(tmp_path / "vi" / "only_vis.jpg", _img(c=3))
    with pytest.raises(DataError) as ei:
        open_dataset(tmp_path)
    msg = str(ei.value)
    assert "missing counterpart" in msg and "only_ir.png" in msg and "only_vis.jpg" in msg and "2 problem" in msg


def test_error_corrupt_file(tmp_path):
    _pair_dir(tmp_path, ["a", "b"])
    bad = tmp_path / "ir" / "b.png"
    bad.write_bytes(b"this is not a png at all")
    with pytest.raises(DataError, match=r"b\.png: cannot read image"):
        open_dataset(tmp_path)


def test_error_truncated_file_at_read(tmp_path):
    _pair_dir(tmp_path, ["a"], size=(64, 64))
    p = tmp_path / "vi" / "a.png"
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    ds = open_dataset(tmp_path)  # header is intact: passes open-time checks
    with pytest.raises(DataError, match=r"a\.png: cannot read image"):
        ds[0]


def test_error_empty_and_unknown(tmp_path):
    (tmp_path / "ir").mkdir()
    (tmp_path / "vi").mkdir()
    _save(tmp_path / "vi" / "a.png", _img(c=3))
    (tmp_path / "ir" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"ir: empty folder"):
        open_dataset(tmp_path)
    other = tmp_path / "other"
    (other / "images").mkdir(parents=True)
    with pytest.raises(DataError, match=r"other: unknown dataset layout \(sub-folders: \['images'\]\)"):
        open_dataset(other)
    with pytest.raises(DataError, match="dataset folder not found"):
        open_dataset(tmp_path / "nope")


def test_skip_mode_reports(tmp_path):
    _pair_dir(tmp_path, ["a", "b", "c", "d"])
    _save(tmp_path / "vi" / "b.png", _img(10, 16, c=3))
    (tmp_path / "ir" / "c.png").write_bytes(b"garbage")
    _save(tmp_path / "ir" / "e.png", _img())
    with pytest.warns(UserWarning) as rec:
        ds = open_dataset(tmp_path, on_error="skip")
    assert ds.names == ["a", "d"]
    reasons = dict(ds.skipped)
    assert len(reasons) == 3
    assert "size mismatch" in reasons[str(tmp_path / "ir" / "b.png")]
    assert "cannot read image" in reasons[str(tmp_path / "ir" / "c.png")]
    assert "missing counterpart" in reasons[str(tmp_path / "ir" / "e.png")]
    text = "\n".join(str(w.message) for w in rec)
    assert "skipped 3" in text and "c.png" in text and "e.png" in text
    # a clean dataset does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_dataset(_pair_dir(tmp_path / "clean")).skipped == []


def test_skip_everything_raises(tmp_path):
    _pair_dir(tmp_path, ["a"])
    (tmp_path / "ir" / "a.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no usable image pairs"):
        open_dataset(tmp_path, on_error="skip")


def test_pairs_tsv_and_duplicate_stems(tmp_path):
    _save(tmp_path / "ir" / "t1.png", _img())
    _save(tmp_path / "vis" / "v1.png", _img(c=3))
    (tmp_path / "PAIRS.tsv").write_text("stem\tir\tvis\nscene1\tir/t1.png\tvis/v1.png\n")
    ds = open_dataset(tmp_path)
    assert ds.names == ["scene1"] and ds[0].ir_path.name == "t1.png"
    assert isinstance(ds, FolderDataset) and ds.layout.startswith("PAIRS.tsv")
    dup = tmp_path / "dup"
    _pair_dir(dup, ["a"])
    _save(dup / "ir" / "a.jpg", _img())
    with pytest.raises(DataError, match="two images share the stem 'a'"):
        open_dataset(dup)


def test_label_options(tmp_path):
    _pair_dir(tmp_path, ["a"], ir="ir", vis="vis")
    (tmp_path / "labels").mkdir()
    coco = {"images": [{"id": 1, "file_name": "a.png"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
            "categories": [{"id": 1, "name": "People"}]}
    (tmp_path / "labels" / "a.json").write_text(json.dumps(coco))
    (tmp_path / "labels" / "b.json").write_text(json.dumps(coco))
    with pytest.raises(DataError, match="several COCO files"):
        open_dataset(tmp_path)
    ds = open_dataset(tmp_path, labels="labels/b.json", det_classes=["person"])
    assert ds.det_classes == ["person"] and ds.label_info["det"]["path"].endswith("b.json")
    with pytest.raises(DataError, match="det_classes has 2 names"):
        open_dataset(tmp_path, labels="labels/b.json", det_classes=["a", "b"])
    plain = open_dataset(tmp_path, labels=False)
    assert plain.classes is None and plain[0].target is None
    (tmp_path / "labels" / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json: cannot read COCO JSON"):
        open_dataset(tmp_path, labels="labels/bad.json")
