# The quickstart: what `sagebench run` runs without a CONFIG (this file, shipped with the package as
# sagebench.configs; sagebench.benchmark.runner.QUICKSTART reads it). Small embedded synthetic
# datasets, every registered method that needs nothing external ("auto": classical methods, the
# single-modality references, and deep models whose released weights are available locally), the
# fusion-quality metrics and a CPU-friendly throughput measurement.
_base_ = ["./_base_/quality.py", "./_base_/datasets.py", "./_base_/tasks.py"]

datasets = [_base_._SYNTHETIC_NIGHT, _base_._SYNTHETIC_DAY]
methods = "auto"
tasks = [_base_._QUALITY_SUITE, _base_._THROUGHPUT_VGA]
seed = 0
