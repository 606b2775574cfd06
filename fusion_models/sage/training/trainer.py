"""The SAGE bi-level trainer: teacher (SAM-prior network) and student (distilled CNN) trained in
alternating single steps on one data stream, driven by an mmengine ``Config``.

Schedule (spec 5.4): within an epoch >= ``student_epoch`` even batches give one student step, odd batches
one teacher step; earlier epochs are teacher-only; an extra teacher step may close an epoch (switch
``extra_teacher_step``). Each network has its own Adam optimiser and cosine learning rate (switch
``scheduler_length`` sets the cosine length). Checkpoints hold everything needed to continue exactly
(models, optimisers, step counters, position in the epoch, RNG state) and load with ``weights_only=True``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sagebench.colour import ycrcb_to_rgb
from sagebench.errors import ConfigError, SagebenchError
from sagebench.fusion_models.sage.sam_priors import SamPriors, build_feature_encoder
from sagebench.fusion_models.sage.student import SAGEStudentNet
from sagebench.fusion_models.sage.teacher import SAGETeacherNet
from sagebench.fusion_models.sage.training.data import SageTrainSet, collate, epoch_permutation
from sagebench.fusion_models.sage.training.losses import (
    FusionLoss,
    GradientLoss,
    SamTripletLoss,
    SegHead,
    cosine_distillation,
    load_frozen_segmenter,
    seg_cross_entropy,
)
from sagebench.fusion_models.sage.training.switches import resolve_switches
from sagebench.io import atomic_path, write_json

CHECKPOINT_FORMAT = "sagebench.sage_train/1"

DEFAULTS: dict[str, Any] = {
    "preset": "fixed",
    "switches": {},
    "work_dir": "work_dirs/sage",
    "device": None,
    "model": {"student_dim": 32, "mask_num": 4, "teacher_width": 64, "teacher_out_bias": None,
              "student_init": None, "teacher_init": None},
    "sam": {"model_type": "vit_b", "checkpoint": None, "amg": None, "top_k": 20, "cache_dir": None,
            "encoder_blocks": 2, "seed": 0, "device": None},
    "data": {"source": None, "kwargs": {}, "split_file": None, "split_part": "train", "split_partial": False,
             "crop": (192, 256), "hflip": True, "num_workers": 0},
    "train": {"epochs": 100, "batch_size": 4, "student_lr": 2e-3, "teacher_lr": 5e-4, "eta_min": 1e-5,
              "student_epoch": 1, "ini_epoch": 1, "seed": 2, "log_interval": 10, "checkpoint_interval": 500,
              "keep_checkpoints": 2},
    "loss": {"contrast": True, "contrast_scale": 1 / 3000, "seg_weight": 0.3, "seg_num_classes": None,
             "segmenter": None, "student_cos": 0.3, "teacher_student_weight": 0.1, "teacher_cos": 0.01},
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(base.get(k), dict) and isinstance(v, dict) else v
    return out


def normalise_config(cfg: Any) -> dict[str, Any]:
    """Plain-dict config with defaults filled in; unknown top-level sections raise :class:`ConfigError`."""
    if hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    cfg = {k: v for k, v in dict(cfg).items() if not k.startswith("_")}
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}")
    out = _merge(DEFAULTS, cfg)
    for sec in ("model", "sam", "data", "train", "loss"):
        bad = set(out[sec]) - set(DEFAULTS[sec])
        if bad:
            raise ConfigError(f"unknown keys in config section {sec!r}: {', '.join(sorted(bad))}")
    return out


def epoch_plan(n_batches: int, epoch: int, student_epoch: int, extra_rule: str) -> list[tuple[int, str]]:
    """``[(batch_index, 'student'|'teacher'), ...]`` for the 0-based ``epoch`` (spec 5.4, switch
    ``extra_teacher_step``). ``student_epoch`` counts epochs from 1, as upstream: with the default 1 the
    student trains from the first epoch; with 2 the first epoch is teacher-only."""
    if epoch + 1 < student_epoch:
        return [(i, "teacher") for i in range(n_batches)]
    plan = [(i, "student" if i % 2 == 0 else "teacher") for i in range(n_batches)]
    if n_batches:
        extra = (n_batches % 2 == 0) if extra_rule == "inverted" else (n_batches % 2 == 1)
        if extra:
            plan.append((n_batches - 1, "teacher"))
    return plan


def _f(t: torch.Tensor) -> float:
    return float(t.detach())


def cosine_lr(lr0: float, eta_min: float, step: int, t_max: int) -> float:
    """Closed form of ``CosineAnnealingLR`` after ``step`` scheduler steps."""
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * step / max(1, t_max))) / 2



def open_training_data(d: dict[str, Any]):
    """The training dataset of a ``data`` config section: ``open_dataset(source, **kwargs)``, restricted to
    ``split_part`` of ``split_file`` when one is given (a shipped split such as ``"msrs_official_v1"`` or a
    split file, for a flat copy of the dataset; every image of the part must be present unless
    ``split_partial``)."""
    if not d.get("source"):
        raise ConfigError("config data.source is empty: give a dataset folder or 'synthetic'")
    from sagebench.datasets import open_dataset

    ds = open_dataset(d["source"], **dict(d.get("kwargs") or {}))
    if d.get("split_file"):
        from sagebench.datasets.splits import apply_split

        ds = apply_split(ds, d["split_file"], d.get("split_part") or "train",
                         allow_partial=bool(d.get("split_partial")))
    return ds

class SageTrainer:
    """Train the SAGE teacher and student.

    Args:
        cfg: an mmengine ``Config`` or a dict with the sections of :data:`DEFAULTS`.
        dataset: a paired dataset object (overrides ``data.source``; used by tests and notebooks).
        work_dir: overrides ``cfg.work_dir``.
        priors: a ready :class:`SamPriors` (overrides the ``sam`` section for the masks).
        device: overrides ``cfg.device``.
    """

    def __init__(self, cfg: Any, *, dataset: Sequence | None = None, work_dir: str | Path | None = None,
                 priors: SamPriors | None = None, device: str | None = None) -> None:
        self.cfg = normalise_config(cfg)
        c = self.cfg
        self.switches = resolve_switches(c["preset"], c["switches"])
        self.work_dir = Path(work_dir or c["work_dir"])
        self.work_dir.mkdir(parents=True, exist_ok=True)
        dev = device or c["device"] or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(dev)
        self.logger = self._make_logger()
        t = c["train"]
        self.seed = int(t["seed"])
        torch.manual_seed(self.seed)

        # data
        self.base = dataset if dataset is not None else self._open_dataset()
        if len(self.base) == 0:
            raise ConfigError("the training dataset is empty")
        s = c["sam"]
        self.priors = priors or SamPriors(
            s["model_type"], s["checkpoint"], amg=s["amg"], top_k=s["top_k"],
            channel_order=self.switches["amg_channel_order"], cache_dir=s["cache_dir"],
            device=s["device"] or dev, seed=s["seed"])
        self.trainset = SageTrainSet(self.base, self.priors, crop=tuple(c["data"]["crop"]),
                                     mask_num=c["model"]["mask_num"], mask_mode=self.switches["mask_mode"],
                                     hflip=c["data"]["hflip"], seed=self.seed,
                                     label_nearest=self.switches["seg_labels"] == "class_ids")

        # models
        m = c["model"]
        self.student = SAGEStudentNet(dim=m["student_dim"]).to(self.device)
        self.teacher = SAGETeacherNet(mask_num=m["mask_num"], width=m["teacher_width"],
                                      feat_dim=m["student_dim"]).to(self.device)
        if m["teacher_out_bias"] is not None:
            # optional start value of the last conv's bias: with PyTorch's default init the teacher's final
            # LeakyReLU often starts in its negative (slope 0.01) regime and learns very slowly at first
            with torch.no_grad():
                self.teacher.img_decoder2[-2].bias.fill_(float(m["teacher_out_bias"]))
        for net, key in ((self.student, "student_init"), (self.teacher, "teacher_init")):
            if m[key]:
                from sagebench.fusion_models.sage.sam_priors import load_state_dict_safely

                load_state_dict_safely(net, m[key], what=key)
        self.segmenter, self.seg_trainable = self._build_segmenter()

        # losses
        lc = c["loss"]
        triplet = None
        if lc["contrast"]:
            sam_model = self.priors.sam if self.switches["sam_encoder"] == "pretrained_normalised" else None
            enc = build_feature_encoder(sam_model, self.switches["sam_encoder"], s["model_type"],
                                        s["encoder_blocks"], seed=s["seed"]).to(self.device)
            triplet = SamTripletLoss(enc, self.switches["feature_distance"])
        self.fusion_loss = FusionLoss(triplet, lc["contrast_scale"]).to(self.device)
        self.grad_loss = GradientLoss().to(self.device)

        # optimisers
        t_params = list(self.teacher.parameters())
        if self.seg_trainable:
            t_params += list(self.segmenter.parameters())
        self.opt_student = torch.optim.Adam(self.student.parameters(), lr=t["student_lr"])
        self.opt_teacher = torch.optim.Adam(t_params, lr=t["teacher_lr"])
        self.n_batches = math.ceil(len(self.trainset) / t["batch_size"])
        self.t_max = self._schedule_lengths()

        # progress
        self.epoch, self.pos = 0, 0
        self.steps = {"student": 0, "teacher": 0}
        self.global_step = 0
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ building blocks
    def _make_logger(self):
        from mmengine.logging import MMLogger

        name = f"sage_train_{id(self)}_{time.time_ns()}"
        return MMLogger.get_instance(name, logger_name="sagebench.train",
                                     log_file=str(self.work_dir / "train.log"), log_level="INFO")

    def _open_dataset(self):
        return open_training_data(self.cfg["data"])

    def _build_segmenter(self) -> tuple[nn.Module | None, bool]:
        mode = self.switches["seg_loss"]
        lc = self.cfg["loss"]
        if mode == "none" or lc["seg_weight"] == 0:
            return None, False
        first = self.base[0]
        if not (first.target and "seg" in first.target):
            raise ConfigError(f"switch seg_loss={mode!r} needs segmentation labels, but pair {first.name!r} of the "
                              "training set has none; set switches=dict(seg_loss='none') (or loss.seg_weight=0)")
        if mode == "head":
            n = lc["seg_num_classes"] or len(getattr(self.base, "seg_classes", None) or [])
            if not n:
                raise ConfigError("switch seg_loss='head' needs segmentation labels: the dataset has no "
                                  "seg_classes and loss.seg_num_classes is not set (or set switches.seg_loss='none')")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed + 17)
                head = SegHead(int(n))
            return head.to(self.device), True
        spec = lc["segmenter"]
        if not spec or "factory" not in spec:
            raise ConfigError("switch seg_loss='frozen' needs loss.segmenter=dict(factory='pkg.mod:fn', ...)")
        kwargs = {k: v for k, v in spec.items() if k != "factory"}
        return load_frozen_segmenter(spec["factory"], **kwargs).to(self.device), False

    def _schedule_lengths(self) -> dict[str, int]:
        t = self.cfg["train"]
        if self.switches["scheduler_length"] == "all_batches":
            total = t["epochs"] * self.n_batches
            return {"student": total, "teacher": total}
        counts = {"student": 0, "teacher": 0}
        for e in range(t["epochs"]):
            for _, role in epoch_plan(self.n_batches, e, t["student_epoch"], self.switches["extra_teacher_step"]):
                counts[role] += 1
        return counts

    def _batches(self, epoch: int, plan: list[tuple[int, str]], start: int):
        """Yield the device batches of ``plan[start:]`` in order (``data.num_workers`` loader processes)."""
        bs = self.cfg["train"]["batch_size"]
        order = epoch_permutation(len(self.trainset), self.seed, epoch)
        index_lists = [order[bi * bs:(bi + 1) * bs] for bi, _ in plan[start:]]
        self.trainset.set_epoch(epoch)
        workers = int(self.cfg["data"]["num_workers"] or 0)
        loader = torch.utils.data.DataLoader(self.trainset, batch_sampler=index_lists, collate_fn=collate,
                                             num_workers=workers, pin_memory=self.device.type == "cuda")
        for batch in loader:
            yield {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _set_lr(self, role: str) -> float:
        t = self.cfg["train"]
        lr0 = t["student_lr"] if role == "student" else t["teacher_lr"]
        lr = cosine_lr(lr0, t["eta_min"], self.steps[role], self.t_max[role])
        opt = self.opt_student if role == "student" else self.opt_teacher
        for g in opt.param_groups:
            g["lr"] = lr
        return lr

    # ------------------------------------------------------------------ steps
    def student_step(self, b: dict[str, torch.Tensor]) -> dict[str, float]:
        lc = self.cfg["loss"]
        self.student.train()
        with torch.no_grad():
            t_out, t_feats = self.teacher(b["y"], b["ir"], b["vis_masks"], b["ir_masks"])
        if self.switches["teacher_target"] == "clamped":
            t_out = t_out.clamp(0, 1)
        s_out, s_feats = self.student(b["y"], b["ir"])
        parts = self.fusion_loss(s_out, b["y"], b["ir"], t_out, b["vis_masks"], b["ir_masks"])
        cos = cosine_distillation(s_feats, [f.detach() for f in t_feats])
        loss = parts["loss"] + lc["student_cos"] * cos
        self.opt_student.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_student.step()
        return {"loss": _f(loss), "fuse": _f(parts["fuse"]), "grad": _f(parts["grad"]),
                "contrast": _f(parts["contrast"]), "cos": _f(cos)}

    def teacher_step(self, b: dict[str, torch.Tensor], epoch: int) -> dict[str, float]:
        lc, t = self.cfg["loss"], self.cfg["train"]
        self.teacher.train()
        t_out, t_feats = self.teacher(b["y"], b["ir"], b["vis_masks"], b["ir_masks"])
        loss = (torch.nn.functional.mse_loss(t_out, b["y"]) + torch.nn.functional.mse_loss(t_out, b["ir"])
                + 2 * self.grad_loss(t_out, b["y"], b["ir"]))
        out: dict[str, float] = {"base": _f(loss)}
        if self.segmenter is not None and epoch + 1 >= t["ini_epoch"]:     # epochs count from 1 upstream
            sel = b["has_label"].bool()
            if bool(sel.any()):
                rgb = ycrcb_to_rgb(torch.cat([t_out, b["cr"], b["cb"]], 1)).clamp(0, 1)[sel]
                if self.seg_trainable:
                    self.segmenter.train()
                logits = self.segmenter(rgb)
                if logits.shape[-2:] != rgb.shape[-2:]:
                    logits = torch.nn.functional.interpolate(logits, size=rgb.shape[-2:], mode="bilinear",
                                                             align_corners=False)
                seg = seg_cross_entropy(logits, b["label"][sel], labels_mode=self.switches["seg_labels"],
                                        scores_mode=self.switches["seg_scores"])
                loss = loss + lc["seg_weight"] * seg
                out["seg"] = _f(seg)
        if epoch + 1 >= t["student_epoch"]:
            self.student.train(self.switches["student_bn_in_teacher_step"] == "train")
            with torch.no_grad():
                s_out, s_feats = self.student(b["y"], b["ir"])
            self.student.train()
            parts = self.fusion_loss(t_out, b["y"], b["ir"], s_out, b["vis_masks"], b["ir_masks"])
            cos = cosine_distillation(t_feats, [f.detach() for f in s_feats])
            loss = loss + lc["teacher_student_weight"] * parts["loss"] + lc["teacher_cos"] * cos
            out.update(fuse=_f(parts["fuse"]), grad=_f(parts["grad"]), contrast=_f(parts["contrast"]),
                       cos=_f(cos))
        self.opt_teacher.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_teacher.step()
        out["loss"] = _f(loss)
        return out

    # ------------------------------------------------------------------ loop
    def prepare_masks(self) -> dict[str, int]:
        """Compute (or find cached) SAM masks of every training pair before the first step."""
        stats = self.priors.prepare(self.base, progress=False)
        self.logger.info(f"SAM masks: {stats['cached']} cached, {stats['computed']} computed "
                         f"(settings {self.priors.settings_key}, cache {self.priors.cache.root})")
        return stats

    def train(self, stop_after: int | None = None) -> list[dict[str, Any]]:
        """Run (or continue) the schedule. ``stop_after``: stop once ``global_step`` reaches it (a
        checkpoint is written). Returns the loss records of the steps run by this call."""
        t = self.cfg["train"]
        self.prepare_masks()
        self.logger.info(f"SAGE training: preset={self.cfg['preset']} switches={self.switches} "
                         f"device={self.device} pairs={len(self.base)} batches/epoch={self.n_batches} "
                         f"cosine lengths={self.t_max}")
        records: list[dict[str, Any]] = []
        scalars = self.work_dir / "scalars.jsonl"
        while self.epoch < t["epochs"]:
            epoch = self.epoch
            plan = epoch_plan(self.n_batches, epoch, t["student_epoch"], self.switches["extra_teacher_step"])
            t0 = time.perf_counter()
            batches = self._batches(epoch, plan, self.pos)
            while self.pos < len(plan):
                if stop_after is not None and self.global_step >= stop_after:
                    self.save_checkpoint()
                    return records
                bi, role = plan[self.pos]
                batch = next(batches)
                lr = self._set_lr(role)
                try:
                    parts = self.student_step(batch) if role == "student" else self.teacher_step(batch, epoch)
                except torch.OutOfMemoryError as exc:
                    raise SagebenchError(f"out of memory in a {role} step at epoch {epoch}, batch {bi}: lower "
                                         f"train.batch_size or data.crop") from exc
                if not math.isfinite(parts["loss"]):
                    raise SagebenchError(f"non-finite {role} loss at epoch {epoch}, batch {bi}: {parts}")
                self.steps[role] += 1
                self.global_step += 1
                self.pos += 1
                rec = {"step": self.global_step, "epoch": epoch, "batch": bi, "role": role, "lr": lr, **parts}
                records.append(rec)
                self.history.append(rec)
                with open(scalars, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
                if self.global_step % t["log_interval"] == 0:
                    self.logger.info(f"epoch {epoch} step {self.global_step} {role}: " +
                                     " ".join(f"{k}={v:.5g}" for k, v in parts.items()) + f" lr={lr:.3g}")
                if t["checkpoint_interval"] and self.global_step % t["checkpoint_interval"] == 0:
                    self.save_checkpoint()
            self.logger.info(f"epoch {epoch} done in {time.perf_counter() - t0:.1f} s "
                             f"(student steps {self.steps['student']}, teacher steps {self.steps['teacher']})")
            self.epoch, self.pos = epoch + 1, 0
            self.save_checkpoint(self.work_dir / "checkpoints" / f"epoch_{epoch + 1}.pt")
        self.export_final()
        return records

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT, "epoch": self.epoch, "pos": self.pos, "global_step": self.global_step,
            "steps": dict(self.steps), "switches": dict(self.switches), "preset": self.cfg["preset"],
            "student": self.student.state_dict(), "teacher": self.teacher.state_dict(),
            "segmenter": self.segmenter.state_dict() if self.seg_trainable else {},
            "opt_student": self.opt_student.state_dict(), "opt_teacher": self.opt_teacher.state_dict(),
            "rng": rng, "config": json.dumps(self.cfg, default=str, sort_keys=True),
        }

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write a resumable checkpoint atomically (default ``checkpoints/iter_<step>.pt``) and point
        ``checkpoints/latest.pt`` at the same content."""
        ckdir = self.work_dir / "checkpoints"
        path = Path(path) if path else ckdir / f"iter_{self.global_step}.pt"
        state = self.state_dict()
        for p in (path, ckdir / "latest.pt"):
            with atomic_path(p) as tmp:
                torch.save(state, tmp)
        keep = self.cfg["train"]["keep_checkpoints"]
        if keep:
            for kind in ("iter", "epoch"):
                found = sorted(ckdir.glob(f"{kind}_*.pt"), key=lambda q: int(q.stem.split("_")[1]))
                for old in found[:-keep]:
                    old.unlink()
        self.logger.info(f"checkpoint {path} (step {self.global_step})")
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (``weights_only=True``)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: checkpoint not found")
        from sagebench.weights import load_checkpoint

        state, *_ = load_checkpoint(path, what="SAGE training checkpoint")
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{path}: not a sagebench SAGE training checkpoint")
        if state["switches"] != self.switches:
            raise ConfigError(f"{path}: written with switches {state['switches']}, config has {self.switches}")
        self.student.load_state_dict(state["student"])
        self.teacher.load_state_dict(state["teacher"])
        if self.seg_trainable:
            self.segmenter.load_state_dict(state["segmenter"])
        self.opt_student.load_state_dict(state["opt_student"])
        self.opt_teacher.load_state_dict(state["opt_teacher"])
        self.epoch, self.pos, self.global_step = int(state["epoch"]), int(state["pos"]), int(state["global_step"])
        self.steps = {k: int(v) for k, v in state["steps"].items()}
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.logger.info(f"resumed from {path} at epoch {self.epoch}, position {self.pos}, step {self.global_step}")

    def resume(self, spec: str | Path) -> None:
        """``spec`` = a checkpoint path or ``"auto"`` (``checkpoints/latest.pt`` when present)."""
        if str(spec) == "auto":
            latest = self.work_dir / "checkpoints" / "latest.pt"
            if latest.is_file():
                self.load_checkpoint(latest)
            else:
                self.logger.info(f"no checkpoint at {latest}; starting from scratch")
            return
        self.load_checkpoint(spec)

    def export_final(self) -> dict[str, Path]:
        """Write ``student_final.pt`` (a plain ``sage_student`` state_dict: load it with
        ``create_model('sage_student', weights=path)``), ``teacher_final.pt`` and ``summary.json``."""
        out = {}
        for name, net in (("student_final.pt", self.student), ("teacher_final.pt", self.teacher)):
            p = self.work_dir / name
            with atomic_path(p) as tmp:
                torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, tmp)
            out[name] = p
        write_json(self.work_dir / "summary.json", {
            "preset": self.cfg["preset"], "switches": self.switches, "global_step": self.global_step,
            "steps": self.steps, "epochs": self.epoch, "student": str(out["student_final.pt"]),
            "teacher": str(out["teacher_final.pt"]), "sam_settings_key": self.priors.settings_key})
        self.logger.info(f"final student weights: {out['student_final.pt']}")
        return out
