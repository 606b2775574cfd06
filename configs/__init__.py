"""Benchmark, downstream and SAGE training configs (mmengine ``Config`` files), shipped with the package so
that the built-in quickstart *is* ``configs/quickstart.py``. They are read with ``Config.fromfile``
(:func:`sagebench.benchmark.runner.config_file`), never imported."""
