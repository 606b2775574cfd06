"""``sagebench fuse``: fuse a dataset with one method and write 8-bit PNGs named like the inputs."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_device, add_include, add_threads, add_weights_dir, resolve_device

NAME = "fuse"
HELP = "fuse a dataset with one fusion method and write 8-bit PNGs named like the inputs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="registered method name (see `sagebench models`)")
    p.add_argument("--weights", default=None,
                   help="checkpoint path or manifest name for deep models (default: the method's release)")
    p.add_argument("--data", default=None,
                   help="dataset folder (layout auto-detected) or a name like 'synthetic:night'")
    p.add_argument("--ir", default=None, help="infrared folder (generic layout, with --vis)")
    p.add_argument("--vis", default=None, help="visible folder (generic layout, with --ir)")
    p.add_argument("--split", default=None, help="dataset split, where the dataset has splits")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    p.add_argument("--fold-bn", action="store_true", help="fold BatchNorm into convolutions (inference only)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip (and report) pairs with a missing counterpart, size mismatch or unreadable file")
    p.add_argument("--skip-existing", action="store_true", help="keep fused images already in --out")
    p.add_argument("--no-progress", action="store_true")
    add_device(p)
    add_weights_dir(p)
    add_include(p)
    add_threads(p)


def run(args: argparse.Namespace) -> int:
    from sagebench.datasets import open_dataset
    from sagebench.errors import ConfigError
    from sagebench.fusion_models import build_fusion_model
    from sagebench.fusion_models.fuse import check_output_folder, fuse_dataset

    if args.data is None and not (args.ir and args.vis):
        raise ConfigError("give --data PATH_OR_NAME, or both --ir DIR and --vis DIR")
    ds = open_dataset(args.data, ir=args.ir, vis=args.vis, split=args.split,
                      on_error="skip" if args.skip_bad else "raise")
    if len(ds) == 0:
        raise ConfigError(f"{args.data or args.ir}: no image pairs found")
    check_output_folder(args.out, ds)  # before the model is built
    cfg = {"type": args.model}
    if args.weights is not None:
        cfg["weights"] = args.weights
    model = build_fusion_model(cfg, device=resolve_device(args.device), precision=args.precision,
                               channels_last=args.channels_last, fold_bn=args.fold_bn)
    unreadable: list[tuple[str, str]] | None = [] if args.skip_bad else None
    paths = fuse_dataset(model, ds, args.out, batch_size=args.batch_size, skip_existing=args.skip_existing,
                         progress=not args.no_progress, desc=f"{args.model} on {ds.name}", skipped=unreadable)
    print(f"wrote {len(paths)} fused images to {args.out}")
    skipped = list(getattr(ds, "skipped", [])) + list(unreadable or [])
    for path, reason in skipped:
        print(f"skipped {path}: {reason}")
    if skipped:
        print(f"{len(skipped)} pair(s) skipped (--skip-bad)")
    return 0
