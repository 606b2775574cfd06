"""The allocator settings of sagebench (sagebench.memory): the command's, applied by the command, never by
importing the library or by ``cli.main``; the scoped one around the library's CPU work, restored on leaving;
``SAGEBENCH_ALLOCATOR=system`` opts out of both. Each check runs in a fresh process (the settings are
process-wide)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import sys
import sagebench.memory as m
from sagebench.benchmark import cli
sys.argv = ["sagebench", "models", "average"]
rc = cli.{entry}()
print("SETTINGS", m.allocator_settings(), rc)
"""

glibc = pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc",
                           reason="mallopt is glibc's")


def _probe(entry: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE.format(entry=entry)], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=300, check=True).stdout
    return next(line for line in out.splitlines() if line.startswith("SETTINGS"))


@glibc
def test_the_command_tunes_its_allocator_and_can_opt_out():
    tuned = _probe("console_main")
    assert "'mmap_threshold': 1073741824" in tuned and tuned.endswith(" 0")
    assert _probe("console_main", SAGEBENCH_ALLOCATOR="system") == "SETTINGS None 0"
    assert _probe("main") == "SETTINGS None 0"  # tests and scripts calling main() keep their allocator


@glibc
def test_tune_allocator_reports_what_it_set():
    code = ("import sagebench.memory as m, sagebench.tasks.metrics; "
            "print(m.allocator_settings(), m.tune_allocator(top_pad=1 << 20), m.allocator_settings()['top_pad'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         check=True).stdout.split()
    assert out[0] == "None" and out[1] == "True" and out[2] == "1048576"  # importing the library sets nothing


SCOPE_PROBE = """
import ctypes, json, sys
import sagebench.memory as m

libc = ctypes.CDLL("libc.so.6")


class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]


def mmapped(n):
    # whether a fresh n-byte block comes from mmap (glibc's mmapped bytes grow by it) rather than the heap
    before = libc.mallinfo2().hblkhd
    p = libc.malloc(n)
    grew = libc.mallinfo2().hblkhd - before >= n
    libc.free(p)
    return grew


out = {"before": [m.allocator_settings(), mmapped(40 << 20)]}
with m.reuse_large_blocks() as s:
    with m.reuse_large_blocks() as inner:
        out["nested"] = [inner == s, mmapped(40 << 20)]
    out["inside"] = [s, m.allocator_settings(), mmapped(40 << 20), mmapped(200 << 20)]
out["after"] = [m.allocator_settings(), mmapped(40 << 20), mmapped(20 << 20)]
if sys.argv[1:] == ["tuned"]:
    m.tune_allocator()
    with m.reuse_large_blocks():
        pass
    out["tuned"] = [m.allocator_settings() is not None, mmapped(40 << 20)]
print(json.dumps(out))
"""


def _scope_probe(*args: str, **env: str) -> dict:
    import json

    out = subprocess.run([sys.executable, "-c", SCOPE_PROBE, *args], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=300, check=True).stdout
    return json.loads(out.splitlines()[-1])


@glibc
def test_scoped_setting_serves_large_blocks_from_the_heap_and_is_restored():
    """Inside ``reuse_large_blocks`` a 40 MB (and a 200 MB) block comes from glibc's heap; after it, glibc is
    back to its 32 MiB ceiling (40 MB mmapped again, 20 MB from the heap); nested blocks share the outer
    one's setting; under the command's process-wide setting the block leaves that setting in force."""
    from sagebench.memory import TUNED

    out = _scope_probe("tuned")
    assert out["before"] == [None, True]
    assert out["inside"] == [TUNED, TUNED, False, False]
    assert out["nested"] == [True, False]  # the inner block did not restore the outer one's setting
    assert out["after"] == [None, True, False]
    assert out["tuned"] == [True, False]


@glibc
def test_scoped_setting_opts_out():
    out = _scope_probe(SAGEBENCH_ALLOCATOR="system")
    assert out["inside"][:3] == [None, None, True] and out["after"][0] is None


def test_library_cpu_work_runs_inside_the_scoped_setting(monkeypatch):
    """The metric suite and the SAGE student's CPU inference run inside ``reuse_large_blocks`` (where glibc
    has it): they see the setting in force, and it is gone afterwards."""
    import torch

    from sagebench import memory
    from sagebench.fusion_models.sage import student as mod
    from sagebench.tasks.metrics import _core, compute_metrics

    monkeypatch.setattr(memory, "_applied", None)
    seen = []
    real_prepare = _core.Metric.prepare

    def prepare(self, *a, **k):
        seen.append(("metrics", memory.allocator_settings()))
        return real_prepare(self, *a, **k)

    real_tile_shape = mod.tile_shape

    def tile_shape(*a, **k):
        seen.append(("student", memory.allocator_settings()))
        return real_tile_shape(*a, **k)

    monkeypatch.setattr(_core.Metric, "prepare", prepare)
    monkeypatch.setattr(mod, "tile_shape", tile_shape)
    x = torch.rand(1, 1, 64, 64)
    compute_metrics(x, x, x, metrics=["EN"])
    with torch.no_grad():
        mod.SAGEStudent(weights=None).eval().fuse_gray(x, x)
    expected = None if memory._glibc() is None or memory.opted_out() else memory.TUNED
    assert seen == [("metrics", expected), ("student", expected)]
    assert memory.allocator_settings() is None


def test_values_do_not_depend_on_the_allocator_setting(monkeypatch):
    """The metric suite and the student give the same values with the scoped setting and without it
    (``SAGEBENCH_ALLOCATOR=system``)."""
    import torch

    from sagebench.fusion_models.sage.student import SAGEStudent
    from sagebench.tasks.metrics import compute_metrics

    g = torch.Generator().manual_seed(3)
    f, a, b = (torch.rand(1, 1, 200, 240, generator=g) for _ in range(3))
    torch.manual_seed(0)
    model = SAGEStudent(weights=None).eval()
    runs = []
    for setting in ("", "system"):
        monkeypatch.setenv("SAGEBENCH_ALLOCATOR", setting)
        with torch.no_grad():
            runs.append((compute_metrics(f, a, b), model.fuse_gray(a, b)))
    (m1, y1), (m2, y2) = runs
    assert all(torch.equal(m1[k], m2[k]) for k in m1) and torch.equal(y1, y2)
