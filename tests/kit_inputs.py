"""The (IR, visible, fused) triples the MATLAB-kit reference values in ``tests/data/kit_references`` were
computed on: crops and one full image of TNO from ``../shared``, fused by three fixed rules. No tests here.

``python tests/kit_inputs.py OUT`` writes them as 8-bit grey PNGs ``OUT/<name>_{ir,vis,fused}.png`` for
``run_kits.m`` (see ``tests/data/kit_references/README.md``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

#: name, TNO stem, crop (y, x, h, w) or None for the whole image
SCENES = (("t01", "01.png", (200, 300, 96, 128)), ("t05", "05.png", (150, 200, 96, 128)),
          ("t06", "06.png", (100, 180, 96, 128)), ("t07", "07.png", None), ("t19", "19.png", None))


def fuse(rule: str, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """uint8 fused image by ``rule``: ``avg`` (mean, half up), ``max``, ``w73`` (0.7 IR + 0.3 visible)."""
    a, b = ir.astype(np.float64), vis.astype(np.float64)
    out = {"avg": np.floor((a + b) / 2 + 0.5), "max": np.maximum(a, b), "w73": np.floor(0.7 * a + 0.3 * b + 0.5)}[rule]
    return np.clip(out, 0, 255).astype(np.uint8)


def triples(shared: Path) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``[(name, ir, vis, fused)]`` uint8 ``H x W`` arrays (TNO stores grey as R = G = B; channel 0)."""
    out = []
    for name, stem, crop in SCENES:
        ir = np.asarray(Image.open(shared / "data" / "TNO" / "ir" / stem))[..., 0]
        vis = np.asarray(Image.open(shared / "data" / "TNO" / "vis" / stem))[..., 0]
        if crop is not None:
            y, x, h, w = crop
            ir, vis = ir[y:y + h, x:x + w], vis[y:y + h, x:x + w]
        for rule in ("avg", "max", "w73"):
            out.append((f"{name}_{rule}", ir.copy(), vis.copy(), fuse(rule, ir, vis)))
    return out


if __name__ == "__main__":
    shared, dest = Path(sys.argv[1]), Path(sys.argv[2])
    dest.mkdir(parents=True, exist_ok=True)
    for name, ir, vis, fused in triples(shared):
        for part, img in (("ir", ir), ("vis", vis), ("fused", fused)):
            Image.fromarray(img).save(dest / f"{name}_{part}.png")
        print(name, ir.shape)
