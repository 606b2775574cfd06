"""``sagebench`` command line (tools-style: one sub-command per module in ``benchmark/commands``).

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; it is
discovered automatically. Keep module-level imports light: heavy imports go inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from sagebench import __version__
from sagebench.errors import SagebenchError


def _command_modules():
    from sagebench.benchmark import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagebench", description="Benchmark suite for infrared-visible image fusion.")
    parser.add_argument("--version", action="version", version=f"sagebench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _fast=getattr(mod, "fast", None))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from sagebench.weights import use_weights_dir

    try:
        fast = getattr(args, "_fast", None)
        if fast is not None:  # e.g. a rerun with nothing to compute, answered before torch is imported
            with use_weights_dir(getattr(args, "weights_dir", None)):
                rc = fast(args)
            if rc is not None:
                return int(rc)
        threads = getattr(args, "threads", None)
        if threads is not None:
            if threads < 1:
                raise SagebenchError(f"--threads must be >= 1, got {threads}")
            import torch

            torch.set_num_threads(threads)
        if getattr(args, "include", None):
            from sagebench.fusion_models.external import include

            for spec in args.include:  # before anything is built: methods register on import
                include(spec)
        with use_weights_dir(getattr(args, "weights_dir", None)):  # --weights-dir, scoped (no env writes)
            return int(args._run(args) or 0)
    except SagebenchError as exc:
        print(f"sagebench {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # disk full, permission denied ... : one line naming the file
        if isinstance(exc, BrokenPipeError):  # output piped into `head` and the like
            sys.stderr.close()
            return 0
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"sagebench {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sagebench {args.command}: interrupted", file=sys.stderr)
        return 130


def console_main() -> int:
    """The ``sagebench`` command: :func:`main` in a process whose C allocator keeps large blocks for reuse
    (``sagebench.memory``; ``SAGEBENCH_ALLOCATOR=system`` leaves it alone). ``main`` itself, which tests and
    scripts call in their own process, never touches the allocator."""
    from sagebench.memory import tune_for_command

    tune_for_command()
    return main()


if __name__ == "__main__":
    sys.exit(console_main())
