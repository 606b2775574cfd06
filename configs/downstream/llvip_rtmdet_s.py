# LLVIP pedestrian detection with a YOLO-class detector (as most LLVIP tables use), the papers' retrain
# protocol, on GPU: RTMDet-s at 640 px per method (see tasks/downstream/model_configs/det_rtmdet_s.py).
# Expects the release's layout $SAGEBENCH_DATA/LLVIP/{infrared,visible}/{train,test}/ and Annotations/*.xml
# (VOC); the official split is the release's folders (12,025 train / 3,463 test, checked).
# ImageNet init (recommended): export SAGEBENCH_INIT_CSPNEXT_S=/path/to/cspnext-s_imagenet_600e.pth (mmdet's)
#   sagebench run configs/downstream/llvip_rtmdet_s.py --data-root /data --weights-dir /weights \
#       -o work_dirs/llvip_rtmdet --device cuda
# Expected time (estimate, until the GPU report measures it): ~20 min per method on one H100 (8,500
# iterations x 32 at 640 px, i.e. 23 epochs of 12,025 pairs, + the 3,463-image test; raise max_iters for
# more epochs); fusing the 15,488 pairs at 1280x1024 adds minutes per method.
_base_ = ["./llvip_faster_rcnn.py"]

tasks = [
    dict(type="detection", model="det_rtmdet_s", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["person"]),
]
