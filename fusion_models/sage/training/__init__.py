"""SAGE training: losses, data pipeline, switches (faithful/fixed presets) and the bi-level trainer."""

from sagebench.fusion_models.sage.training.switches import PRESETS, SWITCHES, preset_switches, resolve_switches
from sagebench.fusion_models.sage.training.trainer import SageTrainer, epoch_plan, normalise_config

__all__ = ["PRESETS", "SWITCHES", "SageTrainer", "epoch_plan", "normalise_config", "preset_switches",
           "resolve_switches"]
