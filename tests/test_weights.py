"""Weights manifest and cache: local override, cache, download with checksum, clear errors."""

from __future__ import annotations

import hashlib
import urllib.error

import pytest

from sagebench import weights as W
from sagebench.errors import WeightsError


@pytest.fixture()
def fake_spec(tmp_path):
    payload = b"sagebench test weights" * 100
    src = tmp_path / "upstream" / "tiny.pt"
    src.parent.mkdir()
    src.write_bytes(payload)
    spec = W.WeightSpec(name="tiny_test", url=src.as_uri(), sha256=hashlib.sha256(payload).hexdigest(),
                        size=len(payload), licence="MIT", relpath="tiny/tiny.pt")
    W.MANIFEST[spec.name] = spec
    yield spec
    W.MANIFEST.pop(spec.name, None)


def test_manifest_has_sage_student():
    spec = W.get_spec("sage_student_official")
    assert spec.sha256.startswith("ecfde477") and spec.size == 579_020 and spec.licence == "MIT"


def test_unknown_name_lists_known():
    with pytest.raises(WeightsError, match="unknown weights 'nope'.*sage_student_official"):
        W.get_spec("nope")


def test_download_verifies_and_caches(fake_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SAGEBENCH_OFFLINE", raising=False)
    assert W.weight_status("tiny_test") == "not downloaded"
    path = W.get_weights("tiny_test", progress=False)
    assert path == tmp_path / "home" / "weights" / "tiny_test" / "tiny.pt"
    assert W.sha256_file(path) == fake_spec.sha256
    assert W.weight_status("tiny_test") == "cached"
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.pt"]  # no leftover temp files


def test_wrong_checksum_is_named_and_not_cached(fake_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SAGEBENCH_OFFLINE", raising=False)
    bad = W.WeightSpec(**{**fake_spec.__dict__, "sha256": "0" * 64})
    W.MANIFEST["tiny_test"] = bad
    with pytest.raises(WeightsError, match="sha256 mismatch for weights 'tiny_test'.*delete it and fetch"):
        W.get_weights("tiny_test", progress=False)
    assert not W.cached_path(bad).exists()  # nothing half-verified is left in the cache
    assert not any(W.cached_path(bad).parent.iterdir())


def test_local_dir_override_and_bad_local_copy(fake_spec, tmp_path, monkeypatch):
    local = tmp_path / "local"
    (local / "tiny").mkdir(parents=True)
    (local / "tiny" / "tiny.pt").write_bytes(b"tampered")
    monkeypatch.setenv("SAGEBENCH_WEIGHTS_DIR", str(local))
    with pytest.raises(WeightsError, match=r"tiny\.pt: weights 'tiny_test' \(local copy.*have 8 bytes, expected"):
        W.get_weights("tiny_test")  # a wrong size fails before hashing
    good = (tmp_path / "upstream" / "tiny.pt").read_bytes()
    (local / "tiny" / "tiny.pt").write_bytes(bytes([good[0] ^ 1]) + good[1:])  # same size, other content
    with pytest.raises(WeightsError, match=r"tiny\.pt: sha256 mismatch.*local copy"):
        W.get_weights("tiny_test")
    (local / "tiny" / "tiny.pt").write_bytes((tmp_path / "upstream" / "tiny.pt").read_bytes())
    assert W.get_weights("tiny_test") == local / "tiny" / "tiny.pt"
    assert W.weight_status("tiny_test") == "local"


def test_no_network_error_says_what_to_do(fake_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SAGEBENCH_OFFLINE", raising=False)

    def offline(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(W.urllib.request, "urlopen", offline)
    with pytest.raises(WeightsError, match="cannot download weights 'tiny_test'.*SAGEBENCH_WEIGHTS_DIR"):
        W.get_weights("tiny_test", progress=False)


def test_offline_env_forbids_download(fake_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("SAGEBENCH_OFFLINE", "1")
    with pytest.raises(WeightsError, match="downloads are disabled"):
        W.get_weights("tiny_test")
