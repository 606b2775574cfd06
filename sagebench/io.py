"""Reading and writing images, and atomic file writes.

Images are read into numpy arrays of their stored bit depth (uint8 or uint16) and converted to float
tensors in [0, 1] by :func:`to_tensor`. Writes go to a temporary file in the target folder and are moved
into place with :func:`os.replace`, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from sagebench.errors import DataError, WriteError

if TYPE_CHECKING:  # torch is imported where tensors are made: reading results needs no torch
    import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: str | os.PathLike, *, keep_palette: bool = False) -> np.ndarray:
    """Read an image file as ``H x W`` (grey) or ``H x W x 3`` (RGB) array, dtype uint8 or uint16.

    Alpha channels are dropped. 16-bit greyscale PNG/TIFF stay uint16. Palette images are converted to
    RGB unless ``keep_palette`` (then the palette indices are returned, as class-id label maps need).
    Raises :class:`DataError` naming the file when it is missing, unreadable or of an unsupported mode.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im if keep_palette else im.convert("RGB")
            elif mode in ("RGBA", "LA", "CMYK", "YCbCr"):
                im = im.convert("RGB" if mode != "LA" else "L")
            elif mode == "1":
                im = im.convert("L")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: cannot read image ({exc})") from exc
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype in (np.int32, np.int16, np.uint32):  # PIL 'I' / 'I;16' modes
        if arr.min() < 0 or arr.max() > 65535:
            raise DataError(f"{path}: integer image with values outside 0..65535 is not supported")
        arr = arr.astype(np.uint16)
    if arr.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path}: unsupported pixel type {arr.dtype} (mode {mode}); expected 8- or 16-bit")
    if arr.ndim == 3 and arr.shape[2] not in (1, 3):
        raise DataError(f"{path}: unsupported channel count {arr.shape[2]}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


def to_gray_if_equal(arr: np.ndarray) -> np.ndarray:
    """Return an ``H x W`` array when an RGB array has three identical channels, else the input."""
    if arr.ndim == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
        return arr[..., 0]
    return arr


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8/uint16 ``H x W [x 3]`` array -> float32 tensor ``C x H x W`` in [0, 1]."""
    import torch

    scale = 255.0 if arr.dtype == np.uint8 else 65535.0
    t = torch.from_numpy(arr.astype(np.float32) / np.float32(scale))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Float tensor ``C x H x W`` in [0, 1] -> uint8 ``H x W [x 3]`` array, ``floor(255 x + 0.5)`` clamped.

    This is the rounding of ``torchvision.utils.save_image``, which most IVIF code uses to save results.
    """
    import torch

    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"to_uint8: expected C x H x W with C in (1, 3), got {tuple(img.shape)}")
    arr = (img.detach().float().cpu() * 255.0 + 0.5).clamp(0, 255).to(torch.uint8)
    arr = arr.permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(old)
    return old


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = 0o666) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically.

    The file gets permissions ``mode & ~umask`` (0644 for ``mode=0o666`` under umask 022), like a file
    made with ``open()``; ``mode=0o444`` makes it read-only. An ``OSError`` while writing (disk full,
    permission denied) becomes :class:`~sagebench.errors.WriteError` naming ``path``; the temporary
    file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode & ~current_umask())
        os.replace(tmp_path, path)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_image(path: str | os.PathLike, img: torch.Tensor | np.ndarray) -> Path:
    """Write an 8-bit image atomically. Tensors are ``C x H x W`` floats in [0, 1] (see :func:`to_uint8`)."""
    import torch

    arr = to_uint8(img) if isinstance(img, torch.Tensor) else np.asarray(img)
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(
        path.suffix.lower(), "PNG")
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format=fmt)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (sorted keys, 2-space indent)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
