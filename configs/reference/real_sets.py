# Reference leaderboard on the four real sets of ../shared/data (TNO 25 pairs, RoadScene 40, MSRS 30,
# M3FD 14): every method of _base_/reference.py, quality under the default and cddfuse profiles.
#   sagebench run configs/reference/real_sets.py --data-root ../shared/data --weights-dir ../shared/weights
# (or all reference configs at once: python tools/reference_leaderboard.py --shared ../shared)
_base_ = ["./_base_/reference.py", "../_base_/datasets.py"]

datasets = [
    dict(name="TNO", source="${SAGEBENCH_DATA}/TNO"),
    dict(name="RoadScene", source="${SAGEBENCH_DATA}/RoadScene"),
    dict(name="MSRS", source="${SAGEBENCH_DATA}/MSRS"),
    dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD"),
]
methods = _base_._METHODS
tasks = _base_._QUALITY
