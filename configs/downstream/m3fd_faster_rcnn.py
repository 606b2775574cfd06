# M3FD detection, the papers' retrain protocol, on GPU: Faster R-CNN R50-FPN per method.
#
# One-time setup (writes a COCO file whose images carry the TarDAL split; any shipped M3FD split works):
#   python -c "from sagebench.datasets.splits import write_m3fd_coco_with_split as w; \
#       w('$SAGEBENCH_DATA/M3FD/labels/voc2coco_outputs', 'm3fd_tardal_v1', '$SAGEBENCH_DATA/M3FD/labels/m3fd_tardal.json')"
# ImageNet init (recommended): export SAGEBENCH_INIT_R50=/path/to/resnet50-0676ba61.pth (torchvision format)
# Run:
#   sagebench run configs/downstream/m3fd_faster_rcnn.py --data-root /data --weights-dir /weights \
#       -o work_dirs/m3fd_det --device cuda
# Expected time (estimate): ~18 min per method on one H100 (4,000 iterations x 8 at 1024x768 + 840-image
# test); 8 methods below ~2.5 h. Fusing the 3,367 train+test pairs adds seconds to minutes per method.
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD", labels="labels/m3fd_tardal.json", split="test",
         train_split="train"),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS,
           _base_._LAPLACIAN, _base_._SEAFUSION, _base_._TARDAL, _base_._SAGE_STUDENT]
tasks = [
    dict(type="detection", model="det_faster_rcnn_r50_fpn", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["People", "Car"]),
]
seed = 0
