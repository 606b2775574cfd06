"""Throughput: parameters, MACs, latency / FPS and peak memory of a fusion model at a named resolution.

Measured on random inputs (IR ``B x 1 x H x W``, visible ``B x 3 x H x W``, seeded) through the full
``model.fuse`` path (colour conversion, padding and clamping included), under ``torch.inference_mode``:

* ``params``: learnable parameters (count); ``gmacs``: multiply-accumulates of one call in 1e9, from
  ``torch.utils.flop_counter`` (FLOPs / 2; it counts convolutions and matrix products, not element-wise
  operations, so training-free methods report ~0);
* ``latency_ms`` (median over ``repeats`` timed calls after ``warmup`` untimed ones), ``latency_iqr_ms``
  (75th minus 25th percentile), ``latency_std_ms``, ``fps`` (images per second at the median). CUDA
  events on GPU, ``time.perf_counter`` on CPU;
* ``peak_mem_mb``: peak memory that one call allocates beyond its inputs and the weights, in MiB: on CUDA
  ``torch.cuda.max_memory_allocated``; on CPU the peak of live tensor storage, tracked op by op.

The record's ``meta`` says what was measured where: device name, resolution, batch size, precision,
channels_last, BatchNorm folding, ``torch.compile``, warm-up, repeats, threads, torch version.
"""

from __future__ import annotations

import copy
import statistics
import time
import weakref
from typing import Any, ClassVar

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from sagebench.tasks.base import TASKS, Task, TaskContext, TaskResult

#: Named resolutions, as (height, width).
RESOLUTIONS = {"vga": (480, 640), "xga": (768, 1024), "720p": (720, 1280), "1080p": (1080, 1920)}


def parse_resolution(res: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``"1024x768"`` (width x height, as image sizes are named), a name in :data:`RESOLUTIONS`, or a
    ``(height, width)`` tuple -> ``(height, width)``."""
    if isinstance(res, str):
        key = res.strip().lower()
        if key in RESOLUTIONS:
            return RESOLUTIONS[key]
        try:
            w, h = (int(v) for v in key.split("x"))
        except ValueError:
            raise ValueError(f"resolution {res!r}: expected 'WIDTHxHEIGHT' (e.g. '1024x768') or one of "
                             f"{sorted(RESOLUTIONS)}") from None
    else:
        h, w = (int(v) for v in res)
    if h <= 0 or w <= 0:
        raise ValueError(f"resolution {res!r}: sides must be positive")
    return h, w


class _LiveTensorBytes(TorchDispatchMode):
    """Peak bytes of tensor storage alive at once that operators created while the mode was active.

    Storages that existed before (``ignore``: weights, inputs) are not counted; a storage is released
    when the last tensor created on it is garbage-collected.
    """

    def __init__(self, ignore: set[int]) -> None:
        super().__init__()
        self.ignore = ignore
        self.live: dict[int, list[int]] = {}
        self.current = self.peak = 0

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in pytree.tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr == 0 or ptr in self.ignore:
                continue
            if ptr in self.live:
                self.live[ptr][1] += 1
            else:
                self.live[ptr] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, ptr)
        return out


@TASKS.register_module(name="throughput")
class ThroughputTask(Task):
    """Speed and size of a fusion model (see module docstring).

    Args:
        resolution: ``"WIDTHxHEIGHT"``, a named resolution (``vga``, ``xga``, ``720p``, ``1080p``) or
            ``(height, width)``.
        batch_size: images per call.
        precision: ``fp32``, ``fp16`` or ``bf16`` (compute dtype of the network).
        channels_last: NHWC memory format for the network.
        fold_bn: fold BatchNorm into the preceding convolutions (inference-only speed-up).
        compile: ``torch.compile`` the network hooks (compilation happens during warm-up).
        warmup: untimed calls before timing (at least 1).
        repeats: timed calls.
        colour: ``"rgb"`` (3-channel visible input) or ``"gray"``.
    """

    name = "throughput"
    needs_model: ClassVar[bool] = True
    needs_fused: ClassVar[bool] = False
    per_dataset: ClassVar[bool] = False

    def __init__(self, resolution: str | tuple[int, int] = "1024x768", batch_size: int = 1,
                 precision: str = "fp32", channels_last: bool = False, fold_bn: bool = False,
                 compile: bool = False, warmup: int = 3, repeats: int = 20, colour: str = "rgb") -> None:
        from sagebench.fusion_models.base import PRECISIONS

        self.height, self.width = parse_resolution(resolution)
        if precision not in PRECISIONS:
            raise ValueError(f"throughput: precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        if int(batch_size) < 1 or int(warmup) < 1 or int(repeats) < 1:
            raise ValueError("throughput: batch_size, warmup and repeats must be >= 1")
        if colour not in ("rgb", "gray"):
            raise ValueError(f"throughput: colour must be 'rgb' or 'gray', got {colour!r}")
        self.batch_size, self.precision = int(batch_size), precision
        self.channels_last, self.fold_bn, self.compile = bool(channels_last), bool(fold_bn), bool(compile)
        self.warmup, self.repeats, self.colour = int(warmup), int(repeats), colour

    def config(self) -> dict[str, Any]:
        return {"resolution": f"{self.width}x{self.height}", "batch_size": self.batch_size,
                "precision": self.precision, "channels_last": self.channels_last, "fold_bn": self.fold_bn,
                "compile": self.compile, "warmup": self.warmup, "repeats": self.repeats, "colour": self.colour}

    def evaluate(self, ctx: TaskContext) -> TaskResult:
        from sagebench.devices import device_info

        if ctx.model is None:
            raise ValueError("throughput needs the fusion model (ctx.model is None)")
        device = torch.device(ctx.device)
        model = copy.deepcopy(ctx.model)  # runtime options must not leak into other cells
        # Inference only: no parameter of the copy needs grad. FlopCounterMode's module tracker otherwise hooks
        # every grad-requiring tensor a submodule is called with (LRRNet passes its thresholds as arguments),
        # which fails under inference mode.
        model.requires_grad_(False)
        model.configure(device=device, precision=self.precision, channels_last=self.channels_last,
                        fold_bn=self.fold_bn)
        gen = torch.Generator().manual_seed(ctx.seed)
        b, h, w = self.batch_size, self.height, self.width
        ir = torch.rand(b, 1, h, w, generator=gen).to(device)
        vis = torch.rand(b, 3 if self.colour == "rgb" else 1, h, w, generator=gen).to(device)

        with torch.inference_mode():
            macs = self._macs(model, ir, vis)
            peak_mb = self._peak_memory_mb(model, ir, vis, device)
            if self.compile:
                model.configure(compile=True)
            for _ in range(self.warmup):
                model.fuse(ir, vis)
            times_ms = self._time(model, ir, vis, device)

        median = statistics.median(times_ms)
        q = statistics.quantiles(times_ms, n=4) if len(times_ms) > 1 else [median] * 3
        summary = {
            "params": float(ctx.model.num_parameters()),
            "gmacs": macs / 1e9,
            "latency_ms": median,
            "latency_iqr_ms": q[2] - q[0],
            "latency_std_ms": statistics.stdev(times_ms) if len(times_ms) > 1 else 0.0,
            "fps": 1000.0 * b / median if median > 0 else float("inf"),
            "peak_mem_mb": peak_mb,
        }
        directions = {"params": "lower", "gmacs": "lower", "latency_ms": "lower", "latency_iqr_ms": "lower",
                      "latency_std_ms": "lower", "fps": "higher", "peak_mem_mb": "lower"}
        units = {"params": "count", "gmacs": "GMAC", "latency_ms": "ms", "latency_iqr_ms": "ms",
                 "latency_std_ms": "ms", "fps": "images/s", "peak_mem_mb": "MiB"}
        meta = {**self.config(), **device_info(str(device)), "units": units, "torch": torch.__version__,
                "timer": "cuda events" if device.type == "cuda" else "time.perf_counter",
                "macs_counter": "torch.utils.flop_counter (conv/matmul FLOPs / 2)",
                "memory": ("torch.cuda.max_memory_allocated above inputs+weights" if device.type == "cuda"
                           else "peak live tensor storage created during one call")}
        return TaskResult(task=self.name, summary=summary, directions=directions, meta=meta)

    @staticmethod
    def _macs(model, ir: torch.Tensor, vis: torch.Tensor) -> float:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            model.fuse(ir, vis)
        return counter.get_total_flops() / 2.0

    @staticmethod
    def _peak_memory_mb(model, ir: torch.Tensor, vis: torch.Tensor, device: torch.device) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            model.fuse(ir, vis)
            torch.cuda.synchronize(device)
            return (torch.cuda.max_memory_allocated(device) - base) / 2**20
        ignore = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers(), ir, vis)}
        with _LiveTensorBytes(ignore) as mode:
            model.fuse(ir, vis)
        return mode.peak / 2**20

    def _time(self, model, ir: torch.Tensor, vis: torch.Tensor, device: torch.device) -> list[float]:
        times = []
        if device.type == "cuda":
            for _ in range(self.repeats):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                model.fuse(ir, vis)
                end.record()
                torch.cuda.synchronize(device)
                times.append(start.elapsed_time(end))
        else:
            for _ in range(self.repeats):
                t0 = time.perf_counter()
                model.fuse(ir, vis)
                times.append((time.perf_counter() - t0) * 1000.0)
        return times
