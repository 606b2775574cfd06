# ruff: noqa: E501  (model configs: one dict entry per line reads better than wrapped)
"""GPU segmenter: SegFormer MiT-b1 + SegFormer head (mmseg segformer recipe), for FMB (800x600, 15 classes incl. unlabelled; 1,220 train images).

Train: random resize of 800x600 by 0.5-2.0, random crop 800x600, flip, photometric
distortion; batch 8; AdamW lr 6e-5 (head x10), poly decay; 40,000 iterations. Test: whole image at
800x600. ImageNet init: set ``init_checkpoint`` on the task or ``$SAGEBENCH_INIT_MIT`` to a MiT
backbone state dict **in mmseg's key format** (convert the official SegFormer ``mit_b*.pth`` with mmseg's
``tools/model_converters/mit2mmseg.py``); without it the backbone trains from scratch (meta ``init: scratch``).
Expected time (estimate, not measured here): ~0.2 s/iteration on one H100 -> ~2.2 h training + ~1 min evaluation of 280 test images per method.
"""

# The MSRS MiT-b1 recipe (inherited) at FMB's 800x600 resolution.
_base_ = ["./seg_segformer_b1.py"]

image_scale = (800, 600)
crop_size = (600, 800)
model = dict(data_preprocessor=dict(size=crop_size))

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="RandomResize", scale=image_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type="PackSegInputs"),
]
