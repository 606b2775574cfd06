"""What a result was computed with: package and library versions, git commit, device, config, seed."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagebench.devices import cpu_name, device_info

__all__ = ["collect", "cpu_name", "device_info", "git_commit"]


def git_commit(path: str | Path | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout holding ``path`` (default: this package),
    or None when it is not in a git work tree (e.g. an installed wheel) or git is missing."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(status.strip())} if sha else None


def collect(device: str, *, config: dict[str, Any] | None = None, config_hash: str | None = None,
            seed: int | None = None, weights: dict[str, str | None] | None = None,
            world_size: int = 1, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance dict stored in ``results.json``.

    Args:
        device: torch device the run used.
        config: the resolved benchmark config (stored, so a run can be repeated and the regression gate
            can read its tolerances).
        config_hash: hash of the config parts that define the results.
        seed: the run's seed.
        weights: method name -> weights sha256 (None for methods without weights).
        world_size: number of ranks that computed the run.
    """
    import torch

    from sagebench import __version__

    prov: dict[str, Any] = {
        "sagebench_version": __version__,
        "git": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        **device_info(device),
        "config_hash": config_hash,
        "seed": seed,
        "weights_sha256": dict(weights or {}),
        "world_size": world_size,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    try:
        import mmengine

        prov["mmengine"] = mmengine.__version__
    except ImportError:  # pragma: no cover - a hard dependency
        pass
    if config is not None:
        prov["config"] = config
    prov.update(extra or {})
    return prov
