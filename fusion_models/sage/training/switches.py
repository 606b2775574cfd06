"""Switches for the deviations of the official SAGE training code (spec section 8, items 7-17).

Every switch has the value of the two presets: ``faithful`` (behaves like the code that trained the
released student weights) and ``fixed`` (the paper's evident intent, the default). A config selects a
preset with ``preset = 'fixed'`` and may override single switches with ``switches = dict(name=value)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagebench.errors import ConfigError


@dataclass(frozen=True)
class Switch:
    name: str
    item: int
    choices: tuple[str, ...]
    faithful: str
    fixed: str
    doc: str


SWITCHES: tuple[Switch, ...] = (
    Switch("seg_labels", 7, ("divided_by_255", "class_ids"), "divided_by_255", "class_ids",
           "segmentation targets: label map /255 then truncated (all class 0, no ignore) vs. class ids "
           "with ignore index 255"),
    Switch("seg_scores", 8, ("probabilities_as_logits", "logits"), "probabilities_as_logits", "logits",
           "cross-entropy on non-negative class scores (softmax outputs, standing in for X-Decoder's "
           "aggregated scores) vs. on logits"),
    Switch("seg_loss", 9, ("none", "head", "frozen"), "none", "head",
           "teacher segmentation term: none (the released weights saw a zero-gradient constant), a small "
           "jointly trained segmentation head, or a user-supplied frozen segmenter"),
    Switch("sam_encoder", 10, ("random_raw", "pretrained_normalised"), "random_raw", "pretrained_normalised",
           "contrastive-loss SAM encoder: randomly initialised, raw [0,1] input, no position embedding vs. "
           "the loaded SAM encoder with pixel normalisation and position embedding (frozen in both)"),
    Switch("mask_mode", 11, ("intensity", "binary"), "intensity", "binary",
           "teacher mask inputs and contrastive weighting: masked intensity images vs. 0/1 masks"),
    Switch("feature_distance", 12, ("batch_frobenius", "per_sample"), "batch_frobenius", "per_sample",
           "SAM feature distance: one Frobenius norm over the whole batch vs. per-sample norms with the "
           "triplet ratio averaged over the batch"),
    Switch("scheduler_length", 13, ("all_batches", "own_steps"), "all_batches", "own_steps",
           "cosine schedule length: epochs x batches (decays only half way) vs. the network's own steps"),
    Switch("extra_teacher_step", 14, ("inverted", "intended"), "inverted", "intended",
           "end-of-epoch extra teacher step when the batch count is even (duplicate) vs. when it is odd "
           "(the last batch went to the student)"),
    Switch("student_bn_in_teacher_step", 15, ("train", "eval"), "train", "eval",
           "student BatchNorm mode while it provides targets in a teacher step (train updates running stats)"),
    Switch("amg_channel_order", 16, ("bgr", "rgb"), "bgr", "rgb",
           "channel order of the visible image given to SAM's mask generator"),
    Switch("teacher_target", 17, ("raw", "clamped"), "raw", "clamped",
           "teacher output used as the student's target: raw LeakyReLU output vs. clamped to [0, 1]"),
)

PRESETS = ("faithful", "fixed")


def preset_switches(preset: str) -> dict[str, str]:
    """All switch values of a preset."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return {s.name: getattr(s, preset) for s in SWITCHES}


def resolve_switches(preset: str = "fixed", overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """Preset values updated with ``overrides``; unknown names or values raise :class:`ConfigError`."""
    out = preset_switches(preset)
    by_name = {s.name: s for s in SWITCHES}
    for k, v in (overrides or {}).items():
        if k not in by_name:
            raise ConfigError(f"unknown switch {k!r}; known: {', '.join(by_name)}")
        if v not in by_name[k].choices:
            raise ConfigError(f"switch {k}={v!r} invalid; choose one of {', '.join(by_name[k].choices)}")
        out[k] = v
    return out


def markdown_table() -> str:
    """The switch table of ``docs/sage.md``."""
    rows = ["| switch | spec §8 item | `faithful` | `fixed` (default) | meaning |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.item} | `{s.faithful}` | `{s.fixed}` | {s.doc} |" for s in SWITCHES]
    return "\n".join(rows)
