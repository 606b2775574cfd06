# Reference leaderboard on IGNet's 6 test pairs (TNO and MFNet) that ../shared/reference holds, with the
# IGNet authors' published outputs as a precomputed row.
#   sagebench run configs/reference/published_ignet.py --data-root ../shared/data --weights-dir ../shared/weights
_base_ = ["./_base_/reference.py"]

_REF = "${SAGEBENCH_DATA}/../reference"
datasets = [dict(name="IGNet test", source=_REF + "/inputs/ignet")]
methods = _base_._METHODS + [dict(name="IGNet (published)", type="precomputed", root=_REF + "/ignet/ignet")]
tasks = _base_._QUALITY
