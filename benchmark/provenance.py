"""What a result was computed with: package and library versions, git commit, device, config, seed."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


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


def cpu_name() -> str:
    """CPU model name (from /proc/cpuinfo on Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str) -> dict[str, Any]:
    """Name and kind of a torch device string (``cpu``, ``cuda``, ``cuda:1``)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        return {"device": str(dev), "device_name": torch.cuda.get_device_name(idx), "type": "cuda"}
    info = {"device": str(dev), "device_name": cpu_name(), "type": dev.type}
    if dev.type == "cpu":
        info["threads"] = torch.get_num_threads()
    return info


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
