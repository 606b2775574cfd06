# M3FD detection with a YOLO-class detector, the papers' retrain protocol, on GPU: RTMDet-s at 640 px per
# method, on the TarDAL split (2,727 train / 840 test images; `m3fd_rtmdet_s_scene_disjoint.py` runs the
# scene-disjoint split). See tasks/downstream/model_configs/det_rtmdet_s.py for the recipe and how it
# relates to YOLOv5s. Datasets, methods and the one-time setup as m3fd_faster_rcnn.py (inherited).
# ImageNet init (recommended): export SAGEBENCH_INIT_CSPNEXT_S=/path/to/cspnext-s_imagenet_600e.pth (mmdet's)
# Run:
#   sagebench run configs/downstream/m3fd_rtmdet_s.py --data-root /data --weights-dir /weights \
#       -o work_dirs/m3fd_rtmdet --device cuda
# Expected time (estimate, until the GPU report measures it): ~18 min per method on one H100 (8,500
# iterations x 32 at 640 px, i.e. 100 epochs, + the 840-image test); 8 methods below ~2.5 h.
_base_ = ["./m3fd_faster_rcnn.py"]

tasks = [
    dict(type="detection", model="det_rtmdet_s", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["People", "Car"]),
]
