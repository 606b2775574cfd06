"""Weights manifest and download cache.

Every released checkpoint the suite uses is described by a :class:`WeightSpec` (upstream URL, sha256,
size, licence). :func:`get_weights` resolves a name to a verified local file:

1. a local folder given by the caller, by :func:`use_weights_dir` (``--weights-dir``) or by the
   ``SAGEBENCH_WEIGHTS_DIR`` environment variable (``<dir>/<relpath>`` or ``<dir>/<filename>``);
2. the cache ``$SAGEBENCH_HOME/weights/<name>/<filename>`` (default ``~/.cache/sagebench``);
3. a download from the upstream URL into the cache: progress bar, sha256 check, atomic rename.

``SAGEBENCH_OFFLINE=1`` forbids downloads. A wrong checksum or an unreachable URL raises
:class:`~sagebench.errors.WeightsError` saying what to do.
Nothing ever falls back to random weights.

Where upstream publishes no sha256 (``sha256=""``), the first file used is checked against the upstream
git blob id when the entry has one (``git_blob``), its sha256 is **pinned** in
``$SAGEBENCH_HOME/weights/pins.json`` and reported with a :class:`WeightsPinned` warning; every later use
must match the pin (delete the entry there to accept another file).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sagebench.errors import WeightsError

ENV_HOME = "SAGEBENCH_HOME"
ENV_WEIGHTS_DIR = "SAGEBENCH_WEIGHTS_DIR"
ENV_OFFLINE = "SAGEBENCH_OFFLINE"


@dataclass(frozen=True)
class WeightSpec:
    """One downloadable checkpoint.

    Attributes:
        name: manifest key, e.g. ``"sage_student_official"``.
        url: upstream download URL (the authors' release).
        sha256: hex digest of the file.
        size: size in bytes.
        licence: SPDX id or a short statement (``"none stated upstream"``).
        relpath: path of the file inside a local weights folder (``SAGEBENCH_WEIGHTS_DIR``).
        redistributable: False when the licence does not allow mirroring; the file is then only ever
            fetched from ``url`` by the user.
        source: repository, commit and path of the upstream file.
        git_blob: the upstream git blob id (sha1 of ``"blob <size>\\0" + bytes``), checked before pinning when no
            sha256 is published.
        archive_member: for a zip release, the member that is the checkpoint: :func:`get_weights` verifies
            the archive, then returns the member extracted beside the cached archive.
    """

    name: str
    url: str
    sha256: str
    size: int
    licence: str
    relpath: str
    redistributable: bool = True
    source: str = ""
    notes: str = ""
    aliases: tuple[str, ...] = field(default=())
    git_blob: str = ""
    archive_member: str = ""

    @property
    def pinned_on_first_use(self) -> bool:
        """True when upstream publishes no sha256: the first file used is pinned (see the module docstring)."""
        return not self.sha256

    @property
    def filename(self) -> str:
        return Path(self.relpath).name


MANIFEST: dict[str, WeightSpec] = {}


def register_weights(spec: WeightSpec) -> WeightSpec:
    """Add ``spec`` to the manifest (a name may be registered once)."""
    if spec.name in MANIFEST and MANIFEST[spec.name] != spec:
        raise ValueError(f"weights {spec.name!r} are already registered with a different spec")
    MANIFEST[spec.name] = spec
    return spec


register_weights(WeightSpec(
    name="sage_student_official",
    url="https://github.com/RollingPlain/SAGE_IVIF/raw/main/checkpoints/checkpoints.pt",
    sha256="ecfde477ca4cd65401f207d5dc91ce6c475a49891d768dbdb7a66366255ee836",
    size=579_020,
    licence="MIT",
    relpath="sage_student_official.pt",
    source="RollingPlain/SAGE_IVIF checkpoints/checkpoints.pt (student state_dict, tensors saved on cuda:0)",
))


# Segment Anything (Meta, Apache-2.0) for SAGE's priors. Meta publishes no digests; these sha256 values and
# sizes agree across several independent public download manifests, and every copy is checked against them.
for _type, _file, _sha, _size in (
        ("vit_b", "sam_vit_b_01ec64.pth", "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
         375_042_383),
        ("vit_l", "sam_vit_l_0b3195.pth", "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
         1_249_524_607),
        ("vit_h", "sam_vit_h_4b8939.pth", "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
         2_564_550_879)):
    register_weights(WeightSpec(
        name=f"sam_{_type}",
        url=f"https://dl.fbaipublicfiles.com/segment_anything/{_file}",
        sha256=_sha,
        size=_size,
        licence="Apache-2.0",
        relpath=f"sam/{_file}",
        source="facebookresearch/segment-anything README, 'Model Checkpoints'",
        notes="SAGE uses vit_b" if _type == "vit_b" else "",
    ))


def register_rows(*rows: tuple) -> tuple[WeightSpec, ...]:
    """Register manifest entries written as rows ``(name, url, sha256, size, relpath, licence, source[, extra])``
    (``extra``: a dict of the other :class:`WeightSpec` fields, e.g. ``redistributable=False``); returns
    the specs. A model family keeps its rows beside its architecture, as timm keeps pretrained entries."""
    specs = []
    for row in rows:
        name, url, sha256, size, relpath, licence, source, *extra = row
        specs.append(register_weights(WeightSpec(name=name, url=url, sha256=sha256, size=size, licence=licence,
                                                 relpath=relpath, source=source, **(extra[0] if extra else {}))))
    return tuple(specs)


def cache_home() -> Path:
    """Root of the sagebench cache: ``$SAGEBENCH_HOME`` or ``$XDG_CACHE_HOME/sagebench`` or ``~/.cache/sagebench``."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sagebench"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def get_spec(name: str) -> WeightSpec:
    """Manifest entry by name or alias; a clear error lists the known names otherwise."""
    if name in MANIFEST:
        return MANIFEST[name]
    for spec in MANIFEST.values():
        if name in spec.aliases:
            return spec
    raise WeightsError(f"unknown weights {name!r}; known: {', '.join(sorted(MANIFEST)) or '(none)'}")


#: sha256 of files hashed in this process, by (resolved path, size, mtime_ns): a file that changes size or
#: modification time is hashed again.
_HASHED: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of ``path``, memoised per process on (resolved path, size, mtime); a changed file is re-hashed."""
    from sagebench.deps import record_file

    p = Path(path)
    st = p.stat()
    record_file(p)  # a later run's no-change check looks at this file's metadata
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = sha256_file(p)
    return _HASHED[key]


class WeightsPinned(UserWarning):
    """A checkpoint without a published sha256 was pinned on first use (the message gives the hash)."""


def pins_path() -> Path:
    return cache_home() / "weights" / "pins.json"


def _read_pins() -> dict[str, str]:
    import json

    p = pins_path()
    if not p.is_file():
        return {}
    try:
        pins = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{p}: unreadable weights pin file ({exc}); fix or delete it") from exc
    if not isinstance(pins, dict):
        raise WeightsError(f"{p}: not a weights pin file (expected a JSON object); fix or delete it")
    return pins


def pinned_sha256(spec: WeightSpec) -> str | None:
    """The sha256 that ``spec`` needs: the published one, or the one pinned on first use (None: not yet)."""
    return spec.sha256 or _read_pins().get(spec.name)


def _git_blob_id(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's object id, not security
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _pin(path: Path, spec: WeightSpec, origin: str) -> Path:
    """Verify a file of an entry without a published sha256 against its pin, or pin it (see module docs)."""
    import json
    import warnings

    digest = file_digest(path)
    pinned = _read_pins().get(spec.name)
    if pinned is not None:
        if digest != pinned:
            raise WeightsError(
                f"{path}: weights {spec.name!r} ({origin}) have sha256 {digest}, but {pinned} was pinned on first "
                f"use (no sha256 is published upstream). A different file; delete it, or remove {spec.name!r} from "
                f"{pins_path()} to accept it.")
        return path
    if spec.git_blob and _git_blob_id(path) != spec.git_blob:
        raise WeightsError(
            f"{path}: weights {spec.name!r} ({origin}) are not the upstream file: git blob id "
            f"{_git_blob_id(path)}, expected {spec.git_blob}; delete it and fetch it again from {spec.url}.")
    from sagebench.io import atomic_path

    pins = _read_pins()
    pins[spec.name] = digest
    with atomic_path(pins_path()) as tmp:
        tmp.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
    checked = (f", git blob {spec.git_blob} checked" if spec.git_blob
               else "; no upstream hash is known to check it against")
    warnings.warn(f"weights {spec.name!r}: no sha256 is published upstream; pinned sha256 {digest} on first use "
                  f"({path}{checked}; stored in {pins_path()})", WeightsPinned, stacklevel=3)
    return path


def _verify(path: Path, spec: WeightSpec, origin: str) -> Path:
    """Check ``path`` against ``spec``'s sha256 (a file already checked in this process and unchanged since,
    by size and mtime, is not hashed again: SAM vit_h is 2.5 GB)."""
    if spec.pinned_on_first_use:
        return _pin(path, spec, origin)
    st = path.stat()
    if spec.size and st.st_size != spec.size:
        raise WeightsError(
            f"{path}: weights {spec.name!r} ({origin}) have {st.st_size} bytes, expected {spec.size}. The file is "
            f"truncated, corrupt or a different release; delete it and fetch it again from {spec.url}.")
    digest = file_digest(path)
    if digest != spec.sha256:
        raise WeightsError(
            f"{path}: sha256 mismatch for weights {spec.name!r} ({origin}): got {digest}, expected "
            f"{spec.sha256} (size {st.st_size}, expected {spec.size}). The file is corrupt or a different "
            f"release; delete it and fetch it again from {spec.url}.")
    return path


#: Local weights folder of the current context (``--weights-dir``): see :func:`use_weights_dir`.
_WEIGHTS_DIR: contextvars.ContextVar[str | None] = contextvars.ContextVar("sagebench_weights_dir", default=None)


@contextlib.contextmanager
def use_weights_dir(path: str | os.PathLike | None) -> Iterator[None]:
    """Within the block, look for local weights in ``path`` first (after a ``weights_dir`` passed to a
    call, before ``$SAGEBENCH_WEIGHTS_DIR``). A scoped setting: the process environment is not touched,
    and ``None`` changes nothing."""
    token = _WEIGHTS_DIR.set(str(path) if path else _WEIGHTS_DIR.get())
    try:
        yield
    finally:
        _WEIGHTS_DIR.reset(token)


def local_candidates(spec: WeightSpec, weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Paths where a local copy of ``spec`` is looked for: the caller's ``weights_dir``, then the folder of
    :func:`use_weights_dir`, then ``$SAGEBENCH_WEIGHTS_DIR``."""
    dirs = [d for d in (weights_dir, _WEIGHTS_DIR.get(), os.environ.get(ENV_WEIGHTS_DIR)) if d]
    out: list[Path] = []
    for d in dirs:
        d = Path(d).expanduser()
        out += [d / spec.relpath, d / spec.filename, d / spec.name / spec.filename]
    return out


def cached_path(spec: WeightSpec) -> Path:
    """Where the download cache keeps ``spec``."""
    return cache_home() / "weights" / spec.name / spec.filename


def weight_status(name: str, weights_dir: str | os.PathLike | None = None) -> str:
    """``"local"``, ``"cached"`` or ``"not downloaded"`` (no hashing; for listings)."""
    spec = get_spec(name)
    if any(p.is_file() for p in local_candidates(spec, weights_dir)):
        return "local"
    if cached_path(spec).is_file():
        return "cached"
    return "not downloaded"


def get_weights(name: str, *, weights_dir: str | os.PathLike | None = None, download: bool | None = None,
                progress: bool = True) -> Path:
    """Resolve weights ``name`` to a sha256-verified local file (see module docstring for the order).

    ``download=None`` allows downloading unless ``$SAGEBENCH_OFFLINE`` is set to a non-empty value.
    """
    spec = get_spec(name)
    if download is None:
        download = not os.environ.get(ENV_OFFLINE)
    for cand in local_candidates(spec, weights_dir):
        if cand.is_file():
            return _member(_verify(cand, spec, f"local copy via {ENV_WEIGHTS_DIR} / --weights-dir"), spec)
    target = cached_path(spec)
    if target.is_file():
        return _member(_verify(target, spec, "download cache"), spec)
    if not download:
        raise WeightsError(
            f"weights {spec.name!r} are not available locally and downloads are disabled "
            f"(${ENV_OFFLINE} or download=False); download {spec.url} and point {ENV_WEIGHTS_DIR} "
            f"(or --weights-dir) at its folder.")
    return _member(_download(spec, target, progress=progress), spec)


def _member(path: Path, spec: WeightSpec) -> Path:
    """``path`` itself, or for a zip release its verified archive's ``archive_member``, extracted (atomically)
    into the cache beside the archive's entry; a missing member or a broken archive is a WeightsError."""
    if not spec.archive_member:
        return path
    import zipfile

    from sagebench.io import atomic_path
    from sagebench.paths import inside

    folder = cached_path(spec).parent / "extracted"
    out = inside(folder, spec.archive_member, what=f"member of weights {spec.name!r}")
    stamp = out.with_name(out.name + ".from")
    source = f"{file_digest(path)}\n"
    if out.is_file() and stamp.is_file() and stamp.read_text() == source:
        return out
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                data = zf.read(spec.archive_member)
            except KeyError:
                names = ", ".join(zf.namelist()[:8])
                raise WeightsError(f"{path}: archive of weights {spec.name!r} has no {spec.archive_member!r} "
                                   f"(it has {names})") from None
    except zipfile.BadZipFile as exc:
        raise WeightsError(f"{path}: weights {spec.name!r} are not a readable zip archive ({exc})") from exc
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    with atomic_path(stamp) as tmp:
        tmp.write_text(source)
    return out


def _download(spec: WeightSpec, target: Path, progress: bool = True) -> Path:
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=target.parent)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(spec.url, headers={"User-Agent": "sagebench"})
            try:
                resp = urllib.request.urlopen(req, timeout=60)
            except (urllib.error.URLError, OSError) as exc:
                raise WeightsError(
                    f"cannot download weights {spec.name!r} from {spec.url}: {exc}. Without network, "
                    f"fetch the file elsewhere and set {ENV_WEIGHTS_DIR} (or --weights-dir) to its folder, "
                    f"or copy it to {target}.") from exc
            with resp, tqdm(total=int(resp.headers.get("Content-Length") or spec.size), unit="B",
                            unit_scale=True, desc=f"download {spec.name}", disable=not progress) as bar:
                shutil.copyfileobj(_ProgressReader(resp, bar), out)
        _verify(tmp_path, spec, f"downloaded from {spec.url}")
        from sagebench.io import current_umask

        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target


class _ProgressReader:
    def __init__(self, raw, bar) -> None:
        self.raw, self.bar = raw, bar

    def read(self, n: int = -1) -> bytes:
        block = self.raw.read(n)
        self.bar.update(len(block))
        return block


# ------------------------------------------------------------------------------------ loading
def resolve_weights(weights: str | os.PathLike, *, weights_dir: str | os.PathLike | None = None
                    ) -> tuple[Path, str, str]:
    """A manifest name (or alias) or a file path -> ``(path, name, sha256)``.

    A manifest entry is resolved and verified by :func:`get_weights` (``name`` is the entry's name, so an
    alias gives the same identity); a path is used as it is and hashed (again whenever its size or
    modification time change). Raises :class:`WeightsError` when it is neither.
    """
    text = str(weights)
    try:
        spec = get_spec(text)
    except WeightsError:
        spec = None
    if spec is not None:
        from sagebench.deps import record_file

        path = get_weights(spec.name, weights_dir=weights_dir)
        record_file(path)
        return path, spec.name, spec.sha256 or pinned_sha256(spec) or file_digest(path)
    path = Path(text).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(MANIFEST))
        raise WeightsError(f"{path}: checkpoint not found" + ("" if path.exists() else
                           f" (and {text!r} is not a manifest name; known: {known})"))
    return path, text, file_digest(path)


def load_checkpoint(weights: str | os.PathLike, *, weights_dir: str | os.PathLike | None = None,
                    what: str = "checkpoint") -> tuple[object, Path, str, str]:
    """Resolve (:func:`resolve_weights`) and read a checkpoint with ``torch.load(weights_only=True,
    map_location='cpu')``: the one place sagebench reads weights. Returns ``(object, path, name, sha256)``.

    A truncated, corrupt or non-PyTorch file (or one that needs unsafe unpickling) is a
    :class:`WeightsError` naming the file, never a traceback.
    """
    import torch

    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "").strip() not in ("", "0"):
        raise WeightsError("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: torch would then unpickle arbitrary objects "
                           "despite weights_only=True, so sagebench loads no checkpoint; unset it")
    path, name, sha = resolve_weights(weights, weights_dir=weights_dir)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors all mean "not a usable file"
        raise WeightsError(f"{path}: cannot read {what}: {_load_problem(exc)}") from exc
    return obj, path, name, sha


def _load_problem(exc: BaseException) -> str:
    """torch.load's multi-paragraph errors as one short reason."""
    text = str(exc)
    if "zip archive" in text or "central directory" in text:
        return "truncated or corrupt file (not a complete PyTorch zip archive)"
    if "WeightsUnpickler error" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().split("\n\n")[0].strip()
        return (f"not a PyTorch checkpoint, or one that needs unsafe unpickling (weights_only=True refused it: "
                f"{detail[:120]})")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def load_state_into(module, state: object, *, source: str | os.PathLike, strict: bool = True) -> tuple[list, list]:
    """``module.load_state_dict(state, strict=strict)`` with a one-line :class:`WeightsError` for a
    checkpoint of another architecture (missing/unexpected keys, wrong shapes) or a non-dict."""
    if not isinstance(state, dict):
        raise WeightsError(f"{source}: not a state_dict (got {type(state).__name__}); is it the right file?")
    name = type(module).__name__
    own = module.state_dict()
    shapes = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
              if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)]
    if shapes:
        raise WeightsError(f"{source}: does not match {name} (another architecture or release?): {len(shapes)} "
                           f"shape mismatches ({'; '.join(shapes[:2])})")
    try:  # torch decides what is missing (it accepts old BatchNorm files without num_batches_tracked)
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise WeightsError(f"{source}: does not match {name}: {lines[-1][:200] if lines else exc}") from exc
    if strict and (missing or unexpected):
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                parts.append(f"{len(keys)} {what} keys ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
        raise WeightsError(f"{source}: does not match {name} (another architecture or release?): {'; '.join(parts)}")
    return missing, unexpected
