"""Qualitative comparison figure: a grid of IR | visible | each method's fused output, with an enlarged inset.

One row per chosen image, one column per input/method. Every panel shows the same source box (outlined)
and, in its lower-right corner, that box magnified (nearest-neighbour, so the pixels are the real ones)
with an outline of the same colour. The box is given per figure as ``(x, y, w, h)`` in pixels, or chosen
automatically per image (``"auto"``): the window with the most structure where the methods differ (see
:func:`auto_inset`), off the border and outside the corner the inset covers.

    from sagebench.benchmark.figures import qualitative_grid
    qualitative_grid("data/MSRS/test", {"SAGE": "runs/a/fused/MSRS/sage_student", "SeAFusion": "..."},
                     ["00000", "00003"], "qualitative.pdf")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sagebench.errors import ConfigError, DataError
from sagebench.io import read_image, to_uint8

Box = tuple[int, int, int, int]
INSET_COLOUR = (230, 40, 40)


def _to_rgb(arr: np.ndarray) -> np.ndarray:
    """uint8/uint16 ``H x W`` or ``H x W x 3`` -> uint8 ``H x W x 3``."""
    if arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr)


def _gray(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.float32)
    return a if a.ndim == 2 else a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def inset_geometry(height: int, width: int, box: Box, *, fraction: float = 0.42,
                   margin: int | None = None) -> tuple[int, Box]:
    """Zoom factor and placement ``(x, y, w, h)`` of the magnified inset for ``box`` in an image of
    ``height x width``: the magnified box is about ``fraction`` of the image width (integer zoom >= 2
    when it fits, else 1), in the lower-right corner with a small margin."""
    _, _, w, h = box
    margin = max(2, round(min(height, width) * 0.015)) if margin is None else margin
    zoom = max(1, int(min(fraction * width / w, fraction * height / h)))
    zw, zh = w * zoom, h * zoom
    return zoom, (width - zw - margin, height - zh - margin, zw, zh)


def _box_sums(score: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of ``score`` over every ``h x w`` window; result[y, x] is the window with top-left (y, x)."""
    ii = np.pad(score.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return ii[h:, w:] - ii[:-h, w:] - ii[h:, :-w] + ii[:-h, :-w]


def _grad(a: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(a)
    return np.hypot(gx, gy)


def auto_inset(ir: np.ndarray, fused: Sequence[np.ndarray], *, side_fraction: float = 0.2) -> Box:
    """Pick ``(x, y, w, h)``: the window (sides ``side_fraction`` of the image's, same aspect) with the most
    structure where the methods differ, away from the image border and outside the lower-right area the
    magnified inset will cover.

    The score of a pixel is the mean gradient magnitude of the fused images, plus their standard
    deviation across methods, plus half the IR gradient magnitude (grey levels in [0, 1]); a window scores
    the sum over its pixels. ``ir`` is ``H x W`` (uint8/uint16/float), ``fused`` a list of
    ``H x W [x 3]`` arrays of the same size.
    """
    height, width = ir.shape[:2]
    w = min(width, max(8, round(width * side_fraction)))
    h = min(height, max(8, round(height * side_fraction)))
    irf = _gray(ir) / (65535.0 if ir.dtype == np.uint16 else 255.0 if ir.dtype == np.uint8 else 1.0)
    score = 0.5 * _grad(irf)
    if fused:
        grads = np.stack([_grad(_gray(_to_rgb(f)) / 255.0) for f in fused])
        score = score + grads.mean(axis=0) + grads.std(axis=0)
    sums = _box_sums(score, h, w)
    _, (ix, iy, _, _) = inset_geometry(height, width, (0, 0, w, h))
    ys, xs = np.mgrid[0:sums.shape[0], 0:sums.shape[1]]
    # registered datasets often have warped black borders with strong edges: keep off the border
    edge = round(0.04 * min(height, width))
    blocked = (xs + w > ix) & (ys + h > iy)
    blocked |= (xs < edge) | (ys < edge) | (xs + w > width - edge) | (ys + h > height - edge)
    if (~blocked).any():
        sums = np.where(blocked, -np.inf, sums)
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(x), int(y), int(w), int(h)


def _check_box(box: Any, height: int, width: int, what: str) -> Box:
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: inset must be (x, y, w, h) in pixels, got {box!r}") from None
    if w < 2 or h < 2 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise ConfigError(f"{what}: inset (x={x}, y={y}, w={w}, h={h}) does not fit the {width}x{height} image")
    return x, y, w, h


def _outline(img: np.ndarray, box: Box, colour: tuple[int, int, int], t: int) -> None:
    x, y, w, h = box
    c = np.array(colour, dtype=np.uint8)
    img[y:y + t, x:x + w] = c
    img[y + h - t:y + h, x:x + w] = c
    img[y:y + h, x:x + t] = c
    img[y:y + h, x + w - t:x + w] = c


def compose_panel(img: np.ndarray, box: Box | None, *, colour: tuple[int, int, int] = INSET_COLOUR,
                  fraction: float = 0.42) -> np.ndarray:
    """``img`` (``H x W [x 3]`` uint8/uint16) as uint8 RGB with ``box`` outlined and magnified into the
    lower-right corner (see :func:`inset_geometry`). ``box=None`` returns the image unchanged (as RGB)."""
    out = _to_rgb(img).copy()
    if box is None:
        return out
    height, width = out.shape[:2]
    x, y, w, h = box
    zoom, (ix, iy, zw, zh) = inset_geometry(height, width, box, fraction=fraction)
    crop = out[y:y + h, x:x + w]
    big = np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)
    t = max(1, round(min(height, width) / 200))
    _outline(out, box, colour, t)
    out[iy:iy + zh, ix:ix + zw] = big
    pad = (max(0, ix - t), max(0, iy - t), min(width, ix + zw + t) - max(0, ix - t),
           min(height, iy + zh + t) - max(0, iy - t))
    _outline(out, pad, colour, t)
    return out


def _sample_arrays(dataset: Any, stem: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        idx = dataset.index_of(stem) if hasattr(dataset, "index_of") else list(dataset.names).index(stem)
    except (KeyError, ValueError):
        names = list(dataset.names)
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        raise ConfigError(f"dataset {getattr(dataset, 'name', '?')}: no image {stem!r} (has {shown})") from None
    s = dataset[idx]
    return to_uint8(s.ir), to_uint8(s.vis)


def load_panels(dataset: Any, fused_dirs: Mapping[str, str | os.PathLike], images: Sequence[str]
                ) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """For every stem: ``[("IR", ir), ("Visible", vis), (method, fused), ...]`` as uint8 arrays.

    Fused images are ``<fused_dir>/<stem>.png``; a missing, unreadable or wrongly sized file raises
    :class:`DataError` naming it.
    """
    rows = []
    for stem in images:
        ir, vis = _sample_arrays(dataset, str(stem))
        panels: list[tuple[str, np.ndarray]] = [("IR", ir), ("Visible", vis)]
        for method, folder in fused_dirs.items():
            path = Path(folder) / f"{stem}.png"
            arr = read_image(path)
            if arr.shape[:2] != ir.shape[:2]:
                raise DataError(f"{path}: fused image is {arr.shape[1]}x{arr.shape[0]}, but the input pair "
                                f"{stem!r} is {ir.shape[1]}x{ir.shape[0]}")
            panels.append((str(method), arr))
        rows.append((str(stem), panels))
    return rows


def qualitative_grid(dataset: Any, fused_dirs: Mapping[str, str | os.PathLike], images: Sequence[str],
                     out_path: str | os.PathLike, *, inset: Box | str | None = "auto",
                     panel_width: float = 2.6, dpi: int = 200, title: str | None = None) -> Path:
    """Write the qualitative grid figure to ``out_path`` (format from the suffix: png, pdf, svg).

    Args:
        dataset: a ``PairedDataset`` or a source for :func:`sagebench.datasets.open_dataset` (folder or
            ``"synthetic..."``).
        fused_dirs: method label -> folder of its fused 8-bit PNGs ``<stem>.png``; column order follows it.
        images: sample stems, one row each.
        out_path: output file.
        inset: ``(x, y, w, h)`` in pixels (same box for every row), ``"auto"`` (per image, see
            :func:`auto_inset`) or None (no inset).
        panel_width: width of one panel in inches.
        dpi: resolution of raster output.
        title: optional figure title.

    Returns:
        ``out_path``.
    """
    from sagebench.benchmark.plots import save_figure

    if not images:
        raise ConfigError("qualitative figure: give at least one image stem")
    if not fused_dirs:
        raise ConfigError("qualitative figure: give at least one method's fused-image folder")
    if isinstance(dataset, (str, os.PathLike)):
        from sagebench.datasets import open_dataset

        dataset = open_dataset(dataset)
    rows = load_panels(dataset, fused_dirs, images)
    composed = []
    for stem, panels in rows:
        height, width = panels[0][1].shape[:2]
        if inset is None:
            box = None
        elif isinstance(inset, str):
            if inset != "auto":
                raise ConfigError(f"qualitative figure: inset must be (x, y, w, h), 'auto' or None, got {inset!r}")
            box = auto_inset(panels[0][1], [a for _, a in panels[2:]])
        else:
            box = _check_box(inset, height, width, f"image {stem!r}")
        composed.append((stem, [(label, compose_panel(a, box)) for label, a in panels]))
    fig = _panel_grid(composed, panel_width, title)
    return save_figure(fig, out_path, dpi=dpi)


def _panel_grid(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], panel_width: float,
                title: str | None, bottom_in: float = 0.0) -> Any:
    """A matplotlib ``Figure`` with one row of image panels per ``(stem, [(label, image), ...])``: column
    titles on the first row, stems down the left, ``title`` on top, ``bottom_in`` inches kept free below."""
    from matplotlib.figure import Figure

    ncols = len(rows[0][1])
    ratios = [panels[0][1].shape[0] / panels[0][1].shape[1] for _, panels in rows]
    head = 0.35 + (0.3 if title else 0)
    fig = Figure(figsize=(panel_width * ncols, panel_width * sum(ratios) + head + bottom_in))
    gs = fig.add_gridspec(len(rows), ncols, height_ratios=ratios, left=0.03, right=0.995,
                          bottom=max(0.005, bottom_in / fig.get_figheight()), top=1 - head / fig.get_figheight(),
                          wspace=0.02, hspace=0.02)
    for r, (stem, panels) in enumerate(rows):
        for c, (label, img) in enumerate(panels):
            ax = fig.add_subplot(gs[r, c])
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(label, fontsize=11)
            if c == 0:
                ax.set_ylabel(stem, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ------------------------------------------------------------------------------ prediction grids

#: box colours of a detection figure, by class index (tab10); segmentation uses the dataset's palette
BOX_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
               (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def draw_boxes(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray, *, width: int | None = None) -> np.ndarray:
    """``img`` as uint8 RGB with each ``xyxy`` box (pixels) outlined in its class colour (:data:`BOX_COLOURS`);
    boxes are clipped to the image."""
    out = _to_rgb(img).copy()
    height, w_img = out.shape[:2]
    t = width or max(1, round(min(height, w_img) / 160))
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    for (x0, y0, x1, y1), lab in zip(boxes, np.asarray(labels).reshape(-1)):
        xa, ya = int(np.clip(np.floor(x0), 0, w_img - 1)), int(np.clip(np.floor(y0), 0, height - 1))
        xb, yb = int(np.clip(np.ceil(x1), xa + 1, w_img)), int(np.clip(np.ceil(y1), ya + 1, height))
        _outline(out, (xa, ya, xb - xa, yb - ya), BOX_COLOURS[int(lab) % len(BOX_COLOURS)], min(t, xb - xa, yb - ya))
    return out


def overlay_mask(img: np.ndarray, seg: np.ndarray, palette: Sequence[Sequence[int]], *, alpha: float = 0.55,
                 ignore_index: int = 255) -> np.ndarray:
    """``img`` as uint8 RGB with class ids ``seg`` (``H x W``) blended in their palette colours; class 0 and
    ``ignore_index`` pixels are left as they are (background / don't care)."""
    out = _to_rgb(img).astype(np.float64)
    seg = np.asarray(seg)
    if seg.shape != out.shape[:2]:
        raise DataError(f"mask is {seg.shape[1]}x{seg.shape[0]} but the image is {out.shape[1]}x{out.shape[0]}")
    pal = np.asarray(palette, dtype=np.float64).reshape(-1, 3)
    show = (seg > 0) & (seg != ignore_index) & (seg < len(pal))
    out[show] = (1 - alpha) * out[show] + alpha * pal[seg[show]]
    return np.round(out).astype(np.uint8)


def prediction_grid(kind: str, dataset: Any, methods: Mapping[str, tuple[str | os.PathLike, Sequence[dict]]],
                    images: Sequence[str], classes: Sequence[str], out_path: str | os.PathLike, *,
                    palette: Sequence[Sequence[int]] | None = None, score_thr: float = 0.3,
                    panel_width: float = 2.6, dpi: int = 200, title: str | None = None) -> Path:
    """Write a grid of task-network predictions: one row per stem, the visible image with the ground truth
    first, then each method's fused image with its network's predictions (boxes with score >= ``score_thr``
    for ``kind="detection"``, a coloured class mask for ``"segmentation"``); a legend of the class colours.

    ``methods``: label -> ``(fused_dir, predictions)``, predictions in ``images`` order as returned by
    :func:`sagebench.tasks.downstream.engine.predict`. Returns ``out_path``."""
    from matplotlib.patches import Patch

    from sagebench.benchmark.plots import save_figure

    if kind not in ("detection", "segmentation"):
        raise ConfigError(f"prediction figure: task kind must be detection or segmentation, got {kind!r}")
    if not images or not methods:
        raise ConfigError("prediction figure: give at least one image stem and one method")
    if isinstance(dataset, (str, os.PathLike)):
        from sagebench.datasets import open_dataset

        dataset = open_dataset(dataset)
    if palette is None:
        from sagebench.tasks.downstream.classes import default_palette

        palette = default_palette(len(classes))
    rows = []
    for r, stem in enumerate(images):
        names = list(dataset.names)
        if stem not in names:
            _sample_arrays(dataset, str(stem))  # raises the error naming the dataset's images
        s = dataset[names.index(stem)]
        target = s.target or {}
        vis = to_uint8(s.vis)
        if kind == "detection":
            if "boxes" not in target:
                raise DataError(f"sample {stem!r} of {getattr(dataset, 'name', 'dataset')} has no box labels")
            panels = [("Ground truth", draw_boxes(vis, target["boxes"], target["labels"]))]
        else:
            if target.get("seg") is None:
                raise DataError(f"sample {stem!r} of {getattr(dataset, 'name', 'dataset')} has no segmentation label")
            panels = [("Ground truth", overlay_mask(vis, target["seg"], palette))]
        for label, (folder, preds) in methods.items():
            path = Path(folder) / f"{stem}.png"
            fused = read_image(path)
            if fused.shape[:2] != vis.shape[:2]:
                raise DataError(f"{path}: fused image is {fused.shape[1]}x{fused.shape[0]}, but the pair {stem!r} "
                                f"is {vis.shape[1]}x{vis.shape[0]}")
            p = preds[r]
            if kind == "detection":
                keep = np.asarray(p["scores"]) >= score_thr
                shown = draw_boxes(fused, np.asarray(p["boxes"])[keep], np.asarray(p["labels"])[keep])
                panels.append((str(label), shown))
            else:
                panels.append((str(label), overlay_mask(fused, p["seg"], palette)))
        rows.append((str(stem), panels))
    fig = _panel_grid(rows, panel_width, title, bottom_in=0.35)  # room for the legend
    if kind == "detection":
        handles = [Patch(color=np.array(BOX_COLOURS[i % len(BOX_COLOURS)]) / 255, label=c)
                   for i, c in enumerate(classes)]
        note = f"boxes with score >= {score_thr:g}"
    else:
        handles = [Patch(color=np.array(palette[i]) / 255, label=c) for i, c in enumerate(classes) if i > 0]
        note = "class masks (background not coloured)"
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=8, frameon=False,
               title=note, title_fontsize=8)
    return save_figure(fig, out_path, dpi=dpi)
