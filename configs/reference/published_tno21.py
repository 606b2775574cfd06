# Reference leaderboard on the 6 pairs of H. Li et al.'s "21 pairs TNO" set that ../shared/reference holds
# (IRk.png + VISk.png, k = 1..6), with the authors' published outputs of LRRNet, RFN-Nest and CrossFuse as
# precomputed rows beside every method sagebench runs. The published folders sit beside ../shared/data, so
# their roots are written relative to --data-root:
#   sagebench run configs/reference/published_tno21.py --data-root ../shared/data --weights-dir ../shared/weights
_base_ = ["./_base_/reference.py"]

_REF = "${SAGEBENCH_DATA}/../reference"
datasets = [dict(name="TNO21", source=_REF + "/inputs/tno21", ir_name="IR{stem}", vis_name="VIS{stem}")]
methods = _base_._METHODS + [
    dict(name="LRRNet (published)", type="precomputed", root=_REF + "/lrrnet/tno21",
         pattern="result_lrrnet_IR{stem}.png"),
    dict(name="RFN-Nest (published)", type="precomputed", root=_REF + "/rfn-nest/tno21",
         pattern="fused_rfnnest_700_wir_6.0_wvi_3.0_IR{stem}.png"),
    dict(name="CrossFuse (published)", type="precomputed", root=_REF + "/crossfuse/tno21",
         pattern="results_transfuse_IR{stem}.png"),
]
tasks = _base_._QUALITY
