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
out["lingering"] = [m.allocator_settings(), mmapped(40 << 20)]
m.release_now()
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
    """Inside ``reuse_large_blocks`` a 40 MB (and a 200 MB) block comes from glibc's heap, and still does just
    after it (the setting lingers); once released, glibc is back to its 32 MiB ceiling (40 MB mmapped again,
    20 MB from the heap); nested blocks share the outer one's setting; under the command's process-wide
    setting the block leaves that setting in force."""
    from sagebench.memory import TUNED

    out = _scope_probe("tuned")
    assert out["before"] == [None, True]
    assert out["inside"] == [TUNED, TUNED, False, False]
    assert out["nested"] == [True, False]  # the inner block did not restore the outer one's setting
    assert out["lingering"] == [TUNED, False]
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
    assert memory.allocator_settings() == expected  # lingers for the next call
    memory.release_now()
    assert memory.allocator_settings() is None


LINGER_PROBE = """
import json, threading, time
import sagebench.memory as m

out = {}
with m.reuse_large_blocks():
    pass
out["closed"] = [m.allocator_settings() is not None, threading.active_count()]
time.sleep(0.15)
with m.reuse_large_blocks():  # opened within the linger: takes the setting over, cancels the release
    out["reopened"] = m.allocator_settings() is not None
    time.sleep(0.6)  # past the first block's release time
    out["held"] = m.allocator_settings() is not None
t = time.monotonic()
while m.allocator_settings() is not None and time.monotonic() - t < 10:
    time.sleep(0.02)
out["released_after"] = time.monotonic() - t
out["threads"] = threading.active_count()
print(json.dumps(out))
"""


@glibc
def test_a_closed_blocks_setting_lingers_then_is_released():
    """After the outermost block the setting stays for ``SAGEBENCH_ALLOCATOR_LINGER`` seconds (a timer
    thread), a block opened meanwhile takes it over (the earlier release does not fire inside it), and it is
    released on time after the last block; with 0 it goes at once; a bad value is a one-line error."""
    import json

    env = {**os.environ, "SAGEBENCH_ALLOCATOR_LINGER": "0.4"}
    env.pop("SAGEBENCH_ALLOCATOR", None)
    out = json.loads(subprocess.run([sys.executable, "-c", LINGER_PROBE], capture_output=True, text=True,
                                    env=env, timeout=300, check=True).stdout.splitlines()[-1])
    assert out["closed"][0] and out["reopened"] and out["held"]
    assert 0.2 < out["released_after"] < 2.0
    assert out["threads"] == out["closed"][1] - 1  # the timer thread has ended

    env["SAGEBENCH_ALLOCATOR_LINGER"] = "0"
    code = "import sagebench.memory as m\nwith m.reuse_large_blocks(): pass\nprint(m.allocator_settings())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          check=True).stdout.strip() == "None"


def test_a_bad_linger_value_is_named(monkeypatch):
    from sagebench import memory

    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv("SAGEBENCH_ALLOCATOR_LINGER", bad)
        with pytest.raises(ValueError, match=f"SAGEBENCH_ALLOCATOR_LINGER={bad!r}: expected a number"):
            with memory.reuse_large_blocks():
                pass
    assert memory._depth == 0


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
