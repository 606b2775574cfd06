"""``open_dataset``: the single entry point to every paired dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagebench.datasets.base import PairedDataset
from sagebench.errors import DataError

_SYNTHETIC_MODES = {"synthetic": None, "synthetic:night": 1.0, "synthetic:day": 0.0}


def open_dataset(source: str | Path | None = None, *, ir: str | Path | None = None, vis: str | Path | None = None,
                 split: str | None = None, on_error: str = "raise", **kw: Any) -> PairedDataset:
    """Open a paired infrared/visible dataset.

    Args:
        source: a dataset folder (layout auto-detected: ``ir/ vi/``, ``ir/ vis/``, ``Ir/ Vis/``,
            ``Infrared/ Visible/`` (FMB, LLVIP), ``cropinfrared/ crop_LR_visible/`` (RoadScene),
            ``thermal/ rgb/`` (PST900), or a ``PAIRS.tsv`` with columns ``stem ir vis [label]``), or
            ``"synthetic"``, ``"synthetic:night"``, ``"synthetic:day"`` for generated scenes. May be None when
            both ``ir`` and ``vis`` folders are given.
        ir, vis: image folders (relative to ``source`` or absolute) overriding the detected ones; with a
            ``PAIRS.tsv``, ``ir`` may name another column of it (e.g. ``"ir_holefilled"``).
        split: ``train``/``val``/``test``: picks a split folder (``<root>/<split>/ir``, ``ir/<split>``) or,
            failing that, filters on the ``split`` field of COCO images / a PAIRS.tsv ``split`` column. For
            synthetic data it selects an independent random stream per split.
        on_error: ``"raise"`` (default): any broken pair raises :class:`~sagebench.errors.DataError` naming
            the files and the problem. ``"skip"``: broken pairs are dropped, listed in ``ds.skipped`` and
            reported with ``warnings.warn``.
        **kw: folder options (``labels``, ``label_modality``, ``seg_classes``, ``det_classes``,
            ``label_format``, ``palette``, ``verify``, ``vis_gray_if_equal``, ``name``, and ``ir_name`` /
            ``vis_name``: file-stem templates where the two files of a pair are named differently, e.g.
            ``ir_name="IR{stem}", vis_name="VIS{stem}"`` pairs ``IR1.png`` with ``VIS1.png`` as stem ``1``) or
            synthetic options
            (``n``, ``seed``, ``size``, ``night_fraction``); see :class:`FolderDataset` /
            :class:`SyntheticDataset`.

    Returns:
        a :class:`PairedDataset`; ``ds[i]`` is a :class:`Sample`.
    """
    if isinstance(source, str) and source.split(":")[0] == "synthetic":
        from sagebench.datasets.synthetic import SyntheticDataset

        if source not in _SYNTHETIC_MODES:
            raise DataError(f"unknown synthetic dataset {source!r}; use one of {sorted(_SYNTHETIC_MODES)}")
        if ir is not None or vis is not None:
            raise DataError(f"{source}: ir=/vis= folders do not apply to synthetic data")
        forced = _SYNTHETIC_MODES[source]
        if forced is not None:
            if "night_fraction" in kw and float(kw["night_fraction"]) != forced:
                raise DataError(f"{source}: night_fraction={kw['night_fraction']} contradicts the dataset name")
            kw["night_fraction"] = forced
        return SyntheticDataset(split=split, **kw)
    from sagebench.datasets.folder import FolderDataset

    return FolderDataset(source, ir=ir, vis=vis, split=split, on_error=on_error, **kw)
