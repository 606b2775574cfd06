# Downstream smoke benchmark on the real subsets in ../shared (CPU, tiny task networks).
#
#   sagebench run configs/downstream/ci.py --data-root ../shared/data --weights-dir ../shared/weights \
#       -o work_dirs/downstream_ci --no-progress
#
# What the numbers mean: they are a smoke test of the whole path (fusion -> mmdet/mmseg training ->
# COCO mAP / mIoU -> results store -> leaderboard), NOT paper numbers. The subsets are tiny (M3FD 14
# pairs, MSRS 30 pairs with boxes, MSRS 8 pairs with binary person masks), the task networks are the
# CPU presets (~0.2 M parameters, 160x128 input, 20 iterations, from scratch), and every 3rd
# image (dataset order) is the test image of a retrain-per-method run ("holdout" protocol), so test
# sets have 2-10 images. Expect mAP near 0 on the real images (objects shrink to a few pixels at
# 160x128); the synthetic-night config shows the effect the suite measures. For paper-style numbers
# use the GPU configs in this folder with the full datasets.
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD", optional=True),
    # boxes drawn on the infrared image (the annotation set that sees people at night)
    dict(name="MSRS", source="${SAGEBENCH_DATA}/MSRS", label_modality="infrared", optional=True),
    dict(name="MSRS-person", source="${SAGEBENCH_DATA}/MSRS_binmask_seg", optional=True),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS, _base_._SAGE_STUDENT]
tasks = [
    # skip_unlabelled: detection has nothing to score on the mask-only set and segmentation on the box sets
    dict(type="detection_holdout", name="detection", holdout=3, model="det_tiny_fcos", max_iters=20,
         batch_size=4, skip_unlabelled=True),
    dict(type="segmentation_holdout", name="segmentation", holdout=3, model="seg_tiny_fcn", max_iters=20,
         batch_size=4, skip_unlabelled=True),
]
seed = 0
