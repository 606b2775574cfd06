# LLVIP pedestrian detection (Jia et al., ICCV 2021 workshops: 12,025 train / 3,463 test pairs, 1280x1024,
# one class "person"), the papers' retrain protocol, on GPU: Faster R-CNN R50-FPN per method.
# Expects the release's layout $SAGEBENCH_DATA/LLVIP/{infrared,visible}/{train,test}/ and Annotations/*.xml
# (VOC). The official split is the release's folders; to pin it as a versioned split file:
#   python -c "from sagebench.datasets.splits import split_from_folders as f, write_split as w; \
#       w(f('$SAGEBENCH_DATA/LLVIP', 'llvip'), 'llvip_official_v1.json')"      # checks 12025 / 3463
# ImageNet init (recommended): export SAGEBENCH_INIT_R50=/path/to/resnet50-0676ba61.pth (torchvision format)
#   sagebench run configs/downstream/llvip_faster_rcnn.py --data-root /data --weights-dir /weights \
#       -o work_dirs/llvip_det --device cuda
# Expected time (estimate, until the GPU report measures it): ~35 min per method on one H100 (4,000
# iterations x 8 at 1280x1024 + the 3,463-image test); fusing the 15,488 pairs adds minutes per method.
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="LLVIP", source="${SAGEBENCH_DATA}/LLVIP", det_classes=["person"], split="test", train_split="train"),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS,
           _base_._LAPLACIAN, _base_._SEAFUSION, _base_._TARDAL, _base_._SAGE_STUDENT]
tasks = [
    dict(type="detection", model="det_faster_rcnn_r50_fpn", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["person"]),
]
seed = 0
