"""What a number is tied to: the identity of fused images and of result cells.

A **method identity** decides a method's fused pixels: its config (type and arguments, not its display
name), the sha256 of the weights it actually loaded (a ``weights=PATH`` is hashed again whenever the
file's size or modification time change), the preprocessing (colour quantisation, precision,
channels_last, device type, PNG format) and the code: sagebench's version, a digest of the sources that
produce fused images (``sagebench/`` core and ``fusion_models/``), the versions of the numeric
libraries, and, for a class defined outside the package (a user's method), a digest of its source file.

An **input identity** is a digest of every pair actually used (after ``limit`` and splits): stems and
content hashes (file bytes, or generator parameters for synthetic scenes) plus the label files.

A **cell identity** adds the dataset, method and task names and configs, the seed, the device type and
the digest of the task and runner sources. Equal identities mean equal results; anything that can change
a result is in it, and nothing else (leaderboard, regression-gate and CLI code are not).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from importlib import metadata
from pathlib import Path
from typing import Any

#: Bump when the way fused images are produced or stored changes (invalidates every cached image).
FUSED_FORMAT = "png8-floor(255x+0.5)/2"
#: Libraries whose version can change a number.
LIBRARIES = ("torch", "torchvision", "numpy", "scipy", "PyWavelets", "pillow", "mmengine", "mmcv", "mmdet",
             "mmsegmentation", "segment-anything", "pycocotools")
#: Source files, relative to the installed ``sagebench`` sub-packages, that never change a result.
_PRESENTATION = {"benchmark": ("leaderboard.py", "plots.py", "figures.py", "regress.py", "cli.py", "gpu_report.py",
                               "commands", "templates")}


def _package_dirs() -> dict[str, Path]:
    import sagebench
    from sagebench import benchmark, fusion_models, tasks

    return {"core": Path(sagebench.__file__).parent, "fusion_models": Path(fusion_models.__file__).parent,
            "tasks": Path(tasks.__file__).parent, "benchmark": Path(benchmark.__file__).parent}


def _files_of(part: str, root: Path) -> list[Path]:
    skip = _PRESENTATION.get(part, ())
    # in a wheel the other parts are folders inside the core's (sagebench/fusion_models/ ...): not ours
    nested = [d for k, d in _package_dirs().items() if k != part and root in d.parents]
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts or p.suffix in (".pyc", ".pyo"):
            continue
        if p.relative_to(root).parts[0] in skip or any(d in p.parents for d in nested):
            continue
        out.append(p)
    return out


@functools.cache
def source_digest(*parts: str) -> str:
    """sha256 over the installed source files of the named package parts (``core``, ``fusion_models``,
    ``tasks``, ``benchmark``), with their relative paths. Computed once per process."""
    h = hashlib.sha256()
    dirs = _package_dirs()
    for part in parts:
        root = dirs[part]
        for p in _files_of(part, root):
            h.update(f"{part}/{p.relative_to(root).as_posix()}\0".encode())
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@functools.cache
def library_versions() -> dict[str, str | None]:
    """Installed versions of :data:`LIBRARIES` (None where absent)."""
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def code_fingerprint(*parts: str) -> dict[str, Any]:
    """``{"sagebench": version, "source": digest of parts, "libraries": {...}}``."""
    from sagebench import __version__

    return {"sagebench": __version__, "parts": list(parts), "source": source_digest(*parts),
            "libraries": library_versions()}


def _inside_package(path: Path) -> bool:
    return any(d == path or d in path.parents for d in _package_dirs().values())


def external_sources(obj: Any) -> dict[str, str]:
    """sha256 of the source file of every class in ``type(obj)``'s MRO, and of its sub-modules' classes,
    that is defined outside the sagebench package (a user's method, also one wrapped in
    ``ModuleAdapter``), keyed by ``module.QualName``. Empty for built-in methods."""
    from sagebench.weights import file_digest

    out: dict[str, str] = {}
    classes = list(type(obj).__mro__)
    modules = getattr(obj, "modules", None)
    if callable(modules):  # a wrapped or composed user module: its classes' sources count too
        classes += [c for m in modules() for c in type(m).__mro__]
    for cls in dict.fromkeys(classes):
        if cls.__module__ in ("builtins",) or cls.__module__.startswith(("torch", "mmengine")):
            continue
        try:
            src = inspect.getsourcefile(cls)
        except TypeError:
            src = None
        if not src:
            continue
        path = Path(src).resolve()
        if path.is_file() and not _inside_package(path):
            out[f"{cls.__module__}.{cls.__qualname__}"] = file_digest(path)
    return out


def method_identity(method_cfg: dict[str, Any], model: Any) -> dict[str, Any]:
    """Everything that decides a method's fused pixels (see module docstring)."""
    cfg = {k: v for k, v in method_cfg.items() if k != "name"}
    dtype = getattr(model, "compute_dtype", None)
    return {
        "config": cfg,
        "weights_sha256": getattr(model, "weights_sha256", None),
        "preprocessing": {
            "quantize_colour": bool(getattr(model, "quantize_colour", False)),
            "precision": str(dtype).removeprefix("torch.") if dtype is not None else None,
            "channels_last": bool(getattr(model, "channels_last", False)),
            "device_type": str(model.device.type) if hasattr(model, "device") else "cpu",
        },
        "format": FUSED_FORMAT,
        "code": code_fingerprint("core", "fusion_models"),
        "external_sources": external_sources(model),
    }


def label_digest(dataset: Any, index: int) -> str | None:
    """Digest of sample ``index``'s labels, where the dataset can say (folder and synthetic datasets)."""
    fn = getattr(dataset, "label_hash", None)
    return fn(index) if callable(fn) else None


def input_identity(dataset: Any) -> dict[str, Any]:
    """``{"n", "digest"}``: a digest over every used pair's stem, content hash and label digest, plus the
    class names (reads every file once; see module docstring)."""
    h = hashlib.sha256()
    for i, name in enumerate(dataset.names):
        h.update(f"{name}\t{dataset.content_hash(i)}\t{label_digest(dataset, i)}\n".encode())
    for attr in ("det_classes", "seg_classes"):
        h.update(f"{attr}={getattr(dataset, attr, None)!r}\n".encode())
    return {"n": len(dataset.names), "digest": h.hexdigest()}
