"""Reading benchmark config files (mmengine ``Config``; no torch needed, so that a rerun with nothing to do
can be answered quickly, see :mod:`sagebench.benchmark.rerun`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sagebench.errors import ConfigError

__all__ = ["QUICKSTART_FILE", "config_file", "load_config"]

#: The built-in quickstart (``sagebench run`` without a config) is the shipped ``configs/quickstart.py``.
QUICKSTART_FILE = "quickstart.py"


def config_file(name: str) -> Path:
    """A config shipped with the package (``configs/`` of the repository): ``config_file("quickstart.py")``,
    ``config_file("downstream/ci.py")``."""
    from importlib.resources import files

    path = Path(str(files("sagebench.configs") / name))
    if not path.is_file():
        raise ConfigError(f"{name}: no such config shipped with sagebench ({path})")
    return path


def load_config(path: str | os.PathLike | None = None, cfg_options: dict[str, Any] | None = None) -> dict:
    """Read a benchmark config file (or the built-in quickstart when ``path`` is None), apply
    ``--cfg-options`` style overrides (``{"methods.0.type": "max_abs"}``) and return a plain dict."""
    from mmengine.config import Config

    path = config_file(QUICKSTART_FILE) if path is None else Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # mmengine raises many types for a bad file
        raise ConfigError(f"{path}: cannot read config ({type(exc).__name__}: {exc})") from exc
    if cfg_options:
        cfg.merge_from_dict(cfg_options, allow_list_keys=True)
    out = {k: v for k, v in cfg.to_dict().items() if not k.startswith("_")}  # `_X` names are config helpers
    out["_name"] = Path(path).stem
    return out
