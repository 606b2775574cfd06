# The effect the suite exists to measure, on CPU in minutes: synthetic night scenes where people and
# cars are visible only in infrared and lane markings / signs only in the visible image.
#
#   sagebench run configs/downstream/synthetic_night.py -o work_dirs/downstream_night --no-progress
#
# Retrain protocol: per method, the tiny detector / segmenter is trained on that method's fused train
# split (32 scenes) and scored on its fused test split (32 other scenes). Expected: "VIS only" scores ~0 on
# person/car (mAP_key, mIoU_key), "IR only" ~0 on marking/sign, fusion methods score on both.
datasets = [
    dict(name="synthetic-night", source="synthetic:night", n=32, seed=0, size=(128, 160), train_split="train"),
]
methods = [
    dict(name="IR only", type="ir_only"),
    dict(name="VIS only", type="vis_only"),
    dict(name="Average", type="average"),
    dict(name="Max-abs", type="max_abs"),
    dict(name="SAGE student", type="sage_student"),
]
tasks = [
    dict(type="detection", model="det_tiny_fcos", max_iters=200, batch_size=8, key_classes=["person", "car"]),
    dict(type="segmentation", model="seg_tiny_fcn", max_iters=200, batch_size=8, key_classes=["person", "car"]),
]
seed = 0
