"""Downstream detection/segmentation machinery: label adapters (:mod:`.convert`), class tables
(:mod:`.classes`), mm model presets (:mod:`.model_configs`), the
mmengine train/eval engine (:mod:`.engine`), mm metrics (:mod:`.mm_metrics`) and safe checkpoints
(:mod:`.safe_checkpoint`). Heavy mm imports happen only inside the engine."""
