"""The benchmark runner, results store, leaderboards, regression gate and the ``sagebench`` CLI."""
