"""pytest-benchmark benchmarks of the metric suite (run once as tests under ``--benchmark-disable``).

Real timings: ``pytest tests/test_bench_metrics.py --benchmark-enable -m "slow or not slow"``. Inputs are
synthetic 8-bit-valued images (no shared data needed); the default suite is every metric but FMI, ``all``
adds FMI_pixel and FMI_w.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagebench.tasks.metrics import ALL_METRICS, DEFAULT_METRICS, compute_metrics


def _triple(b: int, h: int, w: int, device: str = "cpu", seed: int = 0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    ir = np.clip(base[None] + rng.normal(0, 12, (b, h, w)), 0, 255)
    vis = np.clip(255 - base[None] * 0.7 + rng.normal(0, 20, (b, 3, h, w)).mean(1), 0, 255)
    fused = np.clip(0.5 * ir + 0.5 * vis + rng.normal(0, 3, (b, h, w)), 0, 255)
    t = [torch.from_numpy(np.round(x) / 255.0).float()[:, None].to(device) for x in (fused, ir, vis)]
    return t


def _run(triple, metrics):
    out = compute_metrics(*triple, metrics=metrics)
    if triple[0].is_cuda:
        torch.cuda.synchronize()
    return out


def _check(out, names, b):
    assert list(out) == list(names)
    assert all(v.shape == (b,) and torch.isfinite(v).all() for v in out.values())


@pytest.mark.benchmark(group="metrics-768x1024")
def test_bench_default_suite_768x1024_cpu(benchmark):
    tri = _triple(1, 768, 1024)
    out = benchmark.pedantic(_run, args=(tri, list(DEFAULT_METRICS)), rounds=7, warmup_rounds=1)
    _check(out, DEFAULT_METRICS, 1)


#: the default suite before the MATLAB kits' metrics were added (EI, CE, Q_MI, Q_TE, Q_NCIE, RMSE, Q_SF, Q_M,
#: Q_Y, Q_C, Q_0, Q_W, Q_E): the baseline of the extended suite's ratio in docs/metrics.md
PREVIOUS_SUITE = ("EN", "SD", "SF", "AG", "MI", "SCD", "CC", "MSE", "PSNR", "VIF", "Qabf", "Nabf", "SSIM", "MS-SSIM",
                  "Qcb", "Qcv")


@pytest.mark.benchmark(group="metrics-768x1024")
def test_bench_previous_suite_768x1024_cpu(benchmark):
    tri = _triple(1, 768, 1024)
    out = benchmark.pedantic(_run, args=(tri, list(PREVIOUS_SUITE)), rounds=7, warmup_rounds=1)
    _check(out, PREVIOUS_SUITE, 1)


@pytest.mark.slow
@pytest.mark.benchmark(group="metrics-768x1024")
def test_bench_all_with_fmi_768x1024_cpu(benchmark):
    tri = _triple(1, 768, 1024)
    out = benchmark.pedantic(_run, args=(tri, list(ALL_METRICS)), rounds=1, warmup_rounds=0)
    _check(out, ALL_METRICS, 1)


@pytest.mark.slow
@pytest.mark.benchmark(group="metrics-16x480x640")
def test_bench_default_suite_batch16_480x640_cpu(benchmark):
    tri = _triple(16, 480, 640)
    out = benchmark.pedantic(_run, args=(tri, list(DEFAULT_METRICS)), rounds=1, warmup_rounds=0)
    _check(out, DEFAULT_METRICS, 16)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.benchmark(group="metrics-768x1024")
def test_bench_default_suite_768x1024_cuda(benchmark):
    tri = _triple(1, 768, 1024, "cuda")
    out = benchmark.pedantic(_run, args=(tri, list(DEFAULT_METRICS)), rounds=5, warmup_rounds=1)
    _check(out, DEFAULT_METRICS, 1)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.benchmark(group="metrics-768x1024")
def test_bench_all_with_fmi_768x1024_cuda(benchmark):
    tri = _triple(1, 768, 1024, "cuda")
    out = benchmark.pedantic(_run, args=(tri, list(ALL_METRICS)), rounds=3, warmup_rounds=1)
    _check(out, ALL_METRICS, 1)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.benchmark(group="metrics-16x480x640")
def test_bench_default_suite_batch16_480x640_cuda(benchmark):
    tri = _triple(16, 480, 640, "cuda")
    out = benchmark.pedantic(_run, args=(tri, list(DEFAULT_METRICS)), rounds=3, warmup_rounds=1)
    _check(out, DEFAULT_METRICS, 16)


@pytest.mark.benchmark(group="metrics-768x1024-tuned-allocator")
def test_bench_default_suite_768x1024_cpu_tuned_allocator(benchmark):
    """The default suite as the ``sagebench`` command runs it, with ``sagebench.memory.tune_allocator``.
    The setting is process-wide and stays for the rest of the session: benchmark it on its own
    (``-k tuned_allocator``), after the untuned ones."""
    from sagebench.memory import tune_allocator

    if benchmark.disabled:
        pytest.skip("changes the allocator of the whole test process; run with --benchmark-enable -k tuned")
    tune_allocator()
    tri = _triple(1, 768, 1024)
    out = benchmark.pedantic(_run, args=(tri, list(DEFAULT_METRICS)), rounds=7, warmup_rounds=1)
    _check(out, DEFAULT_METRICS, 1)


#: square sizes of the per-pixel scaling benchmark (issue: cost per pixel within 1.3x from 256^2 to 4096^2)
SCALING_SIDES = (256, 1024, 2048, 4096)


@pytest.mark.slow
@pytest.mark.parametrize("side", SCALING_SIDES)
@pytest.mark.parametrize("scope", ["call", "cold", "block"])
@pytest.mark.benchmark(group="metrics-per-pixel")
def test_bench_default_suite_per_pixel(benchmark, side, scope):
    """The default suite on one ``side x side`` triple; divide each time by ``side^2`` for the cost per
    pixel (docs/metrics.md lists the ratios measured in one run). ``extra_info`` has the megapixels.
    ``call``: each call on its own (its allocator setting lingers for the next call); ``cold``: the same with
    that setting released before each call (``sagebench.memory.release_now``); ``block``: inside one
    ``sagebench.memory.reuse_large_blocks`` block (a loop over a dataset, the ``sagebench`` command)."""
    from contextlib import nullcontext

    from sagebench.memory import release_now, reuse_large_blocks

    tri = _triple(1, side, side, seed=side)
    rounds = max(2, min(7, (1024 * 1024 * 7) // (side * side)))
    benchmark.extra_info["megapixels"] = side * side / 1e6
    with reuse_large_blocks() if scope == "block" else nullcontext():
        out = benchmark.pedantic(_run, args=(tri, list(DEFAULT_METRICS)), rounds=rounds, warmup_rounds=1,
                                 setup=release_now if scope == "cold" else None)
    _check(out, DEFAULT_METRICS, 1)
