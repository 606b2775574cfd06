"""Synthetic paired scenes: determinism, day/night visibility properties, label consistency, disk round trip."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from sagebench.datasets import (
    SYN_DET_CLASSES,
    SYN_SEG_CLASSES,
    Sample,
    SyntheticDataset,
    class_contrast,
    open_dataset,
    write_synthetic,
)
from sagebench.errors import DataError


@pytest.fixture(scope="module")
def night():
    ds = open_dataset("synthetic:night", n=10, seed=3)
    return [ds[i] for i in range(len(ds))]


@pytest.fixture(scope="module")
def day():
    ds = open_dataset("synthetic:day", n=10, seed=3)
    return [ds[i] for i in range(len(ds))]


def test_shapes_and_classes():
    ds = open_dataset("synthetic", n=4, seed=0, size=(96, 120))
    assert len(ds) == 4 and ds.det_classes == SYN_DET_CLASSES and ds.seg_classes == SYN_SEG_CLASSES
    assert ds.classes == SYN_DET_CLASSES
    s = ds[0]
    assert s.ir.shape == (1, 96, 120) and s.vis.shape == (3, 96, 120)
    assert s.ir.dtype == torch.float32 and s.vis.dtype == torch.float32
    assert 0 <= float(s.ir.min()) and float(s.vis.max()) <= 1
    assert s.ir_path is None and s.vis_path is None
    t = s.target
    assert t["seg"].shape == (96, 120) and t["seg"].dtype == torch.int64
    assert t["boxes"].dtype == torch.float32 and t["labels"].dtype == torch.int64
    # 8-bit levels (lossless PNG round trip)
    assert torch.equal(torch.round(s.ir * 255) / 255, s.ir)


def test_determinism_and_seeds():
    a = open_dataset("synthetic", n=5, seed=7)
    b = open_dataset("synthetic", n=5, seed=7)
    c = open_dataset("synthetic", n=5, seed=8)
    longer = open_dataset("synthetic", n=9, seed=7)
    for i in range(5):
        sa, sb = a[i], b[i]
        assert torch.equal(sa.ir, sb.ir) and torch.equal(sa.vis, sb.vis)
        assert torch.equal(sa.target["seg"], sb.target["seg"]) and torch.equal(sa.target["boxes"], sb.target["boxes"])
        assert sa.content_hash == sb.content_hash
        assert torch.equal(longer[i].ir, sa.ir)  # sample i does not depend on n
        assert not torch.equal(c[i].ir, sa.ir) or c.night[i] != a.night[i]
    assert not torch.equal(c[0].target["seg"], a[0].target["seg"])
    hashes = {a.content_hash(i) for i in range(5)} | {c.content_hash(i) for i in range(5)}
    assert len(hashes) == 10
    exp = hashlib.sha256(json.dumps(a.params(2), sort_keys=True).encode()).hexdigest()
    assert a[2].content_hash == exp
    tr, te = open_dataset("synthetic", n=2, split="train"), open_dataset("synthetic", n=2, split="test")
    assert not torch.equal(tr[0].target["seg"], te[0].target["seg"])


def test_day_night_modes():
    assert all(n.endswith("N") for n in open_dataset("synthetic:night", n=6).names)
    assert all(n.endswith("D") for n in open_dataset("synthetic:day", n=6).names)
    mixed = open_dataset("synthetic", n=40, night_fraction=0.25)
    assert abs(sum(mixed.night) - 10) <= 1  # low-discrepancy assignment
    assert [s.endswith("N") for s in mixed.names] == mixed.night
    with pytest.raises(DataError, match="contradicts"):
        open_dataset("synthetic:day", night_fraction=0.5)
    with pytest.raises(DataError, match="size"):
        open_dataset("synthetic", size=(16, 16))
    with pytest.raises(DataError, match="unknown synthetic"):
        open_dataset("synthetic:dusk")


def test_same_scene_day_and_night(day, night):
    for d, n in zip(day, night):
        assert torch.equal(d.target["seg"], n.target["seg"]) and torch.equal(d.target["boxes"], n.target["boxes"])
        assert d.meta["night"] is False and n.meta["night"] is True
        assert float(n.vis.mean()) < 0.5 * float(d.vis.mean())


def _per_class(samples):
    out: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        for k, v in class_contrast(s).items():
            out.setdefault(k, []).append(v)
    return out


def test_night_visibility(night):
    per = _per_class(night)
    assert set(per) == {"person", "car", "marking", "sign"}
    for cls in ("person", "car"):  # IR only
        ir_c, vis_c = np.array(per[cls]).T
        assert ir_c.min() > 0.2, (cls, ir_c)
        assert vis_c.max() < 0.04, (cls, vis_c)
    for cls in ("marking", "sign"):  # visible only
        ir_c, vis_c = np.array(per[cls]).T
        assert ir_c.max() < 0.02, (cls, ir_c)
        assert vis_c.min() > 0.1, (cls, vis_c)


def test_day_visibility(day):
    per = _per_class(day)
    for cls in ("person", "car"):  # warm objects are visible in both by day
        ir_c, vis_c = np.array(per[cls]).T
        assert ir_c.min() > 0.1 and vis_c.mean() > 0.1, (cls, ir_c, vis_c)
    for cls in ("marking", "sign"):  # no thermal signature by day either
        ir_c, _ = np.array(per[cls]).T
        assert ir_c.max() < 0.02, (cls, ir_c)
    assert np.array(per["marking"])[:, 1].min() > 0.2


def test_class_contrast_on_known_images():
    """A hand-made sample with known contrasts: a 0.7 square on 0.2 in IR only, a grey stripe in vis only."""
    ir = torch.full((1, 40, 40), 0.2)
    ir[0, 5:15, 5:15] = 0.7
    vis = torch.full((3, 40, 40), 0.1)
    vis[:, 25:30, 5:35] = 0.6
    seg = torch.zeros(40, 40, dtype=torch.int64)
    seg[5:15, 5:15] = 1
    seg[25:30, 5:35] = 3
    s = Sample("x", ir, vis, target={"seg": seg})
    c = class_contrast(s)
    assert c["person"] == pytest.approx((0.5, 0.0), abs=1e-6)
    assert c["marking"] == pytest.approx((0.0, 0.5), abs=1e-6)


def test_boxes_match_seg(day, night):
    for s in day + night:
        seg, boxes, labels = s.target["seg"], s.target["boxes"], s.target["labels"]
        h, w = seg.shape
        assert len(boxes) == len(labels) >= 1
        assert torch.equal(boxes, boxes.round())
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        covered = torch.zeros_like(seg, dtype=torch.bool)
        for (x0, y0, x1, y1), lab in zip(boxes.int().tolist(), labels.tolist()):
            cid = SYN_SEG_CLASSES.index(SYN_DET_CLASSES[lab])
            crop = seg[y0:y1, x0:x1] == cid
            # tight: the class touches all four box edges
            assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
            covered[y0:y1, x0:x1] |= crop
        obj = (seg == 1) | (seg == 2) | (seg == 4)
        assert torch.equal(covered, obj)  # every object pixel lies in a box of its class
        assert set(seg.unique().tolist()) <= {0, 1, 2, 3, 4}


def test_write_synthetic_round_trip(tmp_path):
    out = write_synthetic(tmp_path / "syn", n=4, seed=5, size=(64, 80), night_fraction=0.5)
    ds = open_dataset(out)
    ref = SyntheticDataset(n=4, seed=5, size=(64, 80), night_fraction=0.5)
    assert ds.names == ref.names and ds.det_classes == SYN_DET_CLASSES and ds.seg_classes == SYN_SEG_CLASSES
    assert ds.label_info["det"]["format"] == "coco" and ds.label_info["seg"]["format"] == "class_ids"
    for i in range(4):
        a, b = ds[i], ref[i]
        assert torch.equal(a.ir, b.ir) and torch.equal(a.vis, b.vis)
        for k in ("seg", "boxes", "labels"):
            assert torch.equal(a.target[k], b.target[k]), k
    meta = json.loads((out / "synthetic.json").read_text())
    assert meta["samples"][ref.names[1]] == ref.content_hash(1)
    coco = json.loads((out / "labels" / "coco.json").read_text())
    assert [c["name"] for c in coco["categories"]] == SYN_DET_CLASSES
    with pytest.raises(DataError, match="not empty"):
        write_synthetic(out, n=1)
    write_synthetic(out, n=2, seed=1, size=(64, 80), overwrite=True)


def test_write_synthetic_split_filter(tmp_path):
    out = write_synthetic(tmp_path / "s", n=2, size=(48, 64), split="val")
    assert len(open_dataset(out, split="val")) == 2
    with pytest.warns(UserWarning):  # nothing is in 'train'
        with pytest.raises(DataError, match="no usable image pairs"):
            open_dataset(out, split="train")


def test_generation_speed(benchmark):
    ds = open_dataset("synthetic", n=8, seed=0)
    benchmark(lambda: [ds[i] for i in range(len(ds))])


def test_rendered_scenes_are_reused_as_copies(monkeypatch):
    """Samples are rendered once and then served from a bounded cache: equal to a fresh render, independent
    copies (writing into one does not reach the next), and evicted beyond the byte budget."""
    from sagebench.datasets import synthetic

    monkeypatch.setattr(synthetic, "_SCENE_CACHE", synthetic.OrderedDict())
    ds = open_dataset("synthetic:night", n=3, seed=7, size=(64, 80))
    calls = []
    real = synthetic._render
    monkeypatch.setattr(synthetic, "_render", lambda *a: calls.append(1) or real(*a))
    first = ds[1]
    first.ir.fill_(0.0)
    first.target["seg"].fill_(0)
    again = open_dataset("synthetic:night", n=3, seed=7, size=(64, 80))[1]  # another instance, same scene
    assert len(calls) == 1
    code = synthetic._SPLIT_CODES[ds.split]
    geo = synthetic.np.random.Generator(synthetic.np.random.PCG64(synthetic.np.random.SeedSequence([7, code, 1, 0])))
    app = synthetic.np.random.Generator(
        synthetic.np.random.PCG64(synthetic.np.random.SeedSequence([7, code, 1, 1 + ds.night[1]])))
    fresh = real(64, 80, geo, app, ds.night[1])
    assert torch.equal(again.ir[0], torch.from_numpy(fresh.ir)) and again.ir.max() > 0
    assert torch.equal(again.target["seg"], torch.from_numpy(fresh.seg))
    monkeypatch.setattr(synthetic, "_SCENE_CACHE_BYTES", 1)
    ds[0], ds[2]
    assert len(synthetic._SCENE_CACHE) == 1  # only the most recent one kept
