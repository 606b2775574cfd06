"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse

from sagebench.devices import resolve_device
from sagebench.weights import ENV_WEIGHTS_DIR

__all__ = ["add_device", "add_include", "add_threads", "add_weights_dir", "resolve_device"]


def add_weights_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-dir", metavar="DIR",
                        help=f"folder with local copies of released weights (overrides ${ENV_WEIGHTS_DIR})")


def add_include(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include", action="append", default=[], metavar="PATH_OR_MODULE",
                        help="import a module or .py file first (repeatable): its registered methods, or any "
                             "class in it as 'module.Class', become usable methods")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's choice; on a busy machine fewer can be faster)")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available, else cpu)")


