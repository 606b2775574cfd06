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


def test_unpublished_sha256_is_pinned_on_first_use(fake_spec, tmp_path, monkeypatch):
    """No published sha256: the first download is checked against the upstream git blob id, pinned and
    reported; a different file later is refused, never silently accepted."""
    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SAGEBENCH_OFFLINE", raising=False)
    payload = (tmp_path / "upstream" / "tiny.pt").read_bytes()
    blob = hashlib.sha1(f"blob {len(payload)}\0".encode() + payload).hexdigest()  # what `git hash-object` gives
    W.MANIFEST["tiny_test"] = W.WeightSpec(**{**fake_spec.__dict__, "sha256": "", "size": 0, "git_blob": "1" * 40})
    with pytest.raises(WeightsError, match="not the upstream file: git blob id"):
        W.get_weights("tiny_test", progress=False)
    assert not W.pins_path().exists()
    W.MANIFEST["tiny_test"] = spec = W.WeightSpec(**{**fake_spec.__dict__, "sha256": "", "size": 0, "git_blob": blob})
    with pytest.warns(W.WeightsPinned, match=f"pinned sha256 {fake_spec.sha256} on first use"):
        path = W.get_weights("tiny_test", progress=False)
    assert W.pinned_sha256(spec) == fake_spec.sha256
    assert W.resolve_weights("tiny_test")[2] == fake_spec.sha256  # the identity carries the pinned hash
    path.write_bytes(payload + b"tampered")
    with pytest.raises(WeightsError, match="was pinned on first use"):
        W.get_weights("tiny_test", progress=False)


def test_zip_release_member_is_extracted_from_the_verified_archive(tmp_path, monkeypatch):
    """RFN-Nest-style releases are zip archives: the archive is verified (here pinned), the named member is
    returned extracted into the cache, and a wrong member name says what the archive holds."""
    import warnings
    import zipfile

    monkeypatch.setenv("SAGEBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAGEBENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("SAGEBENCH_OFFLINE", raising=False)
    archive = tmp_path / "upstream" / "release.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("release/6.0/model.model", b"checkpoint bytes")
    spec = W.WeightSpec(name="zip_test", url=archive.as_uri(), sha256="", size=0, licence="none",
                        relpath="z/release.zip", archive_member="release/6.0/model.model")
    W.MANIFEST[spec.name] = spec
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", W.WeightsPinned)
            path = W.get_weights("zip_test", progress=False)
        assert path.read_bytes() == b"checkpoint bytes" and path.is_relative_to(tmp_path / "home")
        assert W.resolve_weights("zip_test")[2] == W.sha256_file(W.cached_path(spec))  # identity: the archive
        W.MANIFEST[spec.name] = W.WeightSpec(**{**spec.__dict__, "name": "zip_test2", "archive_member": "nope.model"})
        W.MANIFEST["zip_test2"] = W.MANIFEST.pop(spec.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", W.WeightsPinned)
            with pytest.raises(WeightsError, match=r"has no 'nope.model' \(it has release/6.0/model.model"):
                W.get_weights("zip_test2", progress=False)
    finally:
        W.MANIFEST.pop("zip_test", None)
        W.MANIFEST.pop("zip_test2", None)
