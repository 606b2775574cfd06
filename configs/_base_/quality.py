# Shared pieces of benchmark configs: the seed and the regression-gate tolerances.
#
# Fusion-quality metrics of a deterministic method on the same inputs are reproducible to float
# rounding, so the default tolerance is tight; speed numbers depend on the machine and are not gated.
seed = 0
regress = dict(
    default=dict(abs=1e-4, rel=1e-4),
    per_metric={
        "throughput/*": None,
    },
)
