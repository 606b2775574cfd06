"""Procedural registered infrared/visible road scenes with exact labels, by day and by night.

The scenes are built so that fusing the two modalities matters for downstream tasks:

* **person** and **car** are warm: always bright in IR. At night they are not rendered in the visible
  image at all (the dark, noisy background continues through them, so their visible contrast is ~0).
  By day they are drawn in colour and are visible in both modalities.
* **marking** (painted lane lines, zebra stripes) and **sign** (coloured panels) have the temperature of
  their surroundings: they are never rendered in IR (IR contrast ~0), day or night, but are clearly
  visible in the visible image (retro-reflective at night).
* The background (sky, buildings, road) has low- and high-frequency texture in both modalities, and
  unlabelled distractors: warm windows in IR, lit windows and lamp glows in the visible image at night.

Everything is drawn with vectorised numpy/torch operations (one full-image mask per shape). Each sample
depends only on ``(seed, split, index)``: the scene geometry uses its own random stream, so the day and
the night rendering of one index show the same scene. Images are quantised to 8-bit levels so that
writing them to PNG and reading them back is lossless.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sagebench.datasets.base import PairedDataset, Sample
from sagebench.errors import DataError
from sagebench.io import write_image, write_json, write_text

GENERATOR_VERSION = 1
#: Segmentation classes (ids are list positions). 255 is the ignore value (unused by the generator).
SYN_SEG_CLASSES = ["background", "person", "car", "marking", "sign"]
#: Detection classes (``labels`` index into this list); markings are not box objects.
SYN_DET_CLASSES = ["person", "car", "sign"]
BACKGROUND, PERSON, CAR, MARKING, SIGN = range(5)
_SEG_TO_DET = {PERSON: 0, CAR: 1, SIGN: 2}
_SPLIT_CODES = {None: 0, "train": 1, "val": 2, "test": 3}
# luma weights (BT.601) used to keep object colours away from the background brightness
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# sign face colours (red, blue, yellow, green, orange, white): luma >= 0.36, so they stay bright when lit at night
_SIGN_COLOURS = [np.array(c, np.float32) for c in ((0.95, 0.12, 0.10), (0.15, 0.35, 0.95), (0.95, 0.80, 0.10),
                                                     (0.10, 0.75, 0.30), (0.98, 0.50, 0.05), (0.95, 0.95, 0.95))]


@dataclass
class _Scene:
    ir: np.ndarray   # H x W float32 in [0, 1]
    vis: np.ndarray  # H x W x 3 float32 in [0, 1]
    seg: np.ndarray  # H x W int64
    boxes: np.ndarray  # N x 4 float32 xyxy
    labels: np.ndarray  # N int64 (det indices)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int, octaves: int = 3) -> np.ndarray:
    """Zero-mean band-limited noise, roughly unit std, H x W: bilinear-upsampled random grids."""
    out = torch.zeros(1, 1, h, w)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        c = cells * (2 ** o)
        ch, cw = max(2, round(c * h / max(h, w))), max(2, round(c * w / max(h, w)))
        g = torch.from_numpy(rng.standard_normal((1, 1, ch, cw)).astype(np.float32))
        out += amp * F.interpolate(g, size=(h, w), mode="bilinear", align_corners=True)
        total += amp * amp
        amp *= 0.5
    return (out[0, 0] / math.sqrt(total)).numpy()


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur over the first two axes of an H x W [x C] array (reflect padding)."""
    r = max(1, int(math.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float32) / sigma) ** 2)
    k /= k.sum()
    h, w = img.shape[:2]
    pad = [(r, r), (0, 0)] + [(0, 0)] * (img.ndim - 2)
    p = np.pad(img.astype(np.float32), pad, mode="reflect")
    tmp = sum(k[i] * p[i:i + h] for i in range(2 * r + 1))
    pad = [(0, 0), (r, r)] + [(0, 0)] * (img.ndim - 2)
    p = np.pad(tmp, pad, mode="reflect")
    return sum(k[i] * p[:, i:i + w] for i in range(2 * r + 1)).astype(np.float32)


class _Canvas:
    """Coordinate grids and shape masks for one image size."""

    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self.yy, self.xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5  # pixel centres

    def ellipse(self, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
        return ((self.xx - cx) / ax) ** 2 + ((self.yy - cy) / ay) ** 2 <= 1.0

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return (self.xx >= x0) & (self.xx < x1) & (self.yy >= y0) & (self.yy < y1)

    def triangle(self, cx: float, cy: float, r: float, up: bool = True) -> np.ndarray:
        """Equilateral triangle of circumradius r centred on (cx, cy)."""
        s = 1.0 if up else -1.0
        pts = [(cx + r * math.cos(a), cy - s * r * math.sin(a)) for a in (math.pi / 2, 7 * math.pi / 6,
                                                                             11 * math.pi / 6)]
        m = np.ones((self.h, self.w), bool)
        for i in range(3):
            (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % 3]
            cross = (x1 - x0) * (self.yy - y0) - (y1 - y0) * (self.xx - x0)
            m &= cross * s <= 0
        return m

    def lane(self, vx: float, horizon: float, xb: float, half_w: float, y0: float, y1: float) -> np.ndarray:
        """Band of a line from the vanishing point (vx, horizon) to (xb, H), widening with depth, rows y0..y1."""
        depth = np.clip((self.yy - horizon) / (self.h - horizon), 0.0, None)
        xc = vx + (xb - vx) * depth
        return (np.abs(self.xx - xc) <= half_w * depth + 0.35) & (self.yy >= y0) & (self.yy < y1)


def _colour_away_from(rng: np.random.Generator, ref_luma: float, min_diff: float) -> np.ndarray:
    """A random saturated-ish RGB colour whose luma differs from ``ref_luma`` by at least ``min_diff``."""
    for _ in range(100):
        c = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        if abs(float(c @ _LUMA) - ref_luma) >= min_diff:
            return c
    return np.full(3, 0.95 if ref_luma < 0.5 else 0.05, np.float32)


#: rendered scenes kept for reuse (a run reads each sample once per method and task): key -> scene, at most
#: ``_SCENE_CACHE_BYTES`` of arrays, least recently used first out. The arrays are read-only; samples get copies.
_SCENE_CACHE: OrderedDict[tuple, _Scene] = OrderedDict()
_SCENE_CACHE_BYTES = 256 * 2**20
_SCENE_LOCK = threading.Lock()


def _scene_bytes(sc: _Scene) -> int:
    return sum(a.nbytes for a in (sc.ir, sc.vis, sc.seg, sc.boxes, sc.labels))


def _cached_scene(h: int, w: int, seed: int, code: int, index: int, night: bool) -> _Scene:
    """The scene of ``(seed, split code, index, night)`` at ``h x w``: rendered once, then served from the
    cache (the same arrays, read-only, until evicted)."""
    key = (GENERATOR_VERSION, h, w, seed, code, index, bool(night))
    with _SCENE_LOCK:
        sc = _SCENE_CACHE.get(key)
        if sc is not None:
            _SCENE_CACHE.move_to_end(key)
            return sc
    geo = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, code, index, 0])))
    app = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, code, index, 1 + night])))
    sc = _render(h, w, geo, app, night)
    for a in (sc.ir, sc.vis, sc.seg, sc.boxes, sc.labels):
        a.flags.writeable = False
    with _SCENE_LOCK:
        _SCENE_CACHE[key] = sc
        total = sum(_scene_bytes(s) for s in _SCENE_CACHE.values())
        while total > _SCENE_CACHE_BYTES and len(_SCENE_CACHE) > 1:
            total -= _scene_bytes(_SCENE_CACHE.popitem(last=False)[1])
    return sc


def _render(h: int, w: int, geo: np.random.Generator, app: np.random.Generator, night: bool) -> _Scene:
    cv = _Canvas(h, w)
    scale = h / 128.0
    seg = np.zeros((h, w), np.int64)
    horizon = float(geo.uniform(0.30, 0.45) * h)
    ground = cv.yy >= horizon

    # ---------------------------------------------------------------- geometry (scene layout)
    buildings = []
    x = float(geo.uniform(-10, 5))
    while x < w:
        bw = float(geo.uniform(14, 40) * scale)
        bh = float(geo.uniform(0.25, 0.9) * horizon)
        buildings.append((x, horizon - bh, x + bw, horizon + 1, geo.uniform(0.25, 0.6)))
        x += bw + float(geo.uniform(0, 12) * scale)
    windows = []  # (x0, y0, x1, y1, lit_at_night)
    for (bx0, by0, bx1, by1, _) in buildings:
        for _ in range(int(geo.integers(0, 5))):
            ww, wh = float(geo.uniform(2, 5) * scale), float(geo.uniform(2, 5) * scale)
            wx, wy = float(geo.uniform(bx0 + 1, max(bx0 + 2, bx1 - ww - 1))), float(
                geo.uniform(by0 + 1, max(by0 + 2, by1 - wh - 3)))
            windows.append((wx, wy, wx + ww, wy + wh, bool(geo.random() < 0.6)))

    vx = float(geo.uniform(0.35, 0.65) * w)
    marking = np.zeros((h, w), bool)
    for _ in range(int(geo.integers(1, 3))):  # dashed lane lines
        xb = float(geo.uniform(0.1, 0.9) * w)
        period = float(geo.uniform(14, 22) * scale)
        duty = float(geo.uniform(0.45, 0.65))
        y = horizon + float(geo.uniform(6, 10) * scale)
        while y < h:
            depth = (y - horizon) / (h - horizon)
            seglen = period * (0.35 + depth) * duty
            marking |= cv.lane(vx, horizon, xb, 2.6 * scale, y, y + seglen)
            y += period * (0.35 + depth)
    if geo.random() < 0.5:  # zebra crossing near the bottom
        zy0 = float(geo.uniform(horizon + 0.55 * (h - horizon), h - 10 * scale))
        zy1 = zy0 + float(geo.uniform(5, 9) * scale)
        zx0 = float(geo.uniform(0.05, 0.45) * w)
        stripe = float(geo.uniform(3, 5) * scale)
        for k in range(int(geo.integers(4, 9))):
            x0 = zx0 + k * 2 * stripe
            marking |= cv.rect(x0, zy0, x0 + stripe, zy1)
    marking &= ground

    # background regions (sky 0, building k, window -k, ground -1000): a sign must sit on one region only, so
    # that its surroundings have no IR edge (signs have no thermal signature of their own)
    region = np.zeros((h, w), np.int64)
    for k, (bx0, by0, bx1, by1, _) in enumerate(buildings, 1):
        region[cv.rect(bx0, by0, bx1, by1)] = k
    for k, (wx0, wy0, wx1, wy1, _) in enumerate(windows, 1):
        region[cv.rect(wx0, wy0, wx1, wy1)] = -k
    region[ground] = -1000

    # objects: (class, mask, colour-ish params); non-overlapping boxes (2 px margin), no overlap with markings
    # objects keep 3 px away from markings, so blurred IR heat never reaches a marking's surroundings
    taken = F.max_pool2d(torch.from_numpy(marking)[None, None].float(), 7, 1, 3)[0, 0].numpy() > 0
    glows = []  # street-lamp glows, rendered in the visible image at night; objects keep clear of them
    for _ in range(int(geo.integers(0, 3))):
        gx, gy, rr = float(geo.uniform(0, w)), float(geo.uniform(0, horizon)), float(geo.uniform(3, 8) * scale)
        glows.append((gx, gy, rr))
        taken |= cv.ellipse(gx, gy, 3.5 * rr, 3.5 * rr)
    for (wx0, wy0, wx1, wy1, _) in windows:  # objects never cover windows (a lit window would outline them)
        taken |= cv.rect(wx0 - 1, wy0 - 1, wx1 + 1, wy1 + 1)
    objects: list[tuple[int, np.ndarray, dict[str, Any]]] = []
    boxes_taken: list[tuple[float, float, float, float]] = []

    def free(mask: np.ndarray, sign: bool = False) -> tuple[float, float, float, float] | None:
        if mask.sum() < 12 * scale * scale:
            return None
        ys, xs = np.nonzero(mask)
        b = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        for (a0, a1, a2, a3) in boxes_taken:
            if b[0] < a2 + 2 and a0 < b[2] + 2 and b[1] < a3 + 2 and a1 < b[3] + 2:
                return None
        if (mask & taken).any():
            return None
        if sign:
            x0, y0, x1, y1 = (int(v) for v in b)
            around = region[max(0, y0 - 5):y1 + 5, max(0, x0 - 5):x1 + 5]
            if (around != around.flat[0]).any():
                return None
        return b

    def depth_scale(yb: float) -> float:
        return 0.45 + 0.75 * (yb - horizon) / (h - horizon)

    n_car, n_person, n_sign = int(geo.integers(1, 4)), int(geo.integers(1, 5)), int(geo.integers(1, 3))
    for cls in [CAR] * n_car + [PERSON] * n_person + [SIGN] * n_sign:
        for _ in range(40):
            yb = float(geo.uniform(horizon + 6 * scale, h + 2))
            s = depth_scale(yb) * scale
            cx = float(geo.uniform(-0.05 * w, 1.05 * w))
            params: dict[str, Any] = {}
            if cls == PERSON:
                ph = float(geo.uniform(22, 34)) * s
                pw = ph * float(geo.uniform(0.3, 0.4))
                body = cv.ellipse(cx, yb - ph * 0.42, pw / 2, ph * 0.42)
                head = cv.ellipse(cx, yb - ph * 0.88, pw * 0.33, pw * 0.33)
                mask = body | head
                params = {"head": head}
            elif cls == CAR:
                cw = float(geo.uniform(34, 52)) * s
                ch = cw * float(geo.uniform(0.42, 0.55))
                x0 = cx - cw / 2
                lower = cv.rect(x0, yb - 0.62 * ch, x0 + cw, yb - 0.12 * ch)
                cabin = cv.rect(x0 + 0.2 * cw, yb - ch, x0 + 0.8 * cw, yb - 0.6 * ch)
                r = 0.16 * ch
                wheels = cv.ellipse(x0 + 0.22 * cw, yb - 0.14 * ch, r, r) | cv.ellipse(
                    x0 + 0.78 * cw, yb - 0.14 * ch, r, r)
                mask = lower | cabin | wheels
                params = {"cabin": cabin & ~lower, "wheels": wheels & ~lower, "engine": cv.rect(
                    x0 + (0.0 if geo.random() < 0.5 else 0.7) * cw, yb - 0.62 * ch,
                    x0 + (0.3 if geo.random() < 0.5 else 1.0) * cw, yb - 0.3 * ch)}
            else:  # sign panel on an (unrendered) pole beside the road
                r = max(4.0 * scale, float(geo.uniform(5, 8)) * s)
                cy = yb - float(geo.uniform(20, 30)) * s
                kind = int(geo.integers(0, 3))
                if kind == 0:
                    mask = cv.ellipse(cx, cy, r, r)
                elif kind == 1:
                    mask = cv.triangle(cx, cy, r * 1.15, up=bool(geo.random() < 0.7))
                else:
                    mask = cv.rect(cx - r, cy - 0.75 * r, cx + r, cy + 0.75 * r)
                border = mask & ~(cv.ellipse(cx, cy, 0.6 * r, 0.6 * r) if kind == 0 else
                                  np.roll(np.roll(mask, 1, 0), 1, 1) & np.roll(np.roll(mask, -1, 0), -1, 1))
                params = {"border": border}
            b = free(mask, sign=cls == SIGN)
            if b is not None:
                boxes_taken.append(b)
                taken |= mask
                objects.append((cls, mask, params))
                break

    # ---------------------------------------------------------------- visible image
    tex = _smooth_noise(app, h, w, 6)
    fine = app.standard_normal((h, w)).astype(np.float32)
    sky_col = np.array([0.55, 0.70, 0.92], np.float32) + app.uniform(-0.06, 0.06, 3).astype(np.float32)
    road_l = float(app.uniform(0.36, 0.48))
    vis = np.empty((h, w, 3), np.float32)
    grad = (1.0 - cv.yy / max(horizon, 1.0) * 0.25)[..., None]
    vis[:] = sky_col * grad
    for (bx0, by0, bx1, by1, bl) in buildings:
        m = cv.rect(bx0, by0, bx1, by1)
        tint = np.array([bl, bl * 0.95, bl * 0.9], np.float32) * float(app.uniform(0.85, 1.15))
        vis[m] = tint
    vis[ground] = np.array([road_l, road_l, road_l * 1.03], np.float32)
    vis += (0.035 * tex + 0.012 * fine)[..., None]
    for (wx0, wy0, wx1, wy1, _) in windows:
        vis[cv.rect(wx0, wy0, wx1, wy1)] *= 0.6
    marking_col = np.array([0.95, 0.95, 0.92], np.float32) if app.random() < 0.7 else np.array(
        [0.95, 0.8, 0.2], np.float32)
    if night:
        vis *= 0.13  # dark scene
        for (wx0, wy0, wx1, wy1, lit) in windows:
            if lit:
                vis[cv.rect(wx0, wy0, wx1, wy1)] = np.array([0.75, 0.65, 0.35], np.float32)
        for gx, gy, rr in glows:  # lamp glows (visible-only distractors)
            glow = np.exp(-((cv.xx - gx) ** 2 + (cv.yy - gy) ** 2) / (2 * rr * rr))
            vis += (0.5 * glow)[..., None] * np.array([1.0, 0.9, 0.6], np.float32)
        vis[marking] = marking_col * float(app.uniform(0.45, 0.6))  # retro-reflective paint
    else:
        vis[marking] = marking_col
    for cls, mask, params in objects:
        if cls == SIGN:
            face = _SIGN_COLOURS[int(app.integers(0, len(_SIGN_COLOURS)))]
            col_border = np.array([0.95, 0.95, 0.95], np.float32) if face @ _LUMA < 0.6 else np.array(
                [0.85, 0.1, 0.1], np.float32)  # white rim on dark faces, red rim on white/yellow ones
            k = float(app.uniform(0.55, 0.75)) if night else 1.0
            vis[mask] = face * k
            vis[params["border"]] = col_border * k
        elif not night:  # warm objects are invisible in the dark visible image
            if cls == PERSON:
                vis[mask] = _colour_away_from(app, road_l, 0.2)
                vis[params["head"]] = np.array([0.85, 0.65, 0.5], np.float32) * float(app.uniform(0.5, 1.0))
            else:
                body = _colour_away_from(app, road_l, 0.2)
                vis[mask] = body
                vis[params["cabin"]] = np.array([0.15, 0.18, 0.22], np.float32)
                vis[params["wheels"]] = 0.06
    for cls, mask, _ in objects:
        seg[mask] = cls
    seg[marking & (seg == BACKGROUND)] = MARKING
    vis = _blur(vis, 0.6)
    vis += app.standard_normal((h, w, 3)).astype(np.float32) * (0.02 if night else 0.01)

    # ---------------------------------------------------------------- infrared image
    ir_tex = _smooth_noise(app, h, w, 5)
    ir = np.full((h, w), 0.12, np.float32) + 0.06 * (cv.yy / max(horizon, 1.0))  # cold sky
    for (bx0, by0, bx1, by1, bl) in buildings:
        ir[cv.rect(bx0, by0, bx1, by1)] = (0.38 if not night else 0.3) + 0.15 * float(bl)
    road_ir = float(app.uniform(0.45, 0.52) if not night else app.uniform(0.28, 0.34))
    ir[ground] = road_ir + 0.04 * (cv.yy[ground] - horizon) / (h - horizon)
    ir += 0.025 * ir_tex
    for (wx0, wy0, wx1, wy1, lit) in windows:
        if lit or not night:
            ir[cv.rect(wx0, wy0, wx1, wy1)] += 0.12 if night else 0.06  # warm windows: IR distractors
    for cls, mask, params in objects:
        if cls == PERSON:
            ir[mask] = float(app.uniform(0.78, 0.9))
            ir[params["head"]] = float(app.uniform(0.88, 0.97))
        elif cls == CAR:
            ir[mask] = float(app.uniform(0.62, 0.74))
            ir[params["wheels"]] = float(app.uniform(0.74, 0.84))
            ir[params["engine"] & mask] = float(app.uniform(0.82, 0.92))
        # markings and signs: no thermal contrast, nothing drawn
    ir = _blur(ir, 0.9) + app.standard_normal((h, w)).astype(np.float32) * 0.012

    # ---------------------------------------------------------------- labels
    boxes, labels = [], []
    for cls, mask, _ in objects:
        ys, xs = np.nonzero(mask)
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        labels.append(_SEG_TO_DET[cls])
    q = np.float32(255.0)
    ir = np.round(np.clip(ir, 0, 1) * q) / q
    vis = np.round(np.clip(vis, 0, 1) * q) / q
    return _Scene(ir.astype(np.float32), vis.astype(np.float32), seg,
                  np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64))


def _is_night(index: int, seed: int, night_fraction: float) -> bool:
    """Low-discrepancy day/night assignment: about ``night_fraction`` of any run of indices are night."""
    if night_fraction >= 1.0:
        return True
    if night_fraction <= 0.0:
        return False
    u = (seed * 0.7548776662466927 + (index + 0.5) * 0.6180339887498949) % 1.0
    return u < night_fraction


class SyntheticDataset(PairedDataset):
    """``n`` generated registered pairs (see the module docstring and docs/datasets.md).

    Args:
        n: number of pairs.
        seed: base seed; sample ``i`` depends only on ``(seed, split, i)``.
        size: ``(H, W)`` in pixels (at least 48 x 48).
        night_fraction: share of night scenes in [0, 1] (``synthetic:night`` = 1, ``synthetic:day`` = 0).
        split: None/``train``/``val``/``test``: independent random streams.

    Samples: ``ir`` ``1 x H x W``, ``vis`` ``3 x H x W`` (RGB), ``target`` with ``boxes`` (xyxy pixels,
    integer-valued), ``labels`` (into :data:`SYN_DET_CLASSES`), ``iscrowd`` (zeros) and ``seg`` (into
    :data:`SYN_SEG_CLASSES`); ``meta`` has ``night``, ``index``, ``seed``, ``split``.
    """

    def __init__(self, n: int = 24, seed: int = 0, size: tuple[int, int] = (128, 160), night_fraction: float = 0.5,
                 split: str | None = None, name: str | None = None) -> None:
        if int(n) < 1:
            raise DataError(f"synthetic: n must be >= 1, got {n}")
        hw = tuple(int(v) for v in size)
        if len(hw) != 2 or min(hw) < 48:
            raise DataError(f"synthetic: size must be (H, W) with both >= 48, got {size}")
        if not 0.0 <= float(night_fraction) <= 1.0:
            raise DataError(f"synthetic: night_fraction must be in [0, 1], got {night_fraction}")
        if split not in _SPLIT_CODES:
            raise DataError(f"synthetic: split must be one of {list(_SPLIT_CODES)}, got {split!r}")
        mode = {1.0: "night", 0.0: "day"}.get(float(night_fraction))
        super().__init__(name or ("synthetic" + (f":{mode}" if mode else "")))
        self.n, self.seed, self.size = int(n), int(seed), hw
        self.night_fraction, self.split = float(night_fraction), split
        self.night = [_is_night(i, self.seed, self.night_fraction) for i in range(self.n)]
        self.names = [f"{i:05d}{'N' if nt else 'D'}" for i, nt in enumerate(self.night)]
        self.det_classes = list(SYN_DET_CLASSES)
        self.seg_classes = list(SYN_SEG_CLASSES)
        self.label_info = {"det": {"format": "synthetic"}, "seg": {"format": "synthetic"}}

    def params(self, index: int) -> dict[str, Any]:
        """Everything that determines sample ``index`` (hashed into its ``content_hash``)."""
        return {"generator": "sagebench.datasets.synthetic", "version": GENERATOR_VERSION, "seed": self.seed,
                "split": self.split, "size": list(self.size), "index": int(index), "night": self.night[index]}

    def content_hash(self, index: int) -> str:
        return hashlib.sha256(json.dumps(self.params(index), sort_keys=True).encode()).hexdigest()

    def __getitem__(self, index: int) -> Sample:
        if not -self.n <= index < self.n:
            raise IndexError(f"{self.name}: index {index} out of range (0..{self.n - 1})")
        index %= self.n
        night = self.night[index]
        sc = _cached_scene(self.size[0], self.size[1], self.seed, _SPLIT_CODES[self.split], index, night)
        target = {  # copies: a caller may write into its sample
            "boxes": torch.from_numpy(sc.boxes.copy()),
            "labels": torch.from_numpy(sc.labels.copy()),
            "iscrowd": torch.zeros(len(sc.labels), dtype=torch.int64),
            "seg": torch.from_numpy(sc.seg.copy()),
        }
        return Sample(name=self.names[index], ir=torch.from_numpy(sc.ir.copy())[None],
                      vis=torch.from_numpy(np.ascontiguousarray(sc.vis.transpose(2, 0, 1))),
                      ir_path=None, vis_path=None, content_hash=self.content_hash(index), target=target,
                      meta={"night": night, "index": index, "seed": self.seed, "split": self.split})


def class_contrast(sample: Sample, ring: int = 3) -> dict[str, tuple[float, float]]:
    """Per-class local contrast ``(ir, vis)`` of a sample with a ``seg`` target.

    Each connected region of a class (8-connectivity) is compared with its own surroundings:
    ``|mean(inside) - mean(ring)|`` of the IR image and of the visible luma (BT.601), where *inside* is the
    region eroded by 1 px and *ring* the background pixels within ``ring + 1`` px of the region but more than
    1 px away from any labelled pixel (to skip blurred edges). The class value is the mean over its regions
    weighted by their inside pixel counts, in [0, 1] intensity units. Classes whose regions have no inside
    or no ring pixels are left out.
    """
    from scipy import ndimage

    if sample.target is None or "seg" not in sample.target:
        raise ValueError("class_contrast needs a sample with a 'seg' target")
    seg = sample.target["seg"].numpy()
    ir = sample.ir[0].numpy().astype(np.float64)
    v = sample.vis.numpy().astype(np.float64)
    luma = v[0] if v.shape[0] == 1 else 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]
    near_label = ndimage.binary_dilation(seg != BACKGROUND, np.ones((3, 3), bool))
    bg_ok = (seg == BACKGROUND) & ~near_label
    pad = ring + 2
    out = {}
    for cid in np.unique(seg).tolist():
        if cid in (BACKGROUND, 255):
            continue
        comps, n = ndimage.label(seg == cid, np.ones((3, 3), bool))
        acc_ir = acc_vis = weight = 0.0
        for k, sl in enumerate(ndimage.find_objects(comps), 1):
            ys = slice(max(0, sl[0].start - pad), sl[0].stop + pad)
            xs = slice(max(0, sl[1].start - pad), sl[1].stop + pad)
            c = comps[ys, xs] == k
            inside = ndimage.binary_erosion(c, np.ones((3, 3), bool), border_value=1)
            around = ndimage.binary_dilation(c, np.ones((2 * ring + 3, 2 * ring + 3), bool)) & bg_ok[ys, xs]
            n_in = int(inside.sum())
            if n_in == 0 or not around.any():
                continue
            acc_ir += n_in * abs(ir[ys, xs][inside].mean() - ir[ys, xs][around].mean())
            acc_vis += n_in * abs(luma[ys, xs][inside].mean() - luma[ys, xs][around].mean())
            weight += n_in
        if weight:
            name = SYN_SEG_CLASSES[cid] if cid < len(SYN_SEG_CLASSES) else str(cid)
            out[name] = (acc_ir / weight, acc_vis / weight)
    return out


def write_synthetic(out_dir: str | os.PathLike, n: int = 24, seed: int = 0, size: tuple[int, int] = (128, 160),
                    night_fraction: float = 0.5, split: str | None = None, overwrite: bool = False) -> Path:
    """Write a synthetic set as a dataset folder that :func:`open_dataset` (and mmdet/mmseg) can read.

    Layout::

        out_dir/ir/<name>.png            8-bit grey infrared
        out_dir/vis/<name>.png           8-bit RGB visible
        out_dir/labels/<name>.png        8-bit class-id maps (ids of SYN_SEG_CLASSES, 255 = ignore)
        out_dir/labels/seg_classes.txt   "id name" per line
        out_dir/labels/coco.json         COCO boxes; categories 1 person, 2 car, 3 sign
        out_dir/synthetic.json           generator parameters and per-sample content hashes

    Every file is written atomically. Raises DataError if ``out_dir`` already holds files and
    ``overwrite`` is False.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError(f"{out}: folder is not empty; pass overwrite=True to write the synthetic set into it")
    ds = SyntheticDataset(n=n, seed=seed, size=size, night_fraction=night_fraction, split=split)
    images, anns = [], []
    for i in range(len(ds)):
        s = ds[i]
        write_image(out / "ir" / f"{s.name}.png", s.ir)
        write_image(out / "vis" / f"{s.name}.png", s.vis)
        write_image(out / "labels" / f"{s.name}.png", s.target["seg"].numpy().astype(np.uint8))
        h, w = s.size
        images.append({"id": i, "file_name": f"{s.name}.png", "width": w, "height": h,
                       "night": bool(s.meta["night"]), **({"split": split} if split else {})})
        for b, lab in zip(s.target["boxes"].tolist(), s.target["labels"].tolist()):
            x0, y0, x1, y1 = (int(round(v)) for v in b)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": lab + 1,
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
    cats = [{"id": i + 1, "name": c, "supercategory": "none"} for i, c in enumerate(SYN_DET_CLASSES)]
    write_json(out / "labels" / "coco.json", {
        "info": {"description": "sagebench synthetic IR/visible scenes", "version": GENERATOR_VERSION},
        "images": images, "annotations": anns, "categories": cats})
    write_text(out / "labels" / "seg_classes.txt", "".join(f"{i} {c}\n" for i, c in enumerate(SYN_SEG_CLASSES)))
    write_json(out / "synthetic.json", {
        "n": ds.n, "seed": ds.seed, "size": list(ds.size), "night_fraction": ds.night_fraction, "split": split,
        "version": GENERATOR_VERSION, "samples": {nm: ds.content_hash(i) for i, nm in enumerate(ds.names)}})
    return out
