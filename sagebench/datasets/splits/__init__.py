"""Versioned train/val/test split files for the downstream tasks, with checksums and the rules that made them.

Shipped files (this folder, listed with sha256 in ``MANIFEST.tsv``):

* ``m3fd_tardal_v1.json``: the train/val/test split carried by the M3FD COCO files of
  ganlumomo/voc2coco (``m3fd-{train,val,test}.json``; TarDAL's meta lists): 2,727 / 633 / 840 images.
  Made by :func:`make_m3fd_tardal` from those three files.
* ``m3fd_scene_disjoint_v1.json``: a split in which consecutive frames of one recording never land in
  different splits except across a dropped guard band (:func:`make_m3fd_scene_disjoint`). M3FD does not
  publish sequence ids; the image ids follow capture order and the COCO ``scene`` tag (1 day, 2 night,
  3 overcast, 4 challenge, 0 none) is constant over runs of consecutive ids, so runs of equal ``scene``
  are cut into blocks of at most ``block`` ids, blocks are shuffled per scene tag with a fixed seed and
  dealt to train/val/test to reach 80/10/10 % of the images of each tag, and ``guard`` ids on each
  side of a boundary between blocks of different splits are left out (listed under ``excluded``).

* ``msrs_official_v1.json``: the MSRS train/test split (1,083 / 361 pairs) as listed by the MSRS
  authors in ``datasets/MSRS/split/{train,test}.txt`` of Linfeng-Tang/SeAFusion (:data:`MSRS_LISTS`).
  Made by :func:`make_msrs_official` from those two files; the lists agree with the ``train/ir`` and
  ``test/ir`` folders of the official Linfeng-Tang/MSRS release (see ``rule`` in the file).

Not shipped, because no public file list could be found: FMB 1,220/280 is defined by the official
release's ``train/`` and ``test/`` folders. :func:`split_from_folders` writes the same kind of versioned
file from a local copy of a dataset and checks the expected counts (:data:`EXPECTED_COUNTS`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sagebench.errors import DataError

HERE = Path(__file__).resolve().parent
SPLIT_VERSION = 1
EXPECTED_COUNTS = {"msrs": {"train": 1083, "test": 361}, "fmb": {"train": 1220, "test": 280},
                   "llvip": {"train": 12025, "test": 3463},
                   "m3fd_tardal": {"train": 2727, "val": 633, "test": 840}}
M3FD_COCO_FILES = ("m3fd-train.json", "m3fd-val.json", "m3fd-test.json")
#: Where the MSRS lists come from (repository@commit and folder of ``train.txt`` / ``test.txt``).
MSRS_LISTS = "Linfeng-Tang/SeAFusion@b4102dfa9602f5ce63bcf7dd265dc12244468210 datasets/MSRS/split"
MSRS_RULE = (
    f"stems listed in {MSRS_LISTS}/{{train,test}}.txt (the MSRS authors' lists), unchanged. Cross-checked "
    "against the official release Linfeng-Tang/MSRS@2052589d3a714d0285c8792e24d2db290d84b6ea: its train/ir "
    "and test/ir folders hold 1083 and 361 files and their first 100 names (sorted) equal the lists'; "
    "the train list equals the 1083 file names of tianzhiya/SPGFusion@21f2743ff0e44b4d039a560d49a61b41e24310d2 "
    "MSRS/Infrared/train/MSRS, a copy of the MSRS training folder")


def _canonical(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def read_manifest() -> dict[str, str]:
    """``file name -> sha256`` from ``MANIFEST.tsv``."""
    out = {}
    for line in (HERE / "MANIFEST.tsv").read_text().splitlines()[1:]:
        if line.strip():
            name, sha = line.split("\t")[:2]
            out[name] = sha
    return out


def list_splits() -> list[str]:
    """Names of the shipped split files (without ``.json``)."""
    return sorted(n.removesuffix(".json") for n in read_manifest())


def load_split(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """Load a split file by shipped name (checked against ``MANIFEST.tsv``) or by path.

    Returns the JSON object: ``name``, ``version``, ``dataset``, ``rule``, ``sources``, ``splits``
    (part -> sorted list of image stems) and ``counts``. A shipped file whose sha256 differs from the
    manifest raises :class:`DataError`.
    """
    p = Path(name_or_path)
    shipped = None
    if not p.suffix and not p.exists():
        shipped = f"{name_or_path}.json"
        p = HERE / shipped
        if shipped not in read_manifest():
            raise DataError(f"unknown split {name_or_path!r}; shipped: {', '.join(list_splits())}")
    if not p.is_file():
        raise DataError(f"{p}: split file not found")
    from sagebench.deps import record_file

    record_file(p)
    data = p.read_bytes()
    if shipped is not None and sha256_bytes(data) != read_manifest()[shipped]:
        raise DataError(f"{p}: sha256 {sha256_bytes(data)} differs from MANIFEST.tsv; the file was modified")
    try:
        obj = json.loads(data)
        parts = obj["splits"]
        assert isinstance(parts, dict) and all(isinstance(v, list) for v in parts.values())
    except Exception as e:
        raise DataError(f"{p}: not a sagebench split file ({e})") from e
    seen: dict[str, str] = {}
    for part, names in parts.items():
        for n in names:
            if n in seen:
                raise DataError(f"{p}: {n!r} is in both {seen[n]!r} and {part!r}")
            seen[n] = part
    return obj


def _split_obj(name: str, dataset: str, parts: Mapping[str, Iterable[str]], rule: str,
               sources: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    splits = {k: sorted(v) for k, v in parts.items()}
    return {"name": name, "version": SPLIT_VERSION, "dataset": dataset, "rule": rule, "sources": dict(sources),
            "splits": splits, "counts": {k: len(v) for k, v in splits.items()}, **extra}


def write_split(obj: Mapping[str, Any], path: str | os.PathLike) -> str:
    """Write a split object in the canonical byte form (sorted keys) atomically; returns its sha256."""
    from sagebench.io import atomic_path

    data = _canonical(obj)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return sha256_bytes(data)


def _read_m3fd_coco(coco_dir: Path) -> dict[str, tuple[str, int]]:
    """image id -> (part, scene tag) from the three voc2coco files; checks that nothing is duplicated."""
    out: dict[str, tuple[str, int]] = {}
    for fname, part in zip(M3FD_COCO_FILES, ("train", "val", "test")):
        f = coco_dir / fname
        if not f.is_file():
            raise DataError(f"{f}: M3FD COCO file missing (expected {', '.join(M3FD_COCO_FILES)} in {coco_dir})")
        for im in json.loads(f.read_bytes())["images"]:
            stem = Path(im["file_name"]).stem
            if stem in out:
                raise DataError(f"{f}: image {stem} also in the {out[stem][0]} file")
            out[stem] = (part, int(im.get("scene", 0)))
    return out


def _source_hashes(coco_dir: Path) -> dict[str, str]:
    return {n: sha256_bytes((coco_dir / n).read_bytes()) for n in M3FD_COCO_FILES}


def make_m3fd_tardal(coco_dir: str | os.PathLike) -> dict[str, Any]:
    """The split carried by the voc2coco M3FD files (``m3fd-{train,val,test}.json`` in ``coco_dir``)."""
    coco_dir = Path(coco_dir)
    info = _read_m3fd_coco(coco_dir)
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for stem, (part, _) in info.items():
        parts[part].append(stem)
    return _split_obj(
        "m3fd_tardal", "M3FD", parts,
        "image ids of ganlumomo/voc2coco@20239ca outputs/m3fd-{train,val,test}.json (TarDAL meta lists), "
        "unchanged", _source_hashes(coco_dir))


def make_m3fd_scene_disjoint(coco_dir: str | os.PathLike, *, block: int = 100, guard: int = 5, seed: int = 0,
                             fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, Any]:
    """Block split of M3FD along capture order (see module docstring for the rule)."""
    import numpy as np

    coco_dir = Path(coco_dir)
    info = _read_m3fd_coco(coco_dir)
    ids = sorted(info, key=int)
    runs: list[list[str]] = []
    for stem in ids:
        if runs and info[stem][1] == info[runs[-1][-1]][1] and int(stem) == int(runs[-1][-1]) + 1:
            runs[-1].append(stem)
        else:
            runs.append([stem])
    blocks = [r[i:i + block] for r in runs for i in range(0, len(r), block)]
    rng = np.random.default_rng(seed)
    names = ("train", "val", "test")
    assign: dict[int, str] = {}
    for tag in sorted({info[b[0]][1] for b in blocks}):
        idx = [i for i, b in enumerate(blocks) if info[b[0]][1] == tag]
        idx = [idx[j] for j in rng.permutation(len(idx))]
        total = sum(len(blocks[i]) for i in idx)
        got = dict.fromkeys(names, 0)
        for i in idx:  # deal each block to the split furthest below its target share
            part = max(names, key=lambda n: fractions[names.index(n)] * total - got[n])
            assign[i] = part
            got[part] += len(blocks[i])
    part_of = {s: assign[i] for i, b in enumerate(blocks) for s in b}
    excluded: set[str] = set()
    for k in range(1, len(ids)):  # guard band around consecutive ids that changed split
        a, b = ids[k - 1], ids[k]
        if int(b) == int(a) + 1 and info[a][1] == info[b][1] and part_of[a] != part_of[b]:
            excluded.update(ids[max(0, k - guard):k + guard])
    parts = {n: [s for s in ids if part_of[s] == n and s not in excluded] for n in names}
    return _split_obj(
        "m3fd_scene_disjoint", "M3FD", parts,
        f"capture-order block split: runs of consecutive ids with equal COCO 'scene' tag, cut into blocks of "
        f"<= {block} ids; blocks shuffled per tag (numpy default_rng({seed})) and dealt to reach "
        f"{fractions} of each tag's images; {guard} ids on each side of a within-run split change excluded",
        _source_hashes(coco_dir), excluded=sorted(excluded, key=int),
        runs=[[r[0], r[-1], info[r[0]][1]] for r in runs],
        parameters={"block": block, "guard": guard, "seed": seed, "fractions": list(fractions)})


def read_name_list(path: str | os.PathLike) -> list[str]:
    """Image stems from a list file: one name per line, optional extension dropped, blank lines ignored.

    A duplicated name or a name with whitespace inside raises :class:`DataError` naming the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: list file not found")
    names: list[str] = []
    seen: dict[str, int] = {}
    for k, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        item = line.strip()
        if not item:
            continue
        if any(c.isspace() for c in item):
            raise DataError(f"{p}:{k}: {item!r} is not a single file name")
        stem = Path(item).stem if Path(item).suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif") else item
        if stem in seen:
            raise DataError(f"{p}:{k}: {stem!r} repeats line {seen[stem]}")
        seen[stem] = k
        names.append(stem)
    return names


def make_from_lists(name: str, dataset: str, lists: Mapping[str, str | os.PathLike], rule: str) -> dict[str, Any]:
    """Versioned split from one list file per part (``{"train": path, "test": path}``).

    ``sources`` holds the sha256 of each list file's bytes under its file name. A name in two parts, or
    counts that differ from :data:`EXPECTED_COUNTS` for a known ``dataset``, raise :class:`DataError`.
    """
    parts: dict[str, list[str]] = {}
    hashes: dict[str, str] = {}
    part_of: dict[str, str] = {}
    for part, path in lists.items():
        p = Path(path)
        if p.name in hashes:
            raise DataError(f"{p}: two list files named {p.name!r}; give each part its own file name")
        parts[part] = read_name_list(p)
        hashes[p.name] = sha256_bytes(p.read_bytes())
        for n in parts[part]:
            if n in part_of:
                raise DataError(f"{p}: {n!r} is also in the {part_of[n]!r} list")
            part_of[n] = part
    exp = EXPECTED_COUNTS.get(dataset.lower())
    got = {k: len(v) for k, v in parts.items()}
    if exp and got != exp:
        raise DataError(f"{', '.join(str(v) for v in lists.values())}: {dataset} split counts {got} differ "
                        f"from the published {exp}")
    return _split_obj(name, dataset, parts, rule, hashes)


def make_msrs_official(split_dir: str | os.PathLike) -> dict[str, Any]:
    """The MSRS split from ``train.txt`` and ``test.txt`` in ``split_dir``.

    ``split_dir`` is ``datasets/MSRS/split`` of a Linfeng-Tang/SeAFusion checkout (:data:`MSRS_LISTS`);
    the result, written with :func:`write_split`, is ``msrs_official_v1.json`` byte for byte.
    """
    d = Path(split_dir)
    return make_from_lists("msrs_official", "MSRS", {"train": d / "train.txt", "test": d / "test.txt"}, MSRS_RULE)


def split_from_folders(root: str | os.PathLike, dataset: str, *, parts: Iterable[str] = ("train", "test"),
                       ir_names: Iterable[str] = ("ir", "Infrared", "infrared")) -> dict[str, Any]:
    """Versioned split of a dataset whose release keeps its parts in folders: ``<root>/<part>/<ir folder>/``
    (MSRS, FMB) or ``<root>/<ir folder>/<part>/`` (LLVIP: ``infrared/train``, ``infrared/test``).

    Stems are the IR file names without extension. Counts are checked against :data:`EXPECTED_COUNTS`
    when ``dataset`` is known there (DataError naming the folder otherwise).
    """
    root = Path(root)
    out: dict[str, list[str]] = {}
    hashes: dict[str, str] = {}
    for part in parts:
        cands = [(root / part / n, f"{part}/{n}") for n in ir_names] + [(root / n / part, f"{n}/{part}")
                                                                           for n in ir_names]
        d, key = next(((c, k) for c, k in cands if c.is_dir()), (None, ""))
        if d is None:
            raise DataError(f"{root}: no IR folder for the {part} split ({part}/<ir> or <ir>/{part}, <ir> one of "
                            f"{' / '.join(ir_names)})")
        out[part] = sorted(p.stem for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
        hashes[key] = sha256_bytes("\n".join(out[part]).encode())
    exp = EXPECTED_COUNTS.get(dataset.lower())
    if exp:
        got = {k: len(v) for k, v in out.items()}
        if any(got.get(k) != v for k, v in exp.items()):
            raise DataError(f"{root}: {dataset} split counts {got} differ from the published {exp}")
    return _split_obj(f"{dataset.lower()}_official", dataset, out,
                      "file stems of the official release's train and test IR folders", hashes)


def apply_split(dataset: Any, split: str | os.PathLike | Mapping[str, Any], part: str, *,
                allow_partial: bool = True) -> SplitView:
    """A view of ``dataset`` restricted to the stems of ``split[part]`` (in dataset order).

    ``split``: a shipped split name, a split file, or a loaded split. With ``allow_partial=False`` every stem
    of the part must be in the dataset (a copy must hold all of a split's images to be called that split);
    otherwise a partial copy gives the part's images it has, and the view's name says how many. Raises
    :class:`DataError` for an unknown part, missing images (when not allowed) or an empty view.
    """
    obj = load_split(split) if not isinstance(split, Mapping) else split
    if part not in obj["splits"]:
        raise DataError(f"split {obj.get('name')!r} has no part {part!r}; parts: {sorted(obj['splits'])}")
    wanted = obj["splits"][part]
    wanted_set = set(wanted)
    idx = [i for i, n in enumerate(dataset.names) if n in wanted_set]
    where = getattr(dataset, "root", None) or getattr(dataset, "name", "dataset")
    tag = f"{obj.get('name')}:{part}"
    if len(idx) < len(wanted):
        have = {dataset.names[i] for i in idx}
        missing = [n for n in wanted if n not in have]
        if not allow_partial:
            raise DataError(f"{where}: {len(missing)} of the {len(wanted)} images of split {tag} are missing "
                            f"(e.g. {', '.join(missing[:3])}); pass a complete copy, or allow a partial one")
        tag += f" ({len(idx)} of {len(wanted)})"
    if not idx:
        raise DataError(f"{where}: none of the {len(wanted)} images of split {tag} is in the dataset")
    return SplitView(dataset, idx, tag)


class SplitView:
    """A dataset restricted to some indices; forwards ``det_classes``/``seg_classes``/``classes``."""

    def __init__(self, base: Any, indices: list[int], tag: str) -> None:
        self.base = base
        self.indices = list(indices)
        self.name = f"{getattr(base, 'name', 'dataset')}[{tag}]"

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.base[self.indices[i]]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def names(self) -> list[str]:
        base = self.base.names
        return [base[i] for i in self.indices]

    # per-index accessors map the view's index to the base dataset's (``__getattr__`` would not)
    def content_hash(self, i: int) -> str:
        return self.base.content_hash(self.indices[i])

    def label_hash(self, i: int) -> str | None:
        fn = getattr(self.base, "label_hash", None)
        return fn(self.indices[i]) if callable(fn) else None

    def get_target(self, i: int) -> Any:
        return self.base.get_target(self.indices[i])

    def paths(self, i: int) -> Any:
        return self.base.paths(self.indices[i])

    def index_of(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name}: no sample named {name!r}") from None

    def __getattr__(self, item: str) -> Any:  # det_classes, seg_classes, classes, skipped ...
        if item in ("base", "indices"):
            raise AttributeError(item)
        return getattr(self.base, item)


def write_m3fd_coco_with_split(coco_dir: str | os.PathLike, split: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Merge the three voc2coco M3FD files into one COCO JSON whose images carry ``split`` from ``split``.

    The result is what ``open_dataset(<M3FD folder>, labels=out, split="train"|"val"|"test")`` reads, so a
    benchmark config can use any shipped M3FD split (e.g. ``m3fd_scene_disjoint_v1``) on the full dataset.
    Images the split excludes get ``split = "excluded"``. Categories keep the files' ids and names; image ids
    are kept; annotation ids are renumbered 1..N (they restart per upstream file).
    """
    from sagebench.io import write_json

    coco_dir = Path(coco_dir)
    obj = load_split(split)
    part_of = {n: p for p, names in obj["splits"].items() for n in names}
    images, anns, cats = [], [], None
    for fname in M3FD_COCO_FILES:
        d = json.loads((coco_dir / fname).read_bytes())
        cats = cats or d["categories"]
        if d["categories"] != cats:
            raise DataError(f"{coco_dir / fname}: categories differ from {M3FD_COCO_FILES[0]}")
        for im in d["images"]:
            images.append(dict(im, split=part_of.get(Path(im["file_name"]).stem, "excluded")))
        for a in d["annotations"]:
            anns.append(dict(a, id=len(anns) + 1))
    write_json(out, {"images": images, "annotations": anns, "categories": cats,
                     "info": {"split": obj["name"], "split_version": obj["version"]}})
    return Path(out)
