# M3FD detection with RTMDet-s (as m3fd_rtmdet_s.py) on the scene-disjoint split m3fd_scene_disjoint_v1
# (3,322 train / 392 test images; no recording's consecutive frames on both sides of the split).
#
# One-time setup:
#   python -c "from sagebench.datasets.splits import write_m3fd_coco_with_split as w; \
#       w('$SAGEBENCH_DATA/M3FD/labels/voc2coco_outputs', 'm3fd_scene_disjoint_v1', \
#         '$SAGEBENCH_DATA/M3FD/labels/m3fd_scene_disjoint.json')"
# Run:
#   sagebench run configs/downstream/m3fd_rtmdet_s_scene_disjoint.py --data-root /data --weights-dir /weights \
#       -o work_dirs/m3fd_rtmdet_sd --device cuda
# Expected time (estimate, until the GPU report measures it): ~17 min per method on one H100 (8,500
# iterations x 32 at 640 px, i.e. 82 epochs of 3,322 images, + the 392-image test).
_base_ = ["./m3fd_rtmdet_s.py"]

datasets = [
    dict(name="M3FD-sd", source="${SAGEBENCH_DATA}/M3FD", labels="labels/m3fd_scene_disjoint.json", split="test",
         train_split="train"),
]
