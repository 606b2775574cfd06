# MSRS segmentation (1,083 train / 361 test, 9 classes), the papers' retrain protocol, on GPU:
# SegFormer MiT-b1 per method. Expects the official release layout
#   $SAGEBENCH_DATA/MSRS/{train,test}/{ir,vi,Segmentation_labels}/  (Linfeng-Tang/MSRS)
# A flat copy (one folder for all pairs, e.g. SeAFusion's datasets/MSRS) takes the shipped split instead:
#   add split_file="msrs_official_v1" to the dataset entry (1,083 / 361, checksummed; all images required)
# ImageNet init (recommended): export SAGEBENCH_INIT_MIT=/path/to/mit_b1_mmseg.pth (converted with
# mmseg's tools/model_converters/mit2mmseg.py)
#   sagebench run configs/downstream/msrs_segformer_b1.py --data-root /data --weights-dir /weights \
#       -o work_dirs/msrs_seg --device cuda
# Expected time (estimate): ~100 min per method on one H100 (40k iterations x 8); use
# model="seg_segformer_b0" for ~80 min. Reported with mIoU over all 9 classes incl. unlabelled.
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="MSRS", source="${SAGEBENCH_DATA}/MSRS", split="test", train_split="train"),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._MAX_ABS,
           _base_._SEAFUSION, _base_._SAGE_STUDENT]
tasks = [
    dict(type="segmentation", model="seg_segformer_b1", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["car", "person", "bike"]),
]
seed = 0
