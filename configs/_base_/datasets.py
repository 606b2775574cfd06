# Datasets benchmark configs pick from (names starting with "_" are helpers, not config keys), e.g.
#   _base_ = ["./_base_/datasets.py"]
#   datasets = [_base_._SYNTHETIC_NIGHT, dict(_base_._M3FD, limit=2)]
# Synthetic scenes are generated (no files needed); ${SAGEBENCH_DATA} is --data-root; optional=True
# skips a dataset with a message where its folder is missing.
_SYNTHETIC_NIGHT = dict(name="synthetic-night", source="synthetic:night", n=3, seed=0, size=(192, 256))
_SYNTHETIC_DAY = dict(name="synthetic-day", source="synthetic:day", n=3, seed=1, size=(192, 256))
_M3FD = dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD", optional=True)
_MSRS = dict(name="MSRS", source="${SAGEBENCH_DATA}/MSRS", optional=True)
