"""Sub-commands of the ``sagebench`` CLI, one module each (see ``sagebench.benchmark.cli``)."""
