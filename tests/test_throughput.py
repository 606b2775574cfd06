"""Throughput task: resolution parsing, params/MACs against an independent count, timing and memory."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sagebench.fusion_models import create_model
from sagebench.tasks import TaskContext, build_task
from sagebench.tasks.throughput import parse_resolution


def test_parse_resolution():
    assert parse_resolution("1024x768") == (768, 1024)
    assert parse_resolution("VGA") == (480, 640)
    assert parse_resolution((48, 64)) == (48, 64)
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_resolution("big")
    with pytest.raises(ValueError, match="positive"):
        parse_resolution("0x10")


def _conv_macs(model: nn.Module, ir: torch.Tensor, vis: torch.Tensor) -> int:
    """Multiply-accumulates of every Conv2d, counted from output shapes with forward hooks."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        kh, kw = mod.kernel_size
        total += out.numel() * (mod.in_channels // mod.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        model.fuse(ir, vis)
    for h in handles:
        h.remove()
    return total


def test_student_params_macs_latency_memory():
    model = create_model("sage_student", weights=None)
    task = build_task(dict(type="throughput", resolution="80x48", warmup=1, repeats=3))
    res = task.evaluate(TaskContext(method="student", dataset=None, model=model, device="cpu", seed=0))
    s = res.summary
    assert s["params"] == model.num_parameters() == 135_617  # the paper's "0.136 M"
    gen = torch.Generator().manual_seed(0)
    plain = create_model("sage_student", weights=None, fold_bn=False, channels_last=False)  # hooks see its convs
    expected = _conv_macs(plain, torch.rand(1, 1, 48, 80, generator=gen), torch.rand(1, 3, 48, 80, generator=gen))
    assert s["gmacs"] * 1e9 == pytest.approx(expected, rel=1e-9)
    assert s["latency_ms"] > 0 and s["fps"] == pytest.approx(1000 / s["latency_ms"])
    assert s["latency_iqr_ms"] >= 0 and s["latency_std_ms"] >= 0
    # at least the first stage's three 32-channel float32 activations (48 x 80) are alive at once
    assert s["peak_mem_mb"] >= 2 * 32 * 48 * 80 * 4 / 2**20
    assert res.directions["fps"] == "higher" and res.directions["latency_ms"] == "lower"
    m = res.meta
    assert (m["resolution"], m["batch_size"], m["precision"], m["device"]) == ("80x48", 1, "fp32", "cpu")
    assert m["device_name"] and m["timer"] == "time.perf_counter" and m["units"]["fps"] == "images/s"


def test_options_do_not_leak_into_the_model_and_are_recorded():
    model = create_model("sage_student", weights=None, fold_bn=False, channels_last=False)  # the plain path
    task = build_task(dict(type="throughput", resolution=(32, 32), batch_size=2, precision="bf16",
                           channels_last=True, fold_bn=True, warmup=1, repeats=2))
    res = task.evaluate(TaskContext(method="s", dataset=None, model=model, device="cpu", seed=0))
    assert res.meta["precision"] == "bf16" and res.meta["channels_last"] and res.meta["fold_bn"]
    assert res.meta["batch_size"] == 2 and res.summary["fps"] == pytest.approx(2000 / res.summary["latency_ms"])
    assert res.summary["params"] == 135_617  # counted on the unfolded model the method is
    assert model.compute_dtype == torch.float32 and not model.channels_last
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_training_free_method_and_bad_options():
    res = build_task(dict(type="throughput", resolution="64x48", warmup=1, repeats=2)).evaluate(
        TaskContext(method="avg", dataset=None, model=create_model("ir_only"), device="cpu"))
    assert res.summary["params"] == 0 and res.summary["gmacs"] == 0
    with pytest.raises(ValueError, match="precision"):
        build_task(dict(type="throughput", precision="fp8"))
    with pytest.raises(ValueError, match=">= 1"):
        build_task(dict(type="throughput", repeats=0))


def test_throughput_of_a_model_that_calls_submodules_with_parameters(tmp_path):
    """LRRNet calls its unrolled blocks with its threshold Parameters as arguments; counting MACs under
    inference mode used to fail there ('NoneType' object has no attribute 'next_functions')."""
    from sagebench.fusion_models import create_model
    from sagebench.tasks import TaskContext, build_task

    model = create_model("lrrnet", weights=None)
    task = build_task(dict(type="throughput", resolution="40x32", warmup=1, repeats=2))
    ctx = TaskContext(method="lrrnet", dataset=None, fused_dir=None, model=model, train_dataset=None,
                      train_fused_dir=None, work_dir=tmp_path, device="cpu", seed=0, reference_dir=None,
                      fused_images=None)
    result = task.evaluate(ctx)
    assert result.summary["gmacs"] > 0 and result.summary["latency_ms"] > 0
    assert all(p.requires_grad for p in model.parameters())  # the caller's model is untouched
