"""Torch devices: the default device, and the name and kind of a device (for provenance and reports)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any


def resolve_device(name: str | None) -> str:
    """``name`` when given, else ``"cuda"`` when a CUDA device is available, else ``"cpu"``."""
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


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
