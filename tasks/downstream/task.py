"""Shared implementation of the ``detection`` and ``segmentation`` tasks (see :mod:`sagebench.tasks.detection`).

Protocols:

* ``retrain`` (the papers' protocol): the task network is trained on this method's fused *train* images
  (``ctx.train_dataset`` / ``ctx.train_fused_dir``) and evaluated on its fused *test* images
  (``ctx.dataset`` / ``ctx.fused_dir``).
* ``frozen``: one task network scores every method's fused test images: either a user checkpoint
  (``checkpoint=``) or a network trained once on a reference input (``reference="vis_only"`` by default;
  any registered fusion method name) of the training split, cached by content under ``reference_dir``.

``input_stats``: the trained network's input normalisation. ``"preset"`` (default) keeps the preset's
ImageNet mean / std; ``"fused_train"`` (what the paper-style configs use) computes the per-channel mean / std
of the fused training images the network is trained on (each method's own for ``retrain``; the reference
input's for ``frozen``) and records it in the task meta.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

from sagebench.errors import ConfigError, DataError
from sagebench.tasks.base import Task, TaskContext, TaskResult
from sagebench.tasks.downstream.classes import metric_suffix

PROTOCOLS = ("retrain", "frozen", "eval")
#: input normalisation of the trained network: the preset's (ImageNet) or the fused training split's own
INPUT_STATS = ("preset", "fused_train")


class DownstreamTask(Task):
    """Common code; subclasses set ``name``, ``kind``, ``default_model`` and the class accessors."""

    kind: ClassVar[str] = ""
    default_model: ClassVar[str] = ""

    def __init__(self, model: str | None = None, protocol: str | None = None, checkpoint: str | None = None,
                 reference: str = "vis_only", reference_dir: str | None = None, max_iters: int | None = None,
                 batch_size: int | None = None, seed: int | None = None, init_checkpoint: str | None = None,
                 num_workers: int = 0, resume: bool = True, keep_resume_checkpoints: bool = False,
                 checkpoint_interval: int | None = None, reduce_zero_label: bool = False,
                 key_classes: list[str] | None = None, holdout: int | str | None = None,
                 skip_unlabelled: bool = False, input_stats: str = "preset") -> None:
        if protocol is None:  # a checkpoint means scoring with it; otherwise the papers' retrain protocol
            protocol = "frozen" if checkpoint else "retrain"
        if protocol not in PROTOCOLS:
            raise ConfigError(f"{self.name}: protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if protocol == "retrain" and checkpoint:
            raise ConfigError(f"{self.name}: checkpoint= is for protocol='frozen'; retrain trains per method")
        if protocol == "eval":  # frozen with the user's checkpoint: trains nothing
            if not checkpoint:
                raise ConfigError(f"{self.name}: protocol='eval' scores with a user checkpoint=; give one")
            protocol = "frozen"
        self.model = model or self.default_model
        self.protocol = protocol
        self.checkpoint = checkpoint
        self.reference = reference
        self.reference_dir = reference_dir
        self.max_iters = max_iters
        self.batch_size = batch_size
        self.seed = seed
        self.init_checkpoint = init_checkpoint
        self.num_workers = int(num_workers)
        self.resume = bool(resume)
        self.keep_resume_checkpoints = bool(keep_resume_checkpoints)
        self.checkpoint_interval = checkpoint_interval
        self.reduce_zero_label = bool(reduce_zero_label)
        self.key_classes = list(key_classes) if key_classes else None
        self.holdout = holdout
        self.skip_unlabelled = bool(skip_unlabelled)
        if input_stats not in INPUT_STATS:
            raise ConfigError(f"{self.name}: input_stats must be one of {INPUT_STATS}, got {input_stats!r}")
        if input_stats == "fused_train" and protocol == "frozen" and checkpoint:
            raise ConfigError(f"{self.name}: input_stats='fused_train' needs the training split the network is "
                              "trained on; a given checkpoint= keeps the normalisation it was trained with")
        self.input_stats = input_stats
        #: per instance: a training split is needed unless the network is given or trained inside the dataset
        self.needs_train_split = holdout is None and not (self.protocol == "frozen" and checkpoint)
        if holdout is not None and not (isinstance(holdout, str) or (isinstance(holdout, int) and holdout >= 2)):
            raise ConfigError(f"{self.name}: holdout must be an int >= 2 (every k-th image is a test image) or a "
                              f"split file name/path, got {holdout!r}")
        from sagebench.tasks.downstream.model_configs import preset_path

        preset_path(self.model)  # fail early on an unknown preset

    #: the dataset attribute holding this kind's class names (``det_classes`` / ``seg_classes``)
    classes_attr: ClassVar[str] = ""

    # ----------------------------------------------------------------------------------------- hooks
    def classes_of(self, dataset: Any) -> list[str] | None:
        return getattr(dataset, self.classes_attr, None)

    def palette_of(self, dataset: Any) -> list | None:
        return None

    def summary_keys(self, metrics: dict[str, float]) -> dict[str, float]:  # pragma: no cover - overridden
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ API
    def config(self) -> dict[str, Any]:
        from sagebench.tasks.downstream.model_configs import preset_path
        from sagebench.tasks.downstream.safe_checkpoint import file_sha256

        cfg: dict[str, Any] = {"model": self.model, "protocol": self.protocol, "max_iters": self.max_iters,
                               "batch_size": self.batch_size, "seed": self.seed,
                               "reduce_zero_label": self.reduce_zero_label,
                               "preset_sha256": file_sha256(preset_path(self.model))}
        if self.input_stats != "preset":
            cfg["input_stats"] = self.input_stats
        if self.protocol == "frozen":
            cfg["checkpoint_sha256"] = file_sha256(self._expand(self.checkpoint)) if self.checkpoint else None
            cfg["reference"] = None if self.checkpoint else self.reference
        if self.holdout is not None:
            cfg["holdout"] = self.holdout
        if self.init_checkpoint:
            cfg["init_checkpoint_sha256"] = file_sha256(self._expand(self.init_checkpoint))
        return cfg

    @staticmethod
    def _expand(p: str) -> Path:
        q = Path(os.path.expandvars(str(p))).expanduser()
        if not q.is_file():
            raise ConfigError(f"checkpoint {q}: file not found")
        return q

    def _classes(self, ctx: TaskContext) -> list[str]:
        classes = self.classes_of(ctx.dataset)
        if not classes:
            raise DataError(f"{getattr(ctx.dataset, 'name', 'dataset')}: has no {self.kind} labels/classes")
        return self._check_train_classes(ctx, classes)

    def _check_train_classes(self, ctx: TaskContext, classes: list[str]) -> list[str]:
        if ctx.train_dataset is not None and self.classes_of(ctx.train_dataset) != classes:
            raise DataError(f"{self.kind}: train and test splits have different classes: "
                            f"{self.classes_of(ctx.train_dataset)} vs {classes}")
        return list(classes)

    def _holdout_context(self, ctx: TaskContext) -> TaskContext:
        """Split ``ctx.dataset`` (fused once, as a whole) into train/test views by ``self.holdout``."""
        import dataclasses

        from sagebench.datasets.splits import SplitView, apply_split

        ds = ctx.dataset
        if isinstance(self.holdout, int):
            k = self.holdout
            test_idx = [i for i in range(len(ds)) if i % k == k - 1]
            train_idx = [i for i in range(len(ds)) if i % k != k - 1]
            train, test = SplitView(ds, train_idx, f"holdout{k}:train"), SplitView(ds, test_idx, f"holdout{k}:test")
        else:
            train, test = apply_split(ds, self.holdout, "train"), apply_split(ds, self.holdout, "test")
        if len(train) == 0 or len(test) == 0:
            raise DataError(f"{self.name}: holdout {self.holdout!r} leaves {len(train)} train / {len(test)} test "
                            f"images of {getattr(ds, 'name', 'the dataset')} ({len(ds)} images)")
        return dataclasses.replace(ctx, dataset=test, train_dataset=train, train_fused_dir=ctx.fused_dir)

    def _norm(self, train: Any, meta: dict[str, Any], whose: str) -> dict[str, Any] | None:
        """The input normalisation for a network trained on ``train`` (None: the preset's); recorded."""
        if self.input_stats == "preset":
            meta["input_stats"] = {"source": "preset"}
            return None
        from sagebench.tasks.downstream.engine import input_stats

        stats = input_stats(train)
        meta["input_stats"] = {"source": f"fused training split of {whose}", **stats}
        return {"mean": stats["mean"], "std": stats["std"]}

    def evaluate(self, ctx: TaskContext) -> TaskResult:
        from sagebench.tasks.downstream.engine import Split, run_job

        if not self.classes_of(ctx.dataset):
            if self.skip_unlabelled:
                why = f"{getattr(ctx.dataset, 'name', 'dataset')} has no {self.kind} labels"
                warnings.warn(f"{self.name}: not applicable to {why}; no {self.kind} metrics for it", stacklevel=2)
                return TaskResult(task=self.name, summary={}, meta={"not_applicable": why})
            self._classes(ctx)  # raises DataError naming the dataset
        if self.holdout is not None:
            if ctx.fused_dir is None:
                raise ConfigError(f"{self.name}: needs fused images (ctx.fused_dir)")
            ctx = self._holdout_context(ctx)
        if ctx.fused_dir is None:
            raise ConfigError(f"{self.name}: needs fused images of the test split (ctx.fused_dir)")
        seed = int(self.seed if self.seed is not None else ctx.seed)
        classes = self._classes(ctx)
        common = dict(seed=seed, max_iters=self.max_iters, batch_size=self.batch_size, num_workers=self.num_workers,
                      resume=self.resume, palette=self.palette_of(ctx.dataset),
                      reduce_zero_label=self.reduce_zero_label, init_checkpoint=self.init_checkpoint,
                      keep_resume_checkpoints=self.keep_resume_checkpoints,
                      checkpoint_interval=self.checkpoint_interval)
        test = Split(ctx.dataset, Path(ctx.fused_dir))
        work = Path(ctx.work_dir)
        meta: dict[str, Any] = {"protocol": self.protocol, "model_config": self.model, "seed": seed,
                                "classes": classes, "test_images": len(ctx.dataset)}
        if self.protocol == "retrain":
            if ctx.train_dataset is None or ctx.train_fused_dir is None:
                raise ConfigError(f"{self.name}: protocol 'retrain' needs the fused train split "
                                  f"(give the dataset a train_split)")
            train = Split(ctx.train_dataset, Path(ctx.train_fused_dir))
            norm = self._norm(train, meta, ctx.method)
            res = run_job(self.kind, self.model, classes, test, work, train=train, norm=norm, **common)
            meta["train_images"] = len(ctx.train_dataset)
        elif self.checkpoint:
            meta["input_stats"] = {"source": "preset"}
            res = run_job(self.kind, self.model, classes, test, work, checkpoint=self._expand(self.checkpoint),
                          **common)
            meta["checkpoint"] = str(self._expand(self.checkpoint))
        else:
            if ctx.train_dataset is None:
                raise ConfigError(f"{self.name}: protocol 'frozen' without checkpoint= trains once on the "
                                  f"reference input {self.reference!r} of the train split; give the dataset a "
                                  f"train_split or pass checkpoint=")
            ref_root = (Path(self.reference_dir) if self.reference_dir else
                        Path(ctx.reference_dir) if ctx.reference_dir is not None else
                        work.parent.parent / "_frozen_reference" / work.name)
            ref_dir = ref_root / self.reference
            ref_imgs = ref_dir / "fused_train"
            self._fuse_reference(ctx, ref_imgs)
            ref_train = Split(ctx.train_dataset, ref_imgs)
            norm = self._norm(ref_train, meta, f"the reference {self.reference!r}")
            res = run_job(self.kind, self.model, classes, test, ref_dir / "job", train=ref_train, norm=norm, **common)
            # the reference network was trained (or reused); now score this method's test images with it
            if res.checkpoint is not None:
                res = run_job(self.kind, self.model, classes, test, work, checkpoint=res.checkpoint, norm=norm,
                              **common)
            meta["reference"] = self.reference
            meta["train_images"] = len(ctx.train_dataset)
        if self.holdout is not None:
            meta["holdout"] = self.holdout
            meta["holdout_rule"] = ("every k-th image (dataset order, index % k == k - 1) is a test image"
                                    if isinstance(self.holdout, int) else "train/test parts of the split file")
        meta["checkpoint_sha256"] = res.checkpoint_sha256
        if res.checkpoint is not None:  # the network that made these numbers, and what it saw (for figures)
            meta["weights_file"] = str(Path(res.checkpoint).resolve())
            meta["fused_dir"] = str(Path(ctx.fused_dir).resolve())
        meta["trained_now"] = res.trained
        keep = ("preset", "device", "train_seconds", "fingerprint", "init")
        meta.update({k: v for k, v in res.info.items() if k in keep})
        summary = self.summary_keys(res.metrics)
        absent = [c for c in classes if not any(k.endswith("_" + metric_suffix(c)) for k in res.metrics)]
        if absent:
            meta["absent_classes"] = absent
        meta["all_metrics"] = json.dumps(res.metrics, sort_keys=True)
        meta["units"] = dict.fromkeys(summary, "%")
        meta["decimals"] = 1  # percent with one decimal, as the papers print mAP / mIoU
        return TaskResult(task=self.name, summary=summary, directions=dict.fromkeys(summary, "higher"), meta=meta)

    def _fuse_reference(self, ctx: TaskContext, out: Path) -> None:
        """Write the reference input (a registered fusion method, default ``vis_only``) of the train split."""
        from sagebench.fusion_models import create_model
        from sagebench.fusion_models.fuse import fuse_dataset

        try:
            model = create_model(self.reference)
        except Exception as e:
            raise ConfigError(f"{self.name}: reference {self.reference!r} is not a usable fusion method: {e}") from e
        model.eval()
        fuse_dataset(model, ctx.train_dataset, out, skip_existing=True, progress=False)




def register_kind(kind: str, *, classes_attr: str, default_model: str):
    """Class decorator of a downstream task kind: sets its ``name``/``kind``, the dataset attribute of its
    classes and its default preset, registers it as ``kind`` and registers the short names of its
    protocols, all building the class itself: ``<kind>_eval`` (``protocol="eval"``: score with a user
    ``checkpoint=``) and ``<kind>_holdout`` (retrain inside one labelled dataset, ``holdout=3`` unless
    given)."""
    from sagebench.tasks.base import TASKS

    def deco(cls: type[DownstreamTask]) -> type[DownstreamTask]:
        cls.name = cls.kind = kind
        cls.classes_attr, cls.default_model = classes_attr, default_model

        def evaluate_with(checkpoint: str, **kw: Any) -> DownstreamTask:
            return cls(protocol="eval", checkpoint=checkpoint, **kw)

        def holdout_within(holdout: int | str = 3, **kw: Any) -> DownstreamTask:
            return cls(holdout=holdout, **kw)

        TASKS.register_module(name=kind, module=cls)
        TASKS.register_module(name=f"{kind}_eval", module=evaluate_with)
        TASKS.register_module(name=f"{kind}_holdout", module=holdout_within)
        return cls

    return deco
