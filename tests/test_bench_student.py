"""pytest-benchmark: SAGE student fusion throughput on CPU, plain vs optimised (folded BN + channels_last).

The default test run has ``--benchmark-disable``: each benchmark then runs once as an ordinary test
(and checks that the optimised path gives the plain path's output). To measure::

    pytest tests/test_bench_student.py -m slow --benchmark-enable --benchmark-group-by=param:resolution \
        --benchmark-columns=median,iqr,ops

Timings cover ``model.fuse`` on one RGB/IR pair (batch 1, fp32) including colour conversion.
"""

from __future__ import annotations

import pytest
import torch

from sagebench.fusion_models import create_model

pytestmark = pytest.mark.slow  # seconds per call on 2 shared cores; run explicitly (see above)

VARIANTS = {"plain": {"fold_bn": False, "channels_last": False}, "optimised": {"fold_bn": True, "channels_last": True}}


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(0)
    return {res: (torch.rand(1, 1, h, w, generator=gen), torch.rand(1, 3, h, w, generator=gen))
            for res, (h, w) in {"640x480": (480, 640), "1024x768": (768, 1024)}.items()}


def _weights():
    """The released weights when available (shared folder / cache), else a seeded random init: speed does
    not depend on the values, and the equality check below holds either way."""
    from sagebench.weights import weight_status

    return "sage_student_official" if weight_status("sage_student_official") != "not downloaded" else None


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("resolution", ["640x480", "1024x768"])
def test_student_fusion_speed(benchmark, inputs, resolution, variant):
    weights = _weights()
    torch.manual_seed(0)
    plain = create_model("sage_student", weights=weights, **VARIANTS["plain"])
    torch.manual_seed(0)
    model = create_model("sage_student", weights=weights, **VARIANTS[variant])
    ir, vis = inputs[resolution]
    benchmark.extra_info.update({"resolution": resolution, "variant": variant, "threads": torch.get_num_threads(),
                                 "weights": weights or "random"})
    with torch.inference_mode():
        out = benchmark(model.fuse, ir, vis)
        ref = plain.fuse(ir, vis)
    assert out.shape == vis.shape
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)
