# Shared by the reference leaderboard configs (configs/reference/*.py): every method sagebench runs
# with released weights or as its own classical implementation, the two single-modality references, and
# the quality suite under the default profile and under the cddfuse profile (the convention of most
# published tables). `python tools/reference_leaderboard.py` runs them all and writes results/reference/.
_base_ = ["../../_base_/quality.py", "../../_base_/methods.py"]

_METHODS = [
    _base_._IR_ONLY, _base_._VIS_ONLY,
    _base_._AVERAGE, _base_._MAX_ABS, _base_._LAPLACIAN, _base_._DWT, _base_._GFF, _base_._MSVD, _base_._TIF,
    _base_._DENSEFUSE, _base_._DENSEFUSE_L1, _base_._DIDFUSE, _base_._IFCNN, _base_._SEAFUSION, _base_._TARDAL,
    _base_._DATFUSE, _base_._U2FUSION, _base_._LRRNET, _base_._SHIP, _base_._SAGE_STUDENT,
]
_METRICS = ["EN", "SD", "SF", "AG", "MI", "SCD", "CC", "PSNR", "VIF", "Qabf", "SSIM"]
_QUALITY = [dict(type="quality", name="quality", metrics=_METRICS),
            dict(type="quality", name="quality_cddfuse", metrics=_METRICS, profile="cddfuse")]
leaderboard = dict(order="rank")
