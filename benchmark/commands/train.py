"""``sagebench train CONFIG``: train the SAGE teacher and student (bi-level distillation with SAM priors)."""

from __future__ import annotations

import argparse

from sagebench.benchmark.commands._common import add_device, add_threads

NAME = "train"
HELP = "train SAGE (teacher with SAM priors + distilled student) from an mmengine config, e.g. configs/sage/"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="mmengine Python config (see configs/sage/)")
    p.add_argument("--work-dir", default=None, help="output folder (default: the config's work_dir)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint; without a value: <work-dir>/checkpoints/latest.pt if present")
    p.add_argument("--preset", choices=["faithful", "fixed"], default=None,
                   help="switch preset (overrides the config's `preset`)")
    p.add_argument("--data", default=None, help="training dataset folder or 'synthetic' (overrides data.source)")
    p.add_argument("--sam-checkpoint", default=None, help="SAM checkpoint file (overrides sam.checkpoint)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimisation steps in total (a resumable checkpoint is written)")
    p.add_argument("--masks-only", action="store_true",
                   help="only compute/cache the SAM masks of the training set, then exit")
    p.add_argument("--cfg-options", nargs="+", default=None, metavar="KEY=VALUE",
                   help="override config entries, e.g. train.epochs=2 data.crop=[64,64]")
    add_device(p)
    add_threads(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mmengine.config import Config, DictAction

    from sagebench.errors import ConfigError
    from sagebench.fusion_models.sage.training import SageTrainer

    path = Path(args.config)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # syntax errors and missing _base_ files
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    if args.cfg_options:
        opts = argparse.Namespace()
        DictAction(option_strings=[], dest="opts")(None, opts, args.cfg_options)
        cfg.merge_from_dict(opts.opts)
    if args.preset:
        cfg.preset = args.preset
    if args.data:
        cfg.merge_from_dict({"data.source": args.data})
    if args.sam_checkpoint:
        cfg.merge_from_dict({"sam.checkpoint": args.sam_checkpoint})
    trainer = SageTrainer(cfg, work_dir=args.work_dir, device=args.device)
    if args.masks_only:
        stats = trainer.prepare_masks()
        print(f"SAM masks: {stats['cached']} already cached, {stats['computed']} computed "
              f"in {trainer.priors.cache.root}")
        return 0
    if args.resume:
        trainer.resume(args.resume)
    trainer.train(stop_after=args.max_steps)
    if trainer.epoch >= trainer.cfg["train"]["epochs"]:
        print(f"training finished: student weights {trainer.work_dir / 'student_final.pt'} "
              f"(use: sagebench fuse --model sage_student --weights {trainer.work_dir / 'student_final.pt'} ...)")
    else:
        print(f"stopped at step {trainer.global_step}; continue with: sagebench train {args.config} "
              f"--work-dir {trainer.work_dir} --resume")
    return 0
