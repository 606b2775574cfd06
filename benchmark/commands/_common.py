"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse

from sagebench.devices import resolve_device
from sagebench.weights import ENV_WEIGHTS_DIR

__all__ = ["add_device", "add_weights_dir", "resolve_device"]


def add_weights_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-dir", metavar="DIR",
                        help=f"folder with local copies of released weights (overrides ${ENV_WEIGHTS_DIR})")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available, else cpu)")


