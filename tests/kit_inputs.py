"""The (IR, visible, fused) triples the MATLAB-kit reference values in ``tests/data/kit_references`` were
computed on: crops and one full image of TNO from ``../shared``, fused by three fixed rules. No tests here.

``python tests/kit_inputs.py SHARED OUT`` writes them as 8-bit PNGs ``OUT/<name>_{ir,vis,fused}.png`` for
``run_kits.m`` (see ``tests/data/kit_references/README.md``); ``--colour`` writes the colour triples.
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


#: colour triples: VIFB scene, crop (y, x, h, w) of its visible / IR images and of SeAFusion's published output
COLOUR_SCENES = (("carLight", (100, 150, 96, 128)), ("fight", (120, 200, 96, 128)))


def colour_triples(shared: Path) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``[(name, ir, vis, fused)]`` uint8 arrays, colour (H x W x 3) where the source is: crops of VIFB's
    carLight and fight with SeAFusion's published colour output (``c_<scene>``), and the same with that
    output turned grey by MATLAB's rgb2gray (``g_<scene>``: a grey fused image against a colour visible)."""
    out = []
    for scene, box in COLOUR_SCENES:
        def crop(path: Path, box: tuple[int, int, int, int] = box) -> np.ndarray:
            y, x, h, w = box
            return np.asarray(Image.open(path).convert("RGB"))[y:y + h, x:x + w].copy()

        ir = crop(shared / "reference" / "inputs" / "vifb" / "ir" / f"{scene}.jpg")
        vis = crop(shared / "reference" / "inputs" / "vifb" / "vis" / f"{scene}.jpg")
        fused = crop(shared / "reference" / "seafusion" / "vifb" / f"{scene}_SeAFusion.jpg")
        grey = np.floor(fused.astype(float) @ [0.298936021293775, 0.587043074451121, 0.114020904255103] + 0.5)
        out.append((f"c_{scene}", ir, vis, fused))
        out.append((f"g_{scene}", ir, vis, np.clip(grey, 0, 255).astype(np.uint8)))
    return out


if __name__ == "__main__":
    shared, dest = Path(sys.argv[1]), Path(sys.argv[2])
    dest.mkdir(parents=True, exist_ok=True)
    chosen = colour_triples(shared) if "--colour" in sys.argv else triples(shared)
    for name, ir, vis, fused in chosen:
        for part, img in (("ir", ir), ("vis", vis), ("fused", fused)):
            Image.fromarray(img).save(dest / f"{name}_{part}.png")
        print(name, ir.shape)
