# The effect the suite exists to measure, on CPU in minutes: synthetic night scenes where people and
# cars are visible only in infrared and lane markings / signs only in the visible image.
#
#   sagebench run configs/downstream/synthetic_night.py -o work_dirs/downstream_night --no-progress
#
# Retrain protocol: per method, the tiny detector / segmenter is trained on that method's fused train
# split (32 scenes) and scored on its fused test split (32 other scenes). Expected: "VIS only" scores ~0 on
# person/car (mAP_key, mIoU_key), "IR only" ~0 on marking/sign, fusion methods score on both.
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="synthetic-night", source="synthetic:night", n=32, seed=0, size=(128, 160), train_split="train"),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS, _base_._SAGE_STUDENT]
tasks = [
    dict(type="detection", model="det_tiny_fcos", max_iters=200, batch_size=8, key_classes=["person", "car"]),
    dict(type="segmentation", model="seg_tiny_fcn", max_iters=200, batch_size=8, key_classes=["person", "car"]),
]
seed = 0
