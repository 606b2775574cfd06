"""The allocator setting of the ``sagebench`` command (sagebench.memory): applied by the command, never by
importing the library or by ``cli.main``; ``SAGEBENCH_ALLOCATOR=system`` opts out. Each check runs in a
fresh process (the setting is process-wide)."""

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
