# ruff: noqa: E501  (model configs: one dict entry per line reads better than wrapped)
"""GPU segmenter: SegFormer MiT-b0 + SegFormer head (mmseg segformer recipe), for MSRS (640x480, 9 classes; 1,083 train images).

Train: random resize of 640x480 by 0.5-2.0, random crop 640x480, flip, photometric
distortion; batch 8; AdamW lr 6e-5 (head x10), poly decay; 40,000 iterations. Test: whole image at
640x480. ImageNet init: set ``init_checkpoint`` on the task or ``$SAGEBENCH_INIT_MIT`` to a MiT
backbone state dict **in mmseg's key format** (convert the official SegFormer ``mit_b*.pth`` with mmseg's
``tools/model_converters/mit2mmseg.py``); without it the backbone trains from scratch (meta ``init: scratch``).
Expected time (estimate, not measured here): ~0.12 s/iteration on one H100 -> ~80 min training + ~1 min evaluation of 361 test images per method.
"""

task = "segmentation"
image_scale = (640, 480)
crop_size = (480, 640)
max_iters = 40000
batch_size = 8
checkpoint_interval = 4000
init_checkpoint_env = "SAGEBENCH_INIT_MIT"

model = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size),
    backbone=dict(type="MixVisionTransformer", in_channels=3, embed_dims=32, num_stages=4, num_layers=[2, 2, 2, 2],
                  num_heads=[1, 2, 5, 8], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3),
                  mlp_ratio=4, qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1, init_cfg=None),
    decode_head=dict(type="SegformerHead", in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3], channels=256,
                     dropout_ratio=0.1, num_classes=9, norm_cfg=dict(type="BN", requires_grad=True),
                     align_corners=False,
                     loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode="whole"),
)

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

optim_wrapper = dict(
    type="OptimWrapper", optimizer=dict(type="AdamW", lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys=dict(pos_block=dict(decay_mult=0.0), norm=dict(decay_mult=0.0),
                                        head=dict(lr_mult=10.0))))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=max_iters),
]
