"""Shared fixtures. Tests never touch the network: the weights cache is a temporary folder and local
weights come from ``../shared`` (or ``$SAGEBENCH_SHARED``) when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAGEBENCH_SHARED", REPO.parent / "shared"))
HAS_SHARED = (SHARED / "data").is_dir() and (SHARED / "weights").is_dir()
SKIP_SHARED = f"needs the shared data folder {SHARED} (set SAGEBENCH_SHARED); absent here"

requires_shared = pytest.mark.skipif(not HAS_SHARED, reason=SKIP_SHARED)

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def one_thread():
    """One torch thread for the test: on a loaded 2-core box two OpenMP threads are 10-30x slower than one
    for small tensors (SAM, teacher and training tests use ``pytestmark = pytest.mark.usefixtures(...)``)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Temp download cache, downloads off, local weights from ../shared/weights (if present)."""
    old = {k: os.environ.get(k) for k in ("SAGEBENCH_HOME", "SAGEBENCH_WEIGHTS_DIR", "SAGEBENCH_OFFLINE")}
    os.environ["SAGEBENCH_HOME"] = str(tmp_path_factory.mktemp("sagebench_home"))
    os.environ["SAGEBENCH_OFFLINE"] = "1"  # tests never download; download tests use file:// URLs
    if HAS_SHARED:
        os.environ["SAGEBENCH_WEIGHTS_DIR"] = str(SHARED / "weights")
    else:
        os.environ.pop("SAGEBENCH_WEIGHTS_DIR", None)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not HAS_SHARED:
        pytest.skip(SKIP_SHARED)
    return SHARED
