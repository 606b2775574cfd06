"""``sagebench gpu-report``: every GPU figure the docs quote, measured in one prepared run.

One call (≤ 8 minutes on one GPU; ``--budget-s`` skips what would not fit) writes ``gpu_report.json`` and
``gpu_report.md`` with the device, driver, torch / CUDA / cuDNN versions and:

* **student**: the SAGE student at 640×480 and 1024×768, batch 1 and 16, as the plain fp32 path (the
  baseline) and as fp32 channels_last, fp32 with BatchNorm folded + channels_last, fp16 and bf16 (folded,
  channels_last), with and without ``torch.compile``; median and spread of CUDA-event timings after
  warm-up, images/s, the ratio to the plain path, parameters, MACs, and the fraction of the device's
  peak (measured in the same run with large matrix products of that dtype). Each variant's output is
  checked against the plain fp32 output (grey levels; tolerances in :data:`TOLERANCE`).
* **metrics**: the default metric suite batched on the device at 768×1024 (images/s) and its ratio to
  the same suite on the CPU, measured in the same run.
* **training**: ``SageTrainer`` steps on synthetic scenes at the paper's crop (192×256, batch 4):
  seconds per step and the epoch this projects on FMB's 1,220 training pairs (SAM mask generation, a
  one-off cached step, is not timed; the tiny SAM provides the masks, as no SAM checkpoint travels).
* **downstream**: training iterations of Faster R-CNN R50-FPN and SegFormer-b1 at the configs' sizes on
  fused synthetic scenes (seconds per iteration, from two runs of different length) and the projected
  training time per method; reported as skipped, with the reason, where mmdet/mmseg cannot run.

``--smoke`` runs every section through the same code on tiny sizes (CPU in CI): it checks the script,
not the numbers.
"""

from __future__ import annotations

import math
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

SCHEMA = "sagebench.gpu_report/1"
#: Largest allowed difference from the plain fp32 output, in 8-bit grey levels: (max, 99.9th percentile).
TOLERANCE = {"fp32": (0.05, 0.01), "fp16": (4.0, 1.0), "bf16": (16.0, 4.0)}
#: Datasheet dense peaks (TFLOP/s) by device-name fragment, for reference beside the measured ones.
DATASHEET = {"H200": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4},
             "H100": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4},
             "A100": {"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0}}
FMB_TRAIN_PAIRS = 1220


@dataclass
class Settings:
    """What to measure (``smoke`` shrinks every size; the code paths stay the same)."""

    device: str
    smoke: bool = False
    resolutions: list[tuple[int, int]] = field(default_factory=lambda: [(480, 640), (768, 1024)])
    batches: list[int] = field(default_factory=lambda: [1, 16])
    compile_at: list[tuple[int, int]] = field(default_factory=lambda: [(768, 1024)])
    compile_backend: str = "inductor"
    warmup: int = 5
    repeats: int = 20
    metric_size: tuple[int, int] = (768, 1024)
    metric_batch: int = 8
    train_crop: tuple[int, int] = (192, 256)
    train_batch: int = 4
    train_steps: int = 10
    det_preset: str = "det_faster_rcnn_r50_fpn"
    seg_preset: str = "seg_segformer_b1"
    downstream_size: tuple[int, int] = (768, 1024)
    downstream_iters: tuple[int, int] = (3, 13)
    budget_s: float = 420.0
    weights: str | None = "sage_student_official"

    @classmethod
    def smoke_settings(cls, device: str = "cpu") -> Settings:
        return cls(device=device, smoke=True, resolutions=[(24, 32)], batches=[1, 2], compile_at=[(24, 32)],
                   compile_backend="eager", warmup=1, repeats=2, metric_size=(176, 192), metric_batch=2,
                   train_crop=(32, 48), train_batch=2, train_steps=2, det_preset="det_tiny_fcos",
                   seg_preset="seg_tiny_fcn", downstream_size=(64, 80), downstream_iters=(1, 2), budget_s=600.0)


class Budget:
    """Wall-clock budget of the whole report; sections ask before optional work."""

    def __init__(self, seconds: float) -> None:
        self.t0, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.t0)


# ------------------------------------------------------------------------------------------ timing
def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_calls(fn: Callable[[], Any], device: str, *, warmup: int, repeats: int) -> dict[str, float]:
    """Median, IQR, min and max in milliseconds of ``repeats`` calls after ``warmup`` untimed ones
    (CUDA events on a GPU, ``perf_counter`` on the CPU)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    cuda = device.startswith("cuda")
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return {"median_ms": statistics.median(times), "iqr_ms": q[2] - q[0], "min_ms": min(times),
            "max_ms": max(times), "n": len(times), "timer": "cuda events" if cuda else "perf_counter"}


def matmul_peak(device: str, dtype: torch.dtype, n: int) -> float:
    """Measured TFLOP/s of an ``n x n x n`` matrix product in ``dtype`` (the achievable peak)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t = time_calls(lambda: a @ b, device, warmup=2, repeats=5)
    return 2 * n ** 3 / (t["median_ms"] / 1e3) / 1e12


# ------------------------------------------------------------------------------------------ sections
def environment(device: str) -> dict[str, Any]:
    from sagebench import __version__

    env: dict[str, Any] = {"sagebench": __version__, "python": platform.python_version(), "torch": torch.__version__,
                           "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                           "device": device, "threads": torch.get_num_threads(), "platform": platform.platform(),
                           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                           "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    if device.startswith("cuda"):
        env["device_name"] = torch.cuda.get_device_name(device)
        props = torch.cuda.get_device_properties(device)
        env["memory_gib"] = round(props.total_memory / 2 ** 30, 1)
        env["multiprocessors"] = props.multi_processor_count
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            env["driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None
        except (OSError, subprocess.SubprocessError, IndexError):
            env["driver"] = None
    else:
        from sagebench.devices import cpu_name

        env["device_name"] = cpu_name()
        env["driver"] = None
    return env


def _student(weights: str | None, device: str, **runtime: Any):
    from sagebench.errors import WeightsError
    from sagebench.fusion_models import create_model

    try:
        return create_model("sage_student", weights=weights, device=device, **runtime), weights
    except WeightsError:  # timing does not depend on weight values; the report says which were used
        return create_model("sage_student", weights=None, device=device, **runtime), None


VARIANTS = [  # name, precision, runtime options
    ("plain fp32", "fp32", {}),
    ("fp32 channels_last", "fp32", {"channels_last": True}),
    ("fp32 fold_bn+channels_last", "fp32", {"channels_last": True, "fold_bn": True}),
    ("fp16 fold_bn+channels_last", "fp16", {"channels_last": True, "fold_bn": True}),
    ("bf16 fold_bn+channels_last", "bf16", {"channels_last": True, "fold_bn": True}),
]
COMPILED = ("fp32 fold_bn+channels_last", "bf16 fold_bn+channels_last")


def student_section(s: Settings, budget: Budget) -> dict[str, Any]:
    from torch.utils.flop_counter import FlopCounterMode

    dev = s.device
    peak_n = 512 if s.smoke else 8192
    peaks = {p: round(matmul_peak(dev, dt, peak_n), 3) for p, dt in
             (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16))
             if dev.startswith("cuda") or p != "fp16"}
    base_model, used = _student(s.weights, dev)
    out: dict[str, Any] = {"weights": used or "random init (official weights not available here)",
                           "params": base_model.num_parameters(), "matmul_peak_tflops": peaks, "rows": []}
    gen = torch.Generator().manual_seed(0)
    for h, w in s.resolutions:
        with FlopCounterMode(display=False) as fc, torch.inference_mode():
            base_model.fuse(torch.rand(1, 1, h, w, device=dev), torch.rand(1, 3, h, w, device=dev))
        macs1 = fc.get_total_flops() / 2
        for b in s.batches:
            ir = torch.rand(b, 1, h, w, generator=gen).to(dev)
            vis = torch.rand(b, 3, h, w, generator=gen).to(dev)
            with torch.inference_mode():
                ref = base_model.fuse(ir, vis).float()
            plain_ms = None
            for compiled in (False, True):
                for name, prec, rt in VARIANTS:
                    if compiled and (name not in COMPILED or (h, w) not in s.compile_at):
                        continue
                    if prec == "fp16" and not dev.startswith("cuda"):
                        continue  # half convolutions are not a CPU path
                    label = name + (" +compile" if compiled else "")
                    row = {"resolution": f"{w}x{h}", "batch": b, "variant": label, "precision": prec}
                    if budget.left() < 30:
                        out["rows"].append(row | {"skipped": "time budget"})
                        continue
                    model, _ = _student(used, dev, precision=prec, **rt)
                    if compiled:
                        model.fuse_gray = torch.compile(model.fuse_gray, backend=s.compile_backend)
                    try:
                        with torch.inference_mode():
                            t0 = time.perf_counter()
                            got = model.fuse(ir, vis).float()
                            row["first_call_s"] = round(time.perf_counter() - t0, 3)
                            t = time_calls(lambda m=model, a=ir, v=vis: m.fuse(a, v), dev, warmup=s.warmup,
                                           repeats=s.repeats)
                    except Exception as exc:  # noqa: BLE001 - a variant that cannot run is reported, not fatal
                        out["rows"].append(row | {"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
                        continue
                    diff = (got - ref).abs().mul_(255).flatten()
                    mx, p999 = float(diff.max()), float(torch.quantile(diff[: 2 ** 24].float(), 0.999))
                    tol = TOLERANCE[prec]
                    plain_ms = t["median_ms"] if label == "plain fp32" else plain_ms
                    tflops = 2 * macs1 * b / (t["median_ms"] / 1e3) / 1e12
                    row |= {**{k: round(v, 4) if isinstance(v, float) else v for k, v in t.items()},
                            "images_per_s": round(b / (t["median_ms"] / 1e3), 2),
                            "speedup_vs_plain": round(plain_ms / t["median_ms"], 3) if plain_ms else None,
                            "gmacs_per_image": round(macs1 / 1e9, 3), "achieved_tflops": round(tflops, 3),
                            "fraction_of_peak": round(tflops / peaks[prec], 4) if prec in peaks else None,
                            "max_diff_levels": round(mx, 4), "p999_diff_levels": round(p999, 4),
                            "tolerance_levels": list(tol), "within_tolerance": mx <= tol[0] and p999 <= tol[1]}
                    out["rows"].append(row)
                    del model
    return out


def metrics_section(s: Settings, budget: Budget) -> dict[str, Any]:
    from sagebench.tasks.metrics import DEFAULT_METRICS, compute_metrics

    h, w = s.metric_size
    gen = torch.Generator().manual_seed(1)
    trip = [torch.rand(s.metric_batch, c, h, w, generator=gen) for c in (3, 1, 3)]
    out: dict[str, Any] = {"metrics": list(DEFAULT_METRICS), "size": f"{w}x{h}", "batch": s.metric_batch}
    one = [t[:1] for t in trip]
    cpu = time_calls(lambda: compute_metrics(*one, metrics=DEFAULT_METRICS), "cpu", warmup=1,
                     repeats=2 if s.smoke else 3)
    out["cpu"] = cpu | {"images_per_s": round(1e3 / cpu["median_ms"], 3), "threads": torch.get_num_threads()}
    if s.device == "cpu":
        out["device"] = dict(out["cpu"])
        out["ratio_device_to_cpu"] = 1.0
        return out
    dev = [t.to(s.device) for t in trip]
    ref = compute_metrics(*one, metrics=DEFAULT_METRICS)
    got = compute_metrics(*[t[:1] for t in dev], metrics=DEFAULT_METRICS)
    out["max_rel_diff_vs_cpu"] = max(float((got[k].cpu() - ref[k]).abs().max() / (ref[k].abs().max() + 1e-12))
                                      for k in ref)
    t = time_calls(lambda: compute_metrics(*dev, metrics=DEFAULT_METRICS), s.device, warmup=1,
                   repeats=3 if budget.left() > 60 else 1)
    out["device"] = t | {"images_per_s": round(s.metric_batch * 1e3 / t["median_ms"], 3)}
    out["ratio_device_to_cpu"] = round(out["device"]["images_per_s"] / out["cpu"]["images_per_s"], 2)
    return out


def training_section(s: Settings, budget: Budget, work: Path) -> dict[str, Any]:
    from sagebench.datasets import open_dataset
    from sagebench.fusion_models.sage.training import SageTrainer, epoch_plan

    ch, cw = s.train_crop
    warm = 2
    n = s.train_batch * (warm + s.train_steps + 2)
    cfg = dict(preset="fixed", device=s.device,
               model=dict(teacher_width=16) if s.smoke else dict(),
               sam=dict(model_type="tiny", top_k=6 if s.smoke else 20, cache_dir=str(work / "sam_masks"),
                        amg=dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, crop_n_layers=0)),
               data=dict(crop=(ch, cw), num_workers=0),
               train=dict(epochs=1, batch_size=s.train_batch, log_interval=10 ** 6, checkpoint_interval=0,
                          keep_checkpoints=1))
    ds = open_dataset("synthetic", n=n, seed=0, size=(ch + 16, cw + 16))
    trainer = SageTrainer(cfg, dataset=ds, work_dir=work / "train")
    trainer.prepare_masks()
    trainer.train(stop_after=warm)
    _sync(s.device)
    t0 = time.perf_counter()
    records = trainer.train(stop_after=warm + s.train_steps)
    _sync(s.device)
    sec = (time.perf_counter() - t0) / max(1, len(records))
    roles = {r: sum(1 for x in records if x["role"] == r) for r in ("student", "teacher")}
    steps_per_epoch = len(epoch_plan(math.ceil(FMB_TRAIN_PAIRS / s.train_batch), 1, 1, "standard"))
    return {"crop": f"{cw}x{ch}", "batch": s.train_batch, "steps_timed": len(records), "roles": roles,
            "seconds_per_step": round(sec, 4), "fmb_steps_per_epoch": steps_per_epoch,
            "fmb_epoch_s": round(sec * steps_per_epoch, 1), "sam": "tiny (mask generation not timed)",
            "teacher_width": trainer.cfg["model"]["teacher_width"]}


def downstream_section(s: Settings, budget: Budget, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        from sagebench.tasks.downstream.engine import Split, load_preset, run_job
    except Exception as exc:  # noqa: BLE001
        return {"skipped": f"downstream engine not importable: {type(exc).__name__}: {exc}"}
    from sagebench.datasets import open_dataset, write_synthetic
    from sagebench.fusion_models import create_model
    from sagebench.fusion_models.fuse import fuse_dataset

    h, w = s.downstream_size
    root = write_synthetic(work / "scenes", n=8, seed=0, size=(h, w), night_fraction=1.0, overwrite=True)
    fused_dir = work / "fused"
    for kind, preset in (("detection", s.det_preset), ("segmentation", s.seg_preset)):
        if budget.left() < 90:
            out[kind] = {"preset": preset, "skipped": "time budget"}
            continue
        try:
            ds = open_dataset(str(root))
            classes = list(ds.det_classes if kind == "detection" else ds.seg_classes)
            fuse_dataset(create_model("max_abs"), ds, fused_dir / kind, progress=False)
            split = Split(ds, fused_dir / kind)
            cfg = load_preset(preset, kind)
            runs = {}
            for i, iters in enumerate((1, *s.downstream_iters)):  # the first run warms imports and kernels
                res = run_job(kind, preset, classes, split, work / f"{kind}_{i}", train=split,
                              max_iters=iters, batch_size=2 if s.smoke else None, resume=False)
                if i:
                    runs[iters] = res.info["train_seconds"]
            a, b = s.downstream_iters
            per_iter = (runs[b] - runs[a]) / (b - a)
            out[kind] = {"preset": preset, "batch": 2 if s.smoke else cfg["batch_size"], "image": f"{w}x{h}",
                         "seconds_per_iter": round(per_iter, 4), "config_iters": cfg["max_iters"],
                         "projected_train_min_per_method": round(per_iter * cfg["max_iters"] / 60, 1),
                         "runs_s": {str(k): round(v, 2) for k, v in runs.items()}}
        except Exception as exc:  # noqa: BLE001 - e.g. mmcv without CUDA ops on the GPU machine
            out[kind] = {"preset": preset, "skipped": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return out


# ------------------------------------------------------------------------------------------ report
def run_report(s: Settings, out_dir: Path, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every section (each failure is recorded, never fatal) and write the JSON and Markdown."""
    import tempfile

    from sagebench.io import write_json, write_text

    budget = Budget(s.budget_s)
    report: dict[str, Any] = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "smoke": s.smoke, "environment": environment(s.device),
                              "settings": {k: v for k, v in s.__dict__.items()}}
    name = report["environment"].get("device_name") or ""
    report["datasheet_tflops"] = next((v for k, v in DATASHEET.items() if k in name), None)
    with tempfile.TemporaryDirectory(prefix="sagebench-gpu-") as tmp:
        for section, fn in (("student", lambda: student_section(s, budget)),
                            ("metrics", lambda: metrics_section(s, budget)),
                            ("training", lambda: training_section(s, budget, Path(tmp) / "train")),
                            ("downstream", lambda: downstream_section(s, budget, Path(tmp) / "down"))):
            t0 = time.perf_counter()
            log(f"[gpu-report] {section} ...")
            try:
                report[section] = fn()
            except Exception as exc:  # noqa: BLE001 - the other sections still run
                report[section] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            report[section]["section_seconds"] = round(time.perf_counter() - t0, 1)
            log(f"[gpu-report] {section} done in {report[section]['section_seconds']} s")
    report["total_seconds"] = round(time.perf_counter() - budget.t0, 1)
    out_dir = Path(out_dir)
    write_json(out_dir / "gpu_report.json", report)
    write_text(out_dir / "gpu_report.md", to_markdown(report))
    return report


def _table(rows: list[dict[str, Any]], cols: list[str]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |")
    return lines


def to_markdown(r: dict[str, Any]) -> str:
    env = r["environment"]
    lines = [f"# GPU report ({'smoke test, ' if r['smoke'] else ''}{r['created']})", "",
             f"Device **{env.get('device_name')}** ({env['device']}), driver {env.get('driver')}, "
             f"torch {env['torch']}, "
             f"CUDA {env['cuda']}, cuDNN {env['cudnn']}, sagebench {env['sagebench']}; TF32 matmul "
             f"{env['tf32_matmul']}, TF32 cuDNN {env['tf32_cudnn']}. Total {r.get('total_seconds')} s.", ""]
    st = r.get("student", {})
    lines += ["## SAGE student", ""]
    if "rows" in st:
        lines += [f"Weights: {st['weights']}; {st['params']:,} parameters; measured matmul peak (TFLOP/s): "
                  f"{st['matmul_peak_tflops']}; datasheet: {r.get('datasheet_tflops')}.", ""]
        lines += _table(st["rows"], ["resolution", "batch", "variant", "median_ms", "iqr_ms", "images_per_s",
                                     "speedup_vs_plain", "gmacs_per_image", "fraction_of_peak", "max_diff_levels",
                                     "within_tolerance", "skipped", "error"])
    else:
        lines.append(f"Not measured: {st.get('error')}")
    m = r.get("metrics", {})
    lines += ["", "## Metric suite", ""]
    lines += ([f"Default suite ({len(m['metrics'])} metrics) at {m['size']}: device {m['device']['images_per_s']} "
               f"images/s (batch {m['batch']}), CPU {m['cpu']['images_per_s']} images/s "
               f"({m['cpu']['threads']} threads); ratio {m['ratio_device_to_cpu']}."] if "device" in m else
              [f"Not measured: {m.get('error')}"])
    t = r.get("training", {})
    lines += ["", "## SAGE training", ""]
    lines += ([f"Crop {t['crop']}, batch {t['batch']}: {t['seconds_per_step']} s per step ({t['roles']}); "
               f"FMB epoch ({t['fmb_steps_per_epoch']} steps): {t['fmb_epoch_s']} s. SAM: {t['sam']}."]
              if "seconds_per_step" in t else [f"Not measured: {t.get('error')}"])
    d = r.get("downstream", {})
    lines += ["", "## Downstream training", ""]
    for kind in ("detection", "segmentation"):
        x = d.get(kind, d)
        if "seconds_per_iter" in x:
            lines.append(f"- {kind}: {x['preset']} at {x['image']}, batch {x['batch']}: {x['seconds_per_iter']} "
                         f"s/iter; {x['config_iters']} iterations = {x['projected_train_min_per_method']} min per "
                         "method.")
        else:
            lines.append(f"- {kind}: not measured ({x.get('skipped') or x.get('error')})")
    return "\n".join(lines) + "\n"


def main_settings(device: str, smoke: bool, budget_s: float | None, weights: str | None) -> Settings:
    s = Settings.smoke_settings(device) if smoke else Settings(device=device)
    if budget_s is not None:
        s.budget_s = budget_s
    if weights is not None:
        s.weights = weights
    return s


__all__ = ["Settings", "run_report", "time_calls", "to_markdown"]
