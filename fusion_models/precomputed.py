"""Published fused images as a method: ``dict(name=..., type="precomputed", root=DIR, pattern=...)``.

Papers and surveys publish fused outputs; a folder of them is a leaderboard row like any method. ``root``
holds one image per dataset stem; ``root`` may contain ``{dataset}`` (the dataset's table name) and
``{split}`` (the split being fused, empty for the test images). ``pattern`` names each file from its stem
(default ``"{stem}.*"``: any image suffix; VIFB names them ``"{stem}_SeAFusion.jpg"``). Grey or colour,
8- or 16-bit (16-bit is scaled to 8 bits by ``round(x / 257)``). A missing, unreadable or wrongly sized
file is an error listing every such file, unless ``skip_bad=True``: then those pairs are left out of the
method's cells and reported. The method's identity is the digest of the files it used; tasks that need
a model (throughput) report it as not applicable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from sagebench.errors import ConfigError, DataError
from sagebench.io import IMAGE_SUFFIXES, read_image, write_image
from sagebench.paths import check_name

TYPE = "precomputed"
_MAX_LISTED = 10


class PrecomputedFusion:
    """A folder of fused images standing in for a fusion model (see the module docstring)."""

    def __init__(self, root: str, pattern: str = "{stem}.*", skip_bad: bool = False) -> None:
        if not root:
            raise ConfigError("precomputed method: give root= (the folder of fused images)")
        if "{stem}" not in pattern:
            raise ConfigError(f"precomputed method: pattern {pattern!r} must contain {{stem}}")
        self.root, self.pattern, self.skip_bad = str(root), str(pattern), bool(skip_bad)

    def folder(self, dataset: str, split: str | None = None) -> Path:
        return Path(self.root.format(dataset=dataset, split=split or "")).expanduser()

    def _find(self, folder: Path, stem: str) -> Path | None:
        name = self.pattern.format(stem=stem)
        if name.endswith(".*"):
            base = name[:-2]
            for suffix in IMAGE_SUFFIXES:
                for cand in (folder / f"{base}{suffix}", folder / f"{base}{suffix.upper()}"):
                    if cand.is_file():
                        return cand
            return None
        p = folder / check_name(name, f"precomputed pattern {self.pattern!r}")
        return p if p.is_file() else None

    def files(self, dataset: Any, dataset_name: str, split: str | None = None
              ) -> tuple[dict[str, Path], list[tuple[str, str]]]:
        """``({stem: file}, [(file or stem, problem)])`` for every sample of ``dataset``; raises
        :class:`DataError` listing the problems unless ``skip_bad``. Size and readability are checked from
        the file headers."""
        from PIL import Image

        folder = self.folder(dataset_name, split)
        if not folder.is_dir():
            raise DataError(f"{folder}: folder of precomputed fused images not found")
        found, problems = {}, []
        for i, stem in enumerate(dataset.names):
            path = self._find(folder, stem)
            if path is None:
                problems.append((stem, f"no fused image {self.pattern.format(stem=stem)} in {folder}"))
                continue
            try:
                with Image.open(path) as im:
                    w, h = im.size
            except Exception as exc:  # PIL raises many types for a broken file
                problems.append((str(path), f"unreadable ({type(exc).__name__}: {exc})"))
                continue
            sample_paths = dataset.paths(i) if hasattr(dataset, "paths") else None
            if sample_paths is not None:
                with Image.open(sample_paths[0]) as ref:
                    want = ref.size
                if (w, h) != want:
                    problems.append((str(path), f"is {w}x{h} but the sources are {want[0]}x{want[1]} (WxH)"))
                    continue
            found[stem] = path
        if not found:
            raise DataError(f"{folder}: none of the {len(dataset.names)} pairs of {dataset_name!r} has a precomputed "
                            f"fused image ({self.pattern.format(stem=dataset.names[0]) if dataset.names else ''}...)")
        if problems and not self.skip_bad:
            lines = "\n".join(f"  {p}: {why}" for p, why in problems[:_MAX_LISTED])
            more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
            raise DataError(f"{folder}: {len(problems)} problem(s) with the precomputed fused images (pass "
                            f"skip_bad=True to leave those pairs out):\n{lines}{more}")
        return found, problems

    @staticmethod
    def digest(files: dict[str, Path]) -> str:
        """sha256 over the stems and the bytes of the files (the method's identity on a dataset)."""
        from sagebench.weights import file_digest

        h = hashlib.sha256(b"sagebench-precomputed-v1\0")
        for stem in sorted(files):
            h.update(f"{stem}\t{file_digest(files[stem])}\n".encode())
        return h.hexdigest()

    @staticmethod
    def to_8bit(path: Path) -> np.ndarray:
        arr = read_image(path)
        if arr.dtype == np.uint16:
            arr = np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
        return arr

    def write(self, files: dict[str, Path], out_dir: Path) -> None:
        """The images as 8-bit PNGs ``out_dir/<stem>.png`` (the run's fused-image folder)."""
        from sagebench.paths import inside

        out_dir.mkdir(parents=True, exist_ok=True)
        wanted = set()
        for stem, path in files.items():
            name = check_name(stem, "precomputed sample") + ".png"
            wanted.add(name)
            write_image(inside(out_dir, name, what="fused image"), self.to_8bit(path))
        for stale in out_dir.glob("*.png"):
            if stale.name not in wanted:
                inside(out_dir, stale.name, what="stale fused image").unlink()
