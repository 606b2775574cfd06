"""pytest-benchmark: SAGE student inference on CPU against a faithful copy of the official forward.

``OfficialStudent`` below is the authors' ``model_sub/model.py`` ``Network`` written here from the
published architecture facts (../shared/specs/sage.md section 1): CBL = Conv -> BatchNorm -> LeakyReLU(0.01),
three per stage, NCHW, BatchNorm unfolded, activations not in place, ``cat`` of the upsampled and skip
features. It loads the same released ``state_dict`` strictly. The variants timed on the network's input
(visible Y and IR, batch 1, fp32):

* ``official``: that copy;
* ``plain``: sagebench's model with ``fold_bn=False, channels_last=False`` (its module tree as released);
* ``default``: sagebench's default CPU path (a private BatchNorm-folded channels_last copy with in-place
  activations, in tiles sized to the allocator; see ``SAGEStudent.configure`` and ``tile_shape``), each call
  on its own (the call opens and closes its own ``sagebench.memory.reuse_large_blocks`` block; its setting
  lingers for the next call, as in a user's loop over images);
* ``default_cold``: the same, with the lingering setting released before each call
  (``sagebench.memory.release_now``): a call that finds no memory to reuse, e.g. the first of a script;
* ``default_in_block``: the same calls inside one ``reuse_large_blocks`` block, as a loop over a dataset
  runs them (``run_benchmark``, ``evaluate_folder``, or a user's own ``with`` block).

The default test run has ``--benchmark-disable``: each benchmark then runs once as an ordinary test and
checks that the variant computes the official output. To measure (ratios from one run)::

    pytest tests/test_bench_student.py -m slow --benchmark-enable --benchmark-group-by=param:resolution \\
        --benchmark-columns=min,median,rounds -k "not tuned"
    pytest tests/test_bench_student.py -m slow --benchmark-enable --benchmark-group-by=param:resolution \\
        --benchmark-columns=min,median,rounds -k tuned      # a second process: the allocator is process-wide

The second command repeats the comparison with ``sagebench.memory.tune_allocator`` applied (what the
``sagebench`` command runs with): glibc's fresh pages for every large tensor cost the official code far more
than the default path.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sagebench.fusion_models import create_model

pytestmark = pytest.mark.slow  # seconds per call on 2 shared cores; run explicitly (see above)

VARIANTS = ("official", "plain", "default", "default_cold", "default_in_block")


class OfficialStudent(nn.Module):
    """The official student network as published (see the module docstring); ``forward(vi, ir) -> out``."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()

        def cbl(cin: int, cout: int, k: int = 3) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout), nn.LeakyReLU(0.01)]

        def stage(cin: int) -> nn.Sequential:
            return nn.Sequential(*cbl(cin, dim), *cbl(dim, dim), *cbl(dim, dim))

        self.module1, self.module2, self.module3 = stage(2), stage(dim), stage(dim)
        self.module4, self.module5 = stage(dim), stage(dim)
        self.downsample1, self.downsample2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.adjust_channels4 = nn.Sequential(*cbl(2 * dim, dim, 1))
        self.adjust_channels5 = nn.Sequential(*cbl(2 * dim, dim, 1))
        self.final_decoder = nn.Sequential(nn.Conv2d(dim, 1, 3, padding=1), nn.Tanh())

    def forward(self, vi: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        x1 = self.module1(torch.cat([vi, ir], 1))
        x2 = self.module2(self.downsample1(x1))
        x3 = self.module3(self.downsample2(x2))
        up = F.interpolate(x3, size=x2.shape[-2:], mode="bilinear", align_corners=False)
        x4 = self.module4(self.adjust_channels4(torch.cat([up, x2], 1)))
        up = F.interpolate(x4, size=x1.shape[-2:], mode="bilinear", align_corners=False)
        x5 = self.module5(self.adjust_channels5(torch.cat([up, x1], 1)))
        return self.final_decoder(x5)


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(0)
    return {res: (torch.rand(1, 1, h, w, generator=gen), torch.rand(1, 1, h, w, generator=gen))
            for res, (h, w) in {"640x480": (480, 640), "1024x768": (768, 1024)}.items()}


def _weights():
    """The released weights when available (shared folder / cache), else a seeded random init: speed does
    not depend on the values, and the equality check below holds either way."""
    from sagebench.weights import weight_status

    return "sage_student_official" if weight_status("sage_student_official") != "not downloaded" else None


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    default = create_model("sage_student", weights=_weights())
    plain = create_model("sage_student", weights=_weights(), fold_bn=False, channels_last=False)
    plain.load_state_dict(default.state_dict())
    official = OfficialStudent().eval()
    official.load_state_dict(default.state_dict(), strict=True)
    return {"official": lambda ir, y: official(y, ir), "plain": plain.fuse_gray, "default": default.fuse_gray}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("resolution", ["640x480", "1024x768"])
def test_student_inference_speed(benchmark, inputs, models, resolution, variant):
    ir, y = inputs[resolution]
    benchmark.extra_info.update({"resolution": resolution, "variant": variant, "threads": torch.get_num_threads(),
                                 "weights": _weights() or "random"})
    from contextlib import nullcontext

    from sagebench.memory import release_now, reuse_large_blocks

    block = reuse_large_blocks() if variant == "default_in_block" else nullcontext()
    fn = models[variant.removesuffix("_in_block").removesuffix("_cold")]
    with torch.inference_mode():
        with block:
            if variant == "default_cold":
                out = benchmark.pedantic(fn, args=(ir, y), setup=release_now, rounds=5, warmup_rounds=1)
            else:
                out = benchmark(fn, ir, y)
        ref = models["official"](ir, y)
    assert out.shape == ref.shape == y.shape
    torch.testing.assert_close(out, ref, atol=2e-6, rtol=0)  # 5e-4 grey levels


@pytest.mark.parametrize("variant", ["official", "default"])
@pytest.mark.parametrize("resolution", ["1024x768"])
def test_student_inference_speed_tuned_allocator(benchmark, inputs, models, resolution, variant):
    """The same comparison with the allocator setting of the ``sagebench`` command, on its own (``-k tuned``)."""
    from sagebench.memory import tune_allocator

    if benchmark.disabled:
        pytest.skip("changes the allocator of the whole test process; run with --benchmark-enable -k tuned")
    tune_allocator()
    test_student_inference_speed(benchmark, inputs, models, resolution, variant)


@pytest.mark.parametrize("side", [256, 1024, 2048, 4096])
@pytest.mark.parametrize("scope", ["call", "cold", "block"])
@pytest.mark.benchmark(group="student-per-pixel")
def test_student_cost_per_pixel(benchmark, models, side, scope):
    """The default path on one ``side x side`` pair (4096: in tiles, see ``SAGEStudent``); divide by
    ``side^2`` for the cost per pixel (docs/running.md lists the ratios of one run). ``call``: each call on
    its own (its allocator setting opened and closed by the call, lingering for the next); ``cold``: the same
    with that setting released before each call; ``block``: the calls inside one
    ``sagebench.memory.reuse_large_blocks`` block, as in a loop over a dataset (or the ``sagebench``
    command), so memory freed by one call is reused by the next."""
    from contextlib import nullcontext

    from sagebench.memory import release_now, reuse_large_blocks

    gen = torch.Generator().manual_seed(side)
    ir, y = torch.rand(1, 1, side, side, generator=gen), torch.rand(1, 1, side, side, generator=gen)
    benchmark.extra_info.update({"megapixels": side * side / 1e6, "threads": torch.get_num_threads()})
    rounds = max(3, min(7, (1024 * 1024 * 7) // (side * side)))
    with torch.inference_mode(), (reuse_large_blocks() if scope == "block" else nullcontext()):
        out = benchmark.pedantic(models["default"], args=(ir, y), rounds=rounds, warmup_rounds=1,
                                 setup=release_now if scope == "cold" else None)
    assert out.shape == y.shape and torch.isfinite(out).all()
