# M3FD detection with a YOLO-class detector, the papers' retrain protocol, on GPU: RTMDet-s at 640 px per
# method, on the TarDAL split (2,727 train / 840 test images; `m3fd_rtmdet_s_scene_disjoint.py` runs the
# scene-disjoint split). See tasks/downstream/model_configs/det_rtmdet_s.py for the recipe and how it
# relates to YOLOv5s.
#
# One-time setup (writes a COCO file whose images carry the TarDAL split):
#   python -c "from sagebench.datasets.splits import write_m3fd_coco_with_split as w; \
#       w('$SAGEBENCH_DATA/M3FD/labels/voc2coco_outputs', 'm3fd_tardal_v1', '$SAGEBENCH_DATA/M3FD/labels/m3fd_tardal.json')"
# ImageNet init (recommended): export SAGEBENCH_INIT_CSPNEXT_S=/path/to/cspnext-s_imagenet_600e.pth (mmdet's)
# Run:
#   sagebench run configs/downstream/m3fd_rtmdet_s.py --data-root /data --weights-dir /weights \
#       -o work_dirs/m3fd_rtmdet --device cuda
# Expected time (estimate, until the GPU report measures it): ~18 min per method on one H100 (8,500
# iterations x 32 at 640 px, i.e. 100 epochs, + the 840-image test); 8 methods below ~2.5 h.
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="M3FD", source="${SAGEBENCH_DATA}/M3FD", labels="labels/m3fd_tardal.json", split="test",
         train_split="train"),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS,
           _base_._LAPLACIAN, _base_._SEAFUSION, _base_._TARDAL, _base_._SAGE_STUDENT]
tasks = [
    dict(type="detection", model="det_rtmdet_s", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["People", "Car"]),
]
seed = 0
