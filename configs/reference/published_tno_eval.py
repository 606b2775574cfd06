# Reference leaderboard on TNO pairs of Tang's Evaluation-for-Image-Fusion set that ../shared/reference
# holds, with published outputs as precomputed rows: U2Fusion (Tang's rendering of the official
# checkpoint) and SHIP (made with its authors' code) on 01-03, PIAFusion (the authors' Fusion_results) on
# 05, 17 and 18. Two datasets, so that every row of a table covers the same pairs.
#   sagebench run configs/reference/published_tno_eval.py --data-root ../shared/data --weights-dir ../shared/weights
_base_ = ["./_base_/reference.py"]

_REF = "${SAGEBENCH_DATA}/../reference"
datasets = [
    dict(name="TNO-eval 01-03", source=_REF + "/inputs/tno_eval", stems=["01", "02", "03"]),
    dict(name="TNO-eval 05-18", source=_REF + "/inputs/tno_eval", stems=["05", "17", "18"]),
]
methods = _base_._METHODS + [
    dict(name="U2Fusion (published)", type="precomputed", root=_REF + "/u2fusion/tno_eval", datasets=["TNO-eval 01-03"]),
    dict(name="SHIP (authors' code)", type="precomputed", root=_REF + "/ship/tno_eval", datasets=["TNO-eval 01-03"]),
    dict(name="PIAFusion (published)", type="precomputed", root=_REF + "/piafusion/tno_eval",
         datasets=["TNO-eval 05-18"]),
]
tasks = _base_._QUALITY
