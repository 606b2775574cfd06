"""Label adapters: YOLO txt / VOC XML / COCO-by-name / palette PNG / dataset -> mm files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from sagebench.errors import DataError
from sagebench.tasks.downstream.classes import FMB_SEG, M3FD_DET, M3FD_YOLO_ORDER, MSRS_DET, MSRS_SEG
from sagebench.tasks.downstream.convert import (
    coco_by_name,
    dataset_to_coco,
    decode_palette_label,
    voc_to_coco,
    write_seg_labels,
    yolo_to_coco,
)


def _img(path, w=40, h=30):
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path)


def test_yolo_to_coco_maps_by_name_and_denormalises(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    _img(tmp_path / "img" / "a.png")
    _img(tmp_path / "img" / "b.png")
    # source order differs from MSRS_DET's: car first
    (tmp_path / "lab" / "a.txt").write_text("0 0.5 0.5 0.5 0.2\n1 0.25 0.5 0.1 0.4\n")
    (tmp_path / "lab" / "b.txt").write_text("")
    coco = yolo_to_coco(tmp_path / "lab", tmp_path / "img", ["car", "person"], MSRS_DET)
    assert [c["name"] for c in coco["categories"]] == ["person", "bicycle", "car"]
    a0, a1 = coco["annotations"]
    assert a0["category_id"] == 3 and a1["category_id"] == 1
    assert a0["bbox"] == pytest.approx([10.0, 12.0, 20.0, 6.0])
    assert a1["bbox"] == pytest.approx([8.0, 9.0, 4.0, 12.0])
    assert len(coco["images"]) == 2


def test_yolo_errors_name_file_and_line(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    _img(tmp_path / "img" / "a.png")
    (tmp_path / "lab" / "a.txt").write_text("0 0.5 0.5 0.5 0.2\n7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match=r"a\.txt:2"):
        yolo_to_coco(tmp_path / "lab", tmp_path / "img", ["person"], MSRS_DET)
    (tmp_path / "lab" / "a.txt").unlink()
    with pytest.raises(DataError, match="label file missing"):
        yolo_to_coco(tmp_path / "lab", tmp_path / "img", ["person"], MSRS_DET)
    assert yolo_to_coco(tmp_path / "lab", tmp_path / "img", ["person"], MSRS_DET,
                        allow_missing=True)["annotations"] == []


def test_voc_to_coco(tmp_path):
    (tmp_path / "x.xml").write_text(
        "<annotation><size><width>100</width><height>80</height><depth>3</depth></size>"
        "<object><name>person</name><difficult>0</difficult><bndbox><xmin>11</xmin><ymin>21</ymin>"
        "<xmax>30</xmax><ymax>60</ymax></bndbox></object>"
        "<object><name>People</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>")
    coco = voc_to_coco(tmp_path, M3FD_DET)
    a, b = coco["annotations"]
    assert a["category_id"] == 1 and a["bbox"] == [10.0, 20.0, 20.0, 40.0] and a["iscrowd"] == 0
    assert b["iscrowd"] == 1 and b["ignore"] == 1
    (tmp_path / "y.xml").write_text("<annotation><size><width>10</width><height>8</height></size>"
                                    "<object><name>zebra</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>"
                                    "<ymax>2</ymax></bndbox></object></annotation>")
    with pytest.raises(DataError, match=r"y\.xml.*zebra"):
        voc_to_coco(tmp_path, M3FD_DET)


def test_coco_by_name_reorders_categories():
    src = {"images": [{"id": 1, "file_name": "a.png"}],
           "categories": [{"id": 1, "name": "Truck"}, {"id": 2, "name": "People"}],
           "annotations": [{"id": 9, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
                           {"id": 3, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}]}
    out = coco_by_name(src, M3FD_DET)
    assert [a["category_id"] for a in out["annotations"]] == [5, 1]
    assert [a["id"] for a in out["annotations"]] == [1, 2]
    # the YOLO order is a different permutation of the same names
    assert sorted(M3FD_YOLO_ORDER) == sorted(M3FD_DET.classes)
    with pytest.raises(DataError, match="Tram"):
        coco_by_name({"images": [], "annotations": [], "categories": [{"id": 1, "name": "Tram"}]}, M3FD_DET)


@pytest.mark.shared
def test_shared_m3fd_coco_maps_all_classes(shared_dir):
    out = coco_by_name(shared_dir / "data/M3FD/labels/voc2coco_outputs/m3fd-val.json", M3FD_DET)
    assert len(out["images"]) == 633 and len(out["annotations"]) == 5176
    assert {a["category_id"] for a in out["annotations"]} <= set(range(1, 7))


def test_palette_decoding():
    ids = np.array([[0, 1, 2], [8, 5, 0]])
    rgb = np.array(MSRS_SEG.palette, np.uint8)[ids]
    assert (decode_palette_label(rgb, MSRS_SEG) == ids).all()
    rgb[0, 0] = (1, 2, 3)
    with pytest.raises(DataError, match=r"\(1, 2, 3\)"):
        decode_palette_label(rgb, MSRS_SEG, source="lab.png")
    assert len(FMB_SEG.classes) == len(FMB_SEG.palette) == 15


class _S:
    def __init__(self, name, h, w, target):
        self.name, self.ir, self.target = name, torch.zeros(1, h, w), target


class _DS(list):
    name = "toy"


def test_dataset_to_coco_and_seg_labels(tmp_path):
    fused = tmp_path / "fused"
    fused.mkdir()
    _img(fused / "p.png")
    seg = np.zeros((30, 40), np.int64)
    seg[5:10, 5:10] = 2
    seg[0, 0] = 255
    ds = _DS([_S("p", 30, 40, {"boxes": torch.tensor([[1.0, 2.0, 11.0, 22.0]]), "labels": torch.tensor([1]),
                                "iscrowd": torch.tensor([0]), "seg": torch.from_numpy(seg)})])
    coco = dataset_to_coco(ds, ["a", "b"], fused, tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text()) == coco
    assert coco["images"][0]["file_name"] == str((fused / "p.png").resolve())
    assert coco["annotations"][0]["bbox"] == [1.0, 2.0, 10.0, 20.0] and coco["annotations"][0]["category_id"] == 2
    write_seg_labels(ds, 3, tmp_path / "lab")
    back = np.array(Image.open(tmp_path / "lab" / "p.png"))
    assert back.dtype == np.uint8 and (back == seg).all()
    with pytest.raises(DataError, match="outside"):
        write_seg_labels(ds, 2, tmp_path / "lab2")
    with pytest.raises(DataError, match="fused image missing"):
        dataset_to_coco(_DS([_S("q", 30, 40, ds[0].target)]), ["a", "b"], fused, tmp_path / "d.json")
    with pytest.raises(DataError, match="but the pair"):
        dataset_to_coco(_DS([_S("p", 31, 40, ds[0].target)]), ["a", "b"], fused, tmp_path / "e.json")
