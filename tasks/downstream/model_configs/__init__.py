"""Model presets for the downstream tasks, as mmengine config files (``<name>.py`` in this folder).

Each file defines the task network and its schedule with the variables ``task`` ("detection" or
"segmentation"), ``model``, ``train_pipeline``, ``test_pipeline``, ``optim_wrapper``, ``param_scheduler``,
``max_iters``, ``batch_size`` and optional ``checkpoint_interval``; the number of classes, datasets,
data loaders, evaluator, work dir and seed are filled in by :mod:`sagebench.tasks.downstream.engine`.
A preset is named by its file stem (``det_tiny_fcos``) or given as a path to a file of the same shape.
"""

from __future__ import annotations

from pathlib import Path

from sagebench.errors import ConfigError

HERE = Path(__file__).resolve().parent


def list_presets() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def preset_path(name_or_path: str) -> Path:
    """Path of a preset given by name or by a path to a config file (ConfigError when neither exists)."""
    p = Path(name_or_path).expanduser()
    if p.suffix == ".py" and p.is_file():
        return p.resolve()
    q = HERE / f"{name_or_path}.py"
    if q.is_file() and not name_or_path.startswith("_"):
        return q
    raise ConfigError(f"unknown downstream model {name_or_path!r}: not a config file and not one of "
                      f"{', '.join(list_presets())}")
