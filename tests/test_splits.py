"""Published split files: checksums, disjointness, reproducibility from the documented sources."""

from __future__ import annotations

import json

import pytest

from sagebench.datasets import splits as S
from sagebench.errors import DataError

DATASET_SIZE = {"M3FD": 4200, "MSRS": 1444}


def test_shipped_splits_match_manifest_and_are_disjoint():
    names = S.list_splits()
    assert {"m3fd_tardal_v1", "m3fd_scene_disjoint_v1", "msrs_official_v1"} <= set(names)
    for n in names:
        obj = S.load_split(n)
        parts = obj["splits"]
        assert obj["counts"] == {k: len(v) for k, v in parts.items()}
        all_ids = [i for v in parts.values() for i in v] + obj.get("excluded", [])
        assert len(all_ids) == len(set(all_ids)) == DATASET_SIZE[obj["dataset"]]  # every image exactly once
    assert S.load_split("m3fd_tardal_v1")["counts"] == S.EXPECTED_COUNTS["m3fd_tardal"]


def test_msrs_official_split():
    obj = S.load_split("msrs_official_v1")
    assert obj["dataset"] == "MSRS" and obj["counts"] == S.EXPECTED_COUNTS["msrs"]
    train, test = set(obj["splits"]["train"]), set(obj["splits"]["test"])
    assert not train & test
    names = train | test
    assert all(len(n) == 6 and n[:5].isdigit() and n[5] in "DN" for n in names)
    # published anchors: README examples of Linfeng-Tang/MSRS (test/vi/00537D, train/vi/00633D ...)
    assert "00537D" in test and {"00633D", "00881N", "01023N"} <= train
    assert S.MSRS_LISTS.split("@")[1][:40] in obj["rule"]


def test_msrs_split_reproduces_from_its_list_files(tmp_path):
    """The shipped file is what make_msrs_official gives on the upstream lists (sorted, one stem per LF line)."""
    obj = S.load_split("msrs_official_v1")
    for part in ("train", "test"):
        (tmp_path / f"{part}.txt").write_text("".join(f"{n}\n" for n in obj["splits"][part]))
    made = S.make_msrs_official(tmp_path)
    assert made["sources"] == obj["sources"]  # sha256 of the upstream list bytes (7,581 and 2,527 bytes)
    assert S.write_split(made, tmp_path / "m.json") == S.read_manifest()["msrs_official_v1.json"]


@pytest.mark.shared
def test_shared_msrs_pairs_fall_in_the_right_part(shared_dir):
    obj = S.load_split("msrs_official_v1")
    for folder, part in (("MSRS", "test"), ("MSRS_binmask_seg", "train")):
        stems = sorted(p.stem for p in (shared_dir / "data" / folder / "ir").glob("*.png"))
        assert stems, folder
        assert set(stems) <= set(obj["splits"][part]), (folder, set(stems) - set(obj["splits"][part]))


def test_make_from_lists_checks(tmp_path):
    (tmp_path / "a.txt").write_text("x1.png\nx2\n\n")
    (tmp_path / "b.txt").write_text("x3\n")
    obj = S.make_from_lists("toy", "toy", {"train": tmp_path / "a.txt", "test": tmp_path / "b.txt"}, "r")
    assert obj["splits"] == {"train": ["x1", "x2"], "test": ["x3"]} and set(obj["sources"]) == {"a.txt", "b.txt"}
    with pytest.raises(DataError, match="1083"):
        S.make_from_lists("m", "MSRS", {"train": tmp_path / "a.txt", "test": tmp_path / "b.txt"}, "r")
    (tmp_path / "c.txt").write_text("x2\n")
    with pytest.raises(DataError, match="also in the 'train'"):
        S.make_from_lists("toy", "toy", {"train": tmp_path / "a.txt", "test": tmp_path / "c.txt"}, "r")
    (tmp_path / "d.txt").write_text("x4\nx4\n")
    with pytest.raises(DataError, match="d.txt:2"):
        S.read_name_list(tmp_path / "d.txt")
    with pytest.raises(DataError, match="not found"):
        S.read_name_list(tmp_path / "none.txt")


def test_scene_disjoint_split_has_no_adjacent_frames_across_splits():
    obj = S.load_split("m3fd_scene_disjoint_v1")
    part = {i: p for p, ids in obj["splits"].items() for i in ids}
    run_of = {i: k for k, (first, last, _) in enumerate(obj["runs"]) for i in range(int(first), int(last) + 1)}
    assert len(run_of) == 4200
    ids = sorted(part, key=int)
    changes = 0
    for a, b in zip(ids, ids[1:]):
        if part[a] != part[b] and run_of[int(a)] == run_of[int(b)]:
            changes += 1  # a split change inside one recording run: needs a gap of more than 2 * guard ids
            assert int(b) - int(a) > 2 * obj["parameters"]["guard"], (a, b)
    assert changes >= 5
    c = obj["counts"]
    assert 0.75 < c["train"] / 4200 < 0.85 and 0.07 < c["test"] / 4200 < 0.12


def test_modified_split_file_is_rejected(tmp_path, monkeypatch):
    src = S.HERE / "m3fd_tardal_v1.json"
    fake = tmp_path / "splits"
    fake.mkdir()
    (fake / "MANIFEST.tsv").write_text((S.HERE / "MANIFEST.tsv").read_text())
    obj = json.loads(src.read_text())
    obj["splits"]["test"].append("99999")
    (fake / "m3fd_tardal_v1.json").write_text(json.dumps(obj))
    monkeypatch.setattr(S, "HERE", fake)
    with pytest.raises(DataError, match="differs from MANIFEST"):
        S.load_split("m3fd_tardal_v1")
    with pytest.raises(DataError, match="unknown split"):
        S.load_split("nope")


@pytest.mark.shared
def test_split_files_reproduce_from_the_shared_coco_files(shared_dir, tmp_path):
    coco = shared_dir / "data/M3FD/labels/voc2coco_outputs"
    for make, name in ((S.make_m3fd_tardal, "m3fd_tardal_v1"), (S.make_m3fd_scene_disjoint, "m3fd_scene_disjoint_v1")):
        sha = S.write_split(make(coco), tmp_path / f"{name}.json")
        assert sha == S.read_manifest()[f"{name}.json"], name


def test_split_from_folders_checks_counts(tmp_path):
    for part, n in (("train", 3), ("test", 2)):
        d = tmp_path / part / "ir"
        d.mkdir(parents=True)
        for i in range(n):
            (d / f"{part}{i:03d}N.png").write_bytes(b"x")
    obj = S.split_from_folders(tmp_path, "toy")
    assert obj["counts"] == {"train": 3, "test": 2} and obj["splits"]["test"] == ["test000N", "test001N"]
    with pytest.raises(DataError, match="1083"):
        S.split_from_folders(tmp_path, "msrs")
    with pytest.raises(DataError, match="no IR folder"):
        S.split_from_folders(tmp_path, "toy", parts=("train", "val"))


def test_apply_split_view():
    class DS:
        name = "m3fd"
        names = ["00000", "00002", "00015", "00004"]
        det_classes = ["People"]

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return self.names[i]

    v = S.apply_split(DS(), "m3fd_tardal_v1", "train")
    assert v.names == ["00000", "00004"] and len(v) == 2 and v[1] == "00004"
    assert v.det_classes == ["People"] and "m3fd_tardal:train" in v.name
    with pytest.raises(DataError, match="no part"):
        S.apply_split(DS(), "m3fd_tardal_v1", "dev")


def test_apply_split_complete_or_partial_copies():
    class DS:
        name = "m3fd"
        root = "/data/m3fd-part"
        names = ["00000", "00002", "00015", "00004"]

        def __len__(self):
            return 4

    with pytest.raises(DataError, match=r"/data/m3fd-part: 2725 of the 2727 images of split m3fd_tardal:train are "
                                        r"missing"):
        S.apply_split(DS(), "m3fd_tardal_v1", "train", allow_partial=False)
    assert "(2 of 2727)" in S.apply_split(DS(), "m3fd_tardal_v1", "train").name
    DS.names = ["99999"]
    with pytest.raises(DataError, match="none of the 840 images"):
        S.apply_split(DS(), "m3fd_tardal_v1", "test")


def test_runner_dataset_split_file_on_a_flat_copy(shared_dir):
    """A flat folder plus a shipped split list: ``split`` picks the part; a partial copy must say so."""
    from sagebench.benchmark.runner import open_configured
    from sagebench.errors import ConfigError

    d = dict(name="MSRS", source=str(shared_dir / "data" / "MSRS"), split_file="msrs_official_v1", split="test")
    with pytest.raises(DataError, match="331 of the 361 images of split msrs_official:test are missing"):
        open_configured(d)
    ds = open_configured({**d, "split_partial": True})
    assert len(ds) == 30 and "msrs_official:test (30 of 361)" in ds.name
    assert ds.det_classes == ["person", "bicycle", "car"]
    with pytest.raises(DataError, match="none of the 1083 images"):
        open_configured({**d, "split_partial": True}, "train")
    with pytest.raises(ConfigError, match="needs split="):
        open_configured({k: v for k, v in d.items() if k != "split"})


def test_llvip_split_from_its_folders_and_config(tmp_path):
    """LLVIP keeps its parts below the modality folders (infrared/train, infrared/test): the versioned split
    reads them there, the published counts (12025 / 3463) are checked, and the LLVIP config plans against a
    small generated copy (VOC person boxes)."""
    import numpy as np
    from PIL import Image

    from sagebench.benchmark.runner import load_config, make_plan

    root = tmp_path / "LLVIP"
    for part, stems in (("train", ["010001", "010002"]), ("test", ["190001"])):
        for modality, channels in (("infrared", 1), ("visible", 3)):
            d = root / modality / part
            d.mkdir(parents=True)
            for st in stems:
                shape = (12, 16) if channels == 1 else (12, 16, 3)
                Image.fromarray(np.full(shape, 90, np.uint8)).save(d / f"{st}.jpg")
    (root / "Annotations").mkdir()
    for st in ("010001", "010002", "190001"):
        (root / "Annotations" / f"{st}.xml").write_text(
            "<annotation><size><width>16</width><height>12</height></size><object><name>person</name><difficult>0"
            "</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>9</xmax><ymax>11</ymax></bndbox></object>"
            "</annotation>")
    obj = S.split_from_folders(root, "llvip_toy")
    assert obj["splits"] == {"train": ["010001", "010002"], "test": ["190001"]}
    assert set(obj["sources"]) == {"infrared/train", "infrared/test"}
    with pytest.raises(DataError, match=r"12025"):
        S.split_from_folders(root, "llvip")
    from pathlib import Path

    cfg = load_config(str(Path(__file__).resolve().parents[1] / "configs" / "downstream" / "llvip_faster_rcnn.py"))
    plan = make_plan(cfg, device="cpu", data_root=str(tmp_path))
    test_set, train_set = plan.datasets[0].open(), plan.datasets[0].open("train")
    assert test_set.names == ["190001"] and train_set.names == ["010001", "010002"]
    assert test_set.det_classes == ["person"] and test_set[0].target["boxes"].tolist() == [[1.0, 2.0, 9.0, 11.0]]
