"""Train and evaluate mmdet/mmseg task networks on fused images through mmengine's ``Runner``.

The fused images stay the image source: detection gets a COCO JSON whose ``file_name`` entries are the
absolute paths of ``<fused_dir>/<stem>.png`` (read by mmdet's stock ``CocoDataset``); segmentation gets
uint8 class-id PNGs written into the work dir and a stem list, read by mmseg's ``BaseSegDataset`` with
``img_path = fused_dir``. Metrics come from :mod:`.mm_metrics` (mmdet ``CocoMetric`` / mmseg ``IoUMetric``
subclasses).

Safety: trained weights are written by :func:`.safe_checkpoint.save_weights` and always read back with
``torch.load(weights_only=True)``; mmengine's resume checkpoints are kept in a safe form by
:class:`.safe_checkpoint.SafeResumeStateHook`, so mmengine's own loads (torch's default
``weights_only=True``) read them; the check is never switched off.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagebench.errors import ConfigError, DataError
from sagebench.io import write_text
from sagebench.paths import inside
from sagebench.tasks.downstream.model_configs import preset_path
from sagebench.tasks.downstream.safe_checkpoint import (
    file_sha256,
    load_state_dict,
    mmengine_resume_globals,
    save_weights,
)

WEIGHTS_NAME = "model_final.safe.pth"
KINDS = ("detection", "segmentation")


@dataclass
class Split:
    """One split to train or test on: the dataset (for labels) and the folder of its fused PNGs."""

    dataset: Any
    image_dir: Path


@dataclass
class JobResult:
    """Outcome of :func:`run_job`: metrics (percent) and provenance."""

    metrics: dict[str, float]
    checkpoint: Path | None
    checkpoint_sha256: str | None
    trained: bool
    info: dict[str, Any] = field(default_factory=dict)


def load_preset(name_or_path: str, kind: str) -> dict[str, Any]:
    """Read a preset config (see :mod:`.model_configs`) as a plain dict and check its task kind."""
    from mmengine.config import Config

    p = preset_path(name_or_path)
    cfg = Config.fromfile(str(p)).to_dict()
    need = ("task", "model", "train_pipeline", "test_pipeline", "optim_wrapper", "max_iters", "batch_size")
    missing = [k for k in need if k not in cfg]
    if missing:
        raise ConfigError(f"{p}: downstream model config lacks {', '.join(missing)}")
    if cfg["task"] != kind:
        raise ConfigError(f"{p}: is a {cfg['task']} config, but the {kind} task was asked to use it")
    cfg["_path"] = str(p)
    return cfg


def _set_num_classes(node: Any, n: int) -> int:
    """Set every ``num_classes`` key of the model config to ``n``; returns how many were set."""
    count = 0
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "num_classes":
                node[k] = n
                count += 1
            else:
                count += _set_num_classes(v, n)
    elif isinstance(node, list):
        for v in node:
            count += _set_num_classes(v, n)
    return count


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def split_fingerprint(split: Split) -> str:
    """Content hash of a split: every sample's ``content_hash`` plus the sha256 of its fused image."""
    h = hashlib.sha256()
    for i in range(len(split.dataset)):
        s = split.dataset[i]
        h.update(str(getattr(s, "content_hash", s.name)).encode())
        img = split.image_dir / f"{s.name}.png"
        h.update(file_sha256(img).encode() if img.is_file() else b"missing")
    return h.hexdigest()


def _prepare_det(split: Split, classes: list[str], out: Path, tag: str) -> dict[str, Any]:
    from sagebench.tasks.downstream.convert import dataset_to_coco

    ann = out / f"{tag}_coco.json"
    dataset_to_coco(split.dataset, classes, split.image_dir, ann)
    return dict(type="CocoDataset", data_root="", ann_file=str(ann), data_prefix=dict(img=""),
                metainfo=dict(classes=tuple(classes)), filter_cfg=dict(filter_empty_gt=False, min_size=0),
                backend_args=None)


def _prepare_seg(split: Split, classes: list[str], palette: list, out: Path, tag: str,
                 reduce_zero_label: bool) -> dict[str, Any]:
    from sagebench.tasks.downstream.convert import write_seg_labels

    labels = out / f"{tag}_labels"
    stems = write_seg_labels(split.dataset, len(classes), labels)
    for st in stems:
        if not (split.image_dir / f"{st}.png").is_file():
            raise DataError(f"{split.image_dir / (st + '.png')}: fused image missing for sample {st!r}")
    lst = out / f"{tag}_list.txt"
    write_text(lst, "\n".join(stems) + "\n")
    return dict(type="BaseSegDataset", data_root="", ann_file=str(lst),
                data_prefix=dict(img_path=str(split.image_dir.resolve()), seg_map_path=str(labels.resolve())),
                img_suffix=".png", seg_map_suffix=".png", reduce_zero_label=reduce_zero_label,
                metainfo=dict(classes=tuple(classes), palette=[list(p) for p in palette]))


def input_stats(split: Split) -> dict[str, Any]:
    """Per-channel mean and standard deviation (population, 0..255, RGB order) of the fused PNGs of
    ``split`` over all their pixels: the normalisation a detector / segmenter trained on them uses with
    ``input_stats="fused_train"``. A grey image counts as three equal channels (as mmdet / mmseg load it)."""
    import numpy as np
    from PIL import Image

    total = np.zeros(3)
    total_sq = np.zeros(3)
    n = 0
    for name in split.dataset.names:
        path = Path(split.image_dir) / f"{name}.png"
        if not path.is_file():
            raise DataError(f"{path}: fused training image missing (needed for its input statistics)")
        arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64).reshape(-1, 3)
        total += arr.sum(0)
        total_sq += (arr * arr).sum(0)
        n += arr.shape[0]
    if n == 0:
        raise DataError(f"{split.image_dir}: no fused training images for the input statistics")
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0))
    return {"mean": [round(float(m), 4) for m in mean], "std": [round(max(float(x), 1e-3), 4) for x in std],
            "images": len(split.dataset.names), "pixels": int(n)}


def model_config(preset: dict[str, Any], classes: list[str], norm: dict[str, Any] | None = None) -> dict[str, Any]:
    """The preset's model config for ``classes``, with ``norm`` (``{"mean", "std"}``, 0..255 RGB) as its input
    normalisation in the channel order the network sees (reversed for ``bgr_to_rgb=False``)."""
    model = copy.deepcopy(preset["model"])
    if norm is not None:
        dp = model["data_preprocessor"]
        order = slice(None) if dp.get("bgr_to_rgb", False) else slice(None, None, -1)
        dp["mean"] = list(norm["mean"])[order]
        dp["std"] = list(norm["std"])[order]
    if _set_num_classes(model, len(classes)) == 0:
        raise ConfigError(f"{preset['_path']}: model config has no num_classes to set")
    return model


def predict(kind: str, preset_name: str, classes: list[str], weights: str | os.PathLike,
            images: list[str | os.PathLike], *, norm: dict[str, Any] | None = None,
            device: str = "cpu") -> list[dict[str, Any]]:
    """Predictions of a trained task network (weights saved by :func:`run_job`) on image files.

    Returns one dict per image: detection ``{"boxes": N x 4 xyxy pixels, "scores": N, "labels": N}``,
    segmentation ``{"seg": H x W class ids}`` (numpy, at the image's size), through the preset's test
    pipeline (without its label loading) and the network's own post-processing."""
    import numpy as np
    import torch
    from mmengine.config import ConfigDict
    from mmengine.dataset import Compose, pseudo_collate
    from mmengine.registry import init_default_scope

    _import_mm(kind)
    preset = load_preset(preset_name, kind)
    if kind == "detection":
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    sd, _ = load_state_dict(weights)
    out: list[dict[str, Any]] = []
    with _quiet_mm():
        init_default_scope("mmdet" if kind == "detection" else "mmseg")
        model = MODELS.build(ConfigDict(model_config(preset, classes, norm)))  # heads read cfg.attr
        _load_trained(model, sd, weights, Path(preset["_path"]).stem, classes)
        model.to(device).eval()
        pipeline = Compose([t for t in copy.deepcopy(preset["test_pipeline"]) if t["type"] != "LoadAnnotations"])
        for i, path in enumerate(images):
            if not Path(path).is_file():
                raise DataError(f"{path}: image not found")
            data = pipeline(dict(img_path=str(path), img_id=i))
            with torch.no_grad():
                res = model.test_step(pseudo_collate([data]))[0]
            if kind == "detection":
                inst = res.pred_instances
                out.append({"boxes": inst.bboxes.cpu().numpy().astype(np.float64),
                            "scores": inst.scores.cpu().numpy().astype(np.float64),
                            "labels": inst.labels.cpu().numpy().astype(np.int64)})
            else:
                out.append({"seg": res.pred_sem_seg.data[0].cpu().numpy().astype(np.int64)})
    return out


def build_runner_config(kind: str, preset: dict[str, Any], classes: list[str], *, work_dir: Path,
                        train: dict[str, Any] | None, test: dict[str, Any], seed: int,
                        max_iters: int | None = None, batch_size: int | None = None,
                        num_workers: int = 0, resume: bool = False,
                        checkpoint_interval: int | None = None,
                        init_checkpoint: str | None = None, norm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assemble the full mmengine ``Runner`` config (a plain dict) from a preset and prepared datasets;
    ``norm`` (``{"mean", "std"}``, 0..255 RGB) replaces the preset's input normalisation (in the channel
    order the network sees: reversed for a preprocessor that keeps mmcv's BGR, ``bgr_to_rgb=False``).
    The preset's ``custom_hooks`` (e.g. mmdet's ``EMAHook``) are added to training runs only: the weights
    a training run saves are the ones it evaluates (see :func:`run_job`)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown downstream task kind {kind!r}")
    model = model_config(preset, classes, norm)
    if init_checkpoint:
        p = Path(os.path.expandvars(str(init_checkpoint))).expanduser()
        if not p.is_file():
            raise ConfigError(f"init_checkpoint {p}: file not found (ImageNet weights come from a user path)")
        model["backbone"]["init_cfg"] = dict(type="Pretrained", checkpoint=str(p))
        if preset.get("init_prefix"):  # a detector checkpoint whose backbone keys carry a prefix
            model["backbone"]["init_cfg"]["prefix"] = preset["init_prefix"]
    iters = int(max_iters or preset["max_iters"])
    bs = int(batch_size or preset["batch_size"])
    sched = []
    scale = iters / preset["max_iters"]
    for s in copy.deepcopy(preset.get("param_scheduler", [])):
        # schedules are written for the preset's max_iters; rescale them when it is overridden
        begin, end = int(s.get("begin", 0)), s.get("end")
        s["begin"] = min(round(begin * scale), iters - 1)
        if isinstance(end, int):
            s["end"] = iters if end >= preset["max_iters"] else min(iters, max(s["begin"] + 1, round(end * scale)))
        if "milestones" in s:
            s["milestones"] = [max(1, round(m * scale)) for m in s["milestones"]]
        sched.append(s)
    ckpt_every = int(checkpoint_interval or preset.get("checkpoint_interval") or iters)
    scope = "mmdet" if kind == "detection" else "mmseg"
    metric = (dict(type="SagebenchCocoMetric", ann_file=test["ann_file"], metric="bbox", classwise=False)
              if kind == "detection" else dict(type="SagebenchIoUMetric"))
    test_ds = dict(test, pipeline=copy.deepcopy(preset["test_pipeline"]), test_mode=True)
    cfg: dict[str, Any] = dict(
        default_scope=scope,
        model=model,
        work_dir=str(work_dir),
        experiment_name=f"sagebench_{kind}_{uuid.uuid4().hex[:12]}",
        test_dataloader=dict(batch_size=1, num_workers=num_workers, persistent_workers=False,
                             sampler=dict(type="DefaultSampler", shuffle=False), dataset=test_ds),
        test_evaluator=metric,
        test_cfg=dict(type="TestLoop"),
        default_hooks=dict(
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=50, log_metric_by_epoch=False),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=dict(type="CheckpointHook", interval=ckpt_every, by_epoch=False, max_keep_ckpts=1,
                            save_last=True),
            sampler_seed=dict(type="DistSamplerSeedHook"),
        ),
        env_cfg=dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
                     dist_cfg=dict(backend="nccl")),
        custom_hooks=[dict(type="SafeResumeStateHook")],
        randomness=dict(seed=int(seed), deterministic=False),
        visualizer=dict(type="Visualizer", vis_backends=[]),
        log_level="WARNING",
        log_processor=dict(by_epoch=False),
        launcher="none",
        load_from=None,
        resume=bool(resume),
    )
    if train is not None:
        train_ds = dict(train, pipeline=copy.deepcopy(preset["train_pipeline"]))
        cfg.update(
            train_dataloader=dict(batch_size=bs, num_workers=num_workers, persistent_workers=False,
                                  sampler=dict(type="InfiniteSampler", shuffle=True, seed=int(seed)),
                                  dataset=train_ds),
            train_cfg=dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters + 1),
            optim_wrapper=copy.deepcopy(preset["optim_wrapper"]),
            param_scheduler=sched,
        )
        cfg["custom_hooks"] = cfg["custom_hooks"] + copy.deepcopy(list(preset.get("custom_hooks", [])))
    return cfg


def _bare(runner: Any) -> Any:
    """The runner's model without a (distributed) wrapper."""
    return runner.model.module if hasattr(runner.model, "module") else runner.model


def trained_state(runner: Any) -> dict[str, Any]:
    """The weights a training run saves (and every run then scores): the averaged model of an ``EMAHook``
    where the preset has one, else the model's own."""
    from mmengine.hooks import EMAHook

    for hook in runner.hooks:
        if isinstance(hook, EMAHook):
            return hook.ema_model.module.state_dict()
    return _bare(runner).state_dict()


def _load_trained(model: Any, state: dict[str, Any], checkpoint: str | os.PathLike, preset_name: str,
                  classes: list[str]) -> None:
    """Load saved task-network weights into ``model``; a checkpoint of another preset or class count is a
    :class:`DataError` naming the file."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise DataError(f"{checkpoint}: does not fit the {preset_name} model with {len(classes)} classes: "
                        f"missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]}")


@contextlib.contextmanager
def _quiet_mm() -> Any:
    """Scope the side effects of an mmengine ``Runner`` to the block.

    The Runner makes its default scope (``mmdet``/``mmseg``) the process-wide current one, which would
    make later registry builds (e.g. ``create_model`` of a fusion model) look in the wrong registry; the
    previous scopes are restored on exit, the way mmengine's own ``overwrite_default_scope`` does it.
    mmengine's INFO chatter (env dumps, config echo) stays off the console; warnings still show.
    """
    from mmengine.registry import DefaultScope

    names = ("mmengine", "mmdet", "mmseg")
    old = {n: logging.getLogger(n).level for n in names}
    scopes = copy.copy(DefaultScope._instance_dict)
    try:
        for n in names:
            logging.getLogger(n).setLevel(logging.WARNING)
        yield
    finally:
        DefaultScope._instance_dict = scopes
        for n, lv in old.items():
            logging.getLogger(n).setLevel(lv)


def _import_mm(kind: str) -> None:
    """Import the mm packages and register sagebench's metrics (clear error when mm is not installed)."""
    try:
        if kind == "detection":
            import mmdet.datasets  # noqa: F401
            import mmdet.models  # noqa: F401
        else:
            import mmseg.datasets  # noqa: F401
            import mmseg.models  # noqa: F401
        import sagebench.tasks.downstream.mm_metrics  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"the {kind} task needs the 'mm' extra (mmcv 2.1.0, mmdet 3.3.0, mmsegmentation "
                          f"1.2.2; see README): {e}") from e


def _strip_prefix(metrics: dict[str, Any]) -> dict[str, float]:
    return {k.split("/", 1)[-1]: float(v) for k, v in metrics.items()}


def run_job(kind: str, preset_name: str, classes: list[str], test: Split, work_dir: Path, *,
            train: Split | None = None, checkpoint: str | os.PathLike | None = None, seed: int = 0,
            max_iters: int | None = None, batch_size: int | None = None, num_workers: int = 0,
            resume: bool = True, palette: list | None = None, reduce_zero_label: bool = False,
            init_checkpoint: str | None = None, keep_resume_checkpoints: bool = False,
            checkpoint_interval: int | None = None, norm: dict[str, Any] | None = None) -> JobResult:
    """Train (when ``checkpoint`` is None) on ``train`` and evaluate on ``test``; or evaluate ``checkpoint``.

    Training writes ``work_dir/train/model_final.safe.pth`` (weights-only) together with a fingerprint
    of everything that determines it (preset, classes, seed, schedule, train split content); a later call
    with the same fingerprint reuses it instead of retraining. An interrupted run resumes from mmengine's
    last ``iter_*.pth`` when ``resume`` (loaded through the scoped allow-list). ``norm`` replaces the preset's
    input normalisation for training and evaluation alike (it is in the fingerprint, through the model
    config). Returns metrics in percent.
    """
    from mmengine.runner import Runner

    _import_mm(kind)
    preset = load_preset(preset_name, kind)
    work_dir = Path(work_dir)
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if palette is None:
        from sagebench.tasks.downstream.classes import default_palette

        palette = default_palette(len(classes))
    if kind == "detection":
        test_ds = _prepare_det(test, classes, data_dir, "test")
    else:
        test_ds = _prepare_seg(test, classes, palette, data_dir, "test", reduce_zero_label)
    info: dict[str, Any] = {"preset": Path(preset["_path"]).stem, "preset_path": preset["_path"]}
    env = preset.get("init_checkpoint_env")
    if init_checkpoint is None and env and os.environ.get(env):
        init_checkpoint = os.environ[env]
    info["init"] = "scratch"
    if init_checkpoint:
        ip = Path(os.path.expandvars(str(init_checkpoint))).expanduser()
        if not ip.is_file():
            raise ConfigError(f"init_checkpoint {ip}: file not found (ImageNet weights come from a user path)")
        info["init"] = f"{ip} (sha256 {file_sha256(ip)})"
    trained = False
    t0 = time.perf_counter()
    with _quiet_mm():
        if checkpoint is None:
            if train is None:
                raise ConfigError(f"{kind}: neither a checkpoint nor a training split was given")
            tdir = work_dir / "train"
            tdir.mkdir(parents=True, exist_ok=True)
            train_ds = (_prepare_det(train, classes, data_dir, "train") if kind == "detection" else
                        _prepare_seg(train, classes, palette, data_dir, "train", reduce_zero_label))
            cfg = build_runner_config(kind, preset, classes, work_dir=tdir, train=train_ds, test=test_ds, seed=seed,
                                      max_iters=max_iters, batch_size=batch_size, num_workers=num_workers,
                                      resume=resume, checkpoint_interval=checkpoint_interval,
                                      init_checkpoint=init_checkpoint, norm=norm)
            fp = _fingerprint({k: cfg[k] for k in ("model", "optim_wrapper", "param_scheduler", "train_cfg",
                                                     "randomness")} |
                              {"batch": cfg["train_dataloader"]["batch_size"], "classes": classes,
                               "pipeline": preset["train_pipeline"], "train": split_fingerprint(train),
                               "reduce_zero_label": reduce_zero_label} |
                              ({"hooks": preset["custom_hooks"]} if preset.get("custom_hooks") else {}))
            weights = tdir / WEIGHTS_NAME
            cached = None
            if weights.is_file():
                _, meta = load_state_dict(weights)
                cached = weights if meta.get("fingerprint") == fp else None
            if cached is None:
                if not resume:
                    for old in tdir.glob("iter_*.pth"):
                        old.unlink()
                    (tdir / "last_checkpoint").unlink(missing_ok=True)
                from mmengine.config import Config

                runner = Runner.from_cfg(Config(cfg))
                with mmengine_resume_globals():  # scoped allow-list for resume / Pretrained init loads
                    runner.train()
                save_weights(weights, trained_state(runner), {
                    "fingerprint": fp, "task": kind, "preset": info["preset"], "seed": int(seed),
                    "max_iters": int(cfg["train_cfg"]["max_iters"]), "classes": json.dumps(classes)})
                trained = True
                info["train_seconds"] = time.perf_counter() - t0
                if not keep_resume_checkpoints:
                    for old in tdir.glob("iter_*.pth"):
                        old.unlink()
                    (tdir / "last_checkpoint").unlink(missing_ok=True)
                del runner
                cached = weights
            # the saved weights are scored exactly as a later run that finds them cached scores them (the
            # training runner's own test would rebuild hooks such as EMAHook's averaged copy from the raw model)
            checkpoint = cached
            info["fingerprint"] = fp
        # evaluate a given (or cached) checkpoint
        sd, meta = load_state_dict(checkpoint)
        sha = file_sha256(checkpoint)
        edir = inside(work_dir, "eval", what="evaluation folder")
        if edir.is_symlink():
            edir.unlink()  # a link is removed, never what it points to
        elif edir.exists():
            shutil.rmtree(edir)
        cfg = build_runner_config(kind, preset, classes, work_dir=edir, train=None, test=test_ds, seed=seed,
                                  norm=norm)
        from mmengine.config import Config

        runner = Runner.from_cfg(Config(cfg))
        model = _bare(runner)
        _load_trained(model, sd, checkpoint, info["preset"], classes)
        metrics = _strip_prefix(runner.test())
        info["device"] = str(next(model.parameters()).device)
        if not trained:
            info["checkpoint_meta"] = {k: v for k, v in meta.items() if k != "classes"}
    return JobResult(metrics, Path(checkpoint), sha, trained, info)
