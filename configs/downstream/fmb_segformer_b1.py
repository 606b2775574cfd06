# FMB segmentation (1,220 train / 280 test, 14 classes + unlabelled), retrain protocol, on GPU:
# SegFormer MiT-b1 at 800x600 per method. Expects $SAGEBENCH_DATA/FMB/{train,test}/{Infrared,Visible,Label}/.
# ImageNet init (recommended): export SAGEBENCH_INIT_MIT=/path/to/mit_b1_mmseg.pth
#   sagebench run configs/downstream/fmb_segformer_b1.py --data-root /data --weights-dir /weights \
#       -o work_dirs/fmb_seg --device cuda
# Expected time (estimate): ~2.2 h per method on one H100 (40k iterations x 8 at 600x800 crops).
# The frozen protocol (one network trained on VIS only, scoring every method) costs one training in total:
#   add dict(type="segmentation", name="segmentation-frozen", model="seg_segformer_b1_fmb", protocol="frozen")
_base_ = ["../_base_/methods.py"]

datasets = [
    dict(name="FMB", source="${SAGEBENCH_DATA}/FMB", split="test", train_split="train"),
]
methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._SAGE_STUDENT]
tasks = [
    dict(type="segmentation", model="seg_segformer_b1_fmb", protocol="retrain", num_workers=8,
         input_stats="fused_train",  # each method's network normalised by its own fused training images
         key_classes=["Person", "Car", "Truck", "Bus", "Motorcycle", "Bicycle"]),
]
seed = 0
