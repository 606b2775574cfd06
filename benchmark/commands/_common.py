"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
import os

from sagebench.weights import ENV_WEIGHTS_DIR


def add_weights_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-dir", metavar="DIR",
                        help=f"folder with local copies of released weights (overrides ${ENV_WEIGHTS_DIR})")


def apply_weights_dir(args: argparse.Namespace) -> None:
    if getattr(args, "weights_dir", None):
        os.environ[ENV_WEIGHTS_DIR] = args.weights_dir


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available, else cpu)")


def resolve_device(name: str | None) -> str:
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"
