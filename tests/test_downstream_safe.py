"""Safe loading: weights always load with weights_only=True; mmengine resume state through a scoped
allow-list; the global switch is never used."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sagebench.errors import WeightsError
from sagebench.tasks.downstream.safe_checkpoint import (
    load_state_dict,
    mmengine_resume_globals,
    save_weights,
)

ROOT = Path(__file__).resolve().parents[1]


def _mmengine_like_checkpoint(path: Path) -> None:
    """What mmengine's CheckpointHook writes: message_hub state with HistoryBuffer and numpy values."""
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance("sagebench_test_hub")
    for i in range(3):
        hub.update_scalar("train/loss", np.float64(1.0 / (i + 1)))
        hub.update_scalar("train/lr", 0.01)
    hub.update_info("iter", np.int64(3))
    ckpt = {"meta": {"epoch": 0, "iter": 3, "seed": 0, "dataset_meta": {"classes": ("a", "b")}},
            "state_dict": {"w": torch.ones(2)}, "message_hub": hub.state_dict(),
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0]}]}}
    torch.save(ckpt, path)


def test_sagebench_weights_roundtrip(tmp_path):
    sd = {"a.weight": torch.randn(3, 2), "a.bias": torch.zeros(3)}
    sha = save_weights(tmp_path / "w.pth", sd, {"seed": 0, "preset": "x", "note": None})
    assert len(sha) == 64
    obj = torch.load(tmp_path / "w.pth", weights_only=True, map_location="cpu")  # plain safe load works
    assert set(obj) == {"state_dict", "meta"}
    back, meta = load_state_dict(tmp_path / "w.pth")
    assert torch.equal(back["a.weight"], sd["a.weight"]) and meta["preset"] == "x"
    with pytest.raises(TypeError):
        save_weights(tmp_path / "v.pth", sd, {"bad": np.float64(1.0)})


def test_raw_mmengine_checkpoint_is_rejected_not_allow_listed(tmp_path):
    """HistoryBuffer pickles reference builtins.getattr; allowing that would allow code execution."""
    p = tmp_path / "iter_3.pth"
    _mmengine_like_checkpoint(p)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(p, weights_only=True, map_location="cpu")
    with mmengine_resume_globals(), pytest.raises(pickle.UnpicklingError, match="HistoryBuffer|getattr"):
        torch.load(p, weights_only=True, map_location="cpu")
    with pytest.raises(WeightsError, match="MessageHub"):
        load_state_dict(p)


def test_safe_resume_state_roundtrip(tmp_path):
    """The hook's safe form loads with weights_only=True and nothing allow-listed, and rebuilds exactly."""
    from mmengine.logging import HistoryBuffer, MessageHub

    from sagebench.tasks.downstream.safe_checkpoint import SafeResumeStateHook

    hub = MessageHub.get_instance("sagebench_test_hub2")
    for i in range(4):
        hub.update_scalar("train/loss", np.float64(i * 0.5), count=2)
    hub.update_info("iter", np.int64(4))
    ckpt = {"meta": {"iter": 4, "seed": np.int64(0), "arr": np.arange(3)}, "message_hub": hub.state_dict(),
            "state_dict": {"w": torch.ones(1)}}
    hook = SafeResumeStateHook()
    hook.before_save_checkpoint(None, ckpt)
    torch.save(ckpt, tmp_path / "iter_4.pth")
    back = torch.load(tmp_path / "iter_4.pth", weights_only=True, map_location="cpu")
    assert back["meta"]["seed"] == 0 and type(back["meta"]["seed"]) is int
    hook.after_load_checkpoint(None, back)
    buf = back["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buf, HistoryBuffer)
    orig = hub.get_scalar("train/loss")
    assert np.allclose(buf.data[0], orig.data[0]) and np.allclose(buf.data[1], orig.data[1])
    assert buf.mean() == pytest.approx(orig.mean())
    fresh = MessageHub.get_instance("sagebench_test_hub3")
    fresh.load_state_dict(back["message_hub"])
    assert fresh.get_scalar("train/loss").current() == pytest.approx(1.5)


def test_arbitrary_objects_stay_rejected(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    p = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "x": Evil()}, p)
    with pytest.raises(WeightsError, match="weights_only"):
        load_state_dict(p)
    with pytest.raises(WeightsError, match="not found"):
        load_state_dict(tmp_path / "missing.pth")


def test_refuses_when_global_switch_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    save_weights(tmp_path / "w.pth", {"w": torch.ones(1)}, {})
    with pytest.raises(WeightsError, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        load_state_dict(tmp_path / "w.pth")


def test_code_never_switches_safety_off():
    import re

    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    files = [*(ROOT / "tasks" / "downstream").rglob("*.py"), ROOT / "tasks" / "detection.py",
             ROOT / "tasks" / "segmentation.py"]
    for f in files:
        text = f.read_text()
        for call in re.findall(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in call, f"{f}: torch.load({call})"
        assert not re.search(r"environ\[[^]]*TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD[^]]*\]\s*=", text), f
        assert not re.search(r"setenv\([^)]*TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", text), f
