"""CPU/CI detector: FCOS head on a narrow ResNet-18-style backbone (base width 16), trained from scratch.

Input 160x128 (w x h), two FPN levels (strides 8 and 16), ~0.4 M parameters. A few hundred iterations
at batch 8 take about a minute on 2 CPU cores. Not a paper detector: it is for CI and for the synthetic
scenes, where objects are 8-40 px large.
"""

task = "detection"
image_scale = (160, 128)  # (w, h) for mmcv Resize
max_iters = 300
batch_size = 8
checkpoint_interval = 300

model = dict(
    type="FCOS",
    data_preprocessor=dict(type="DetDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type="ResNet", depth=18, base_channels=16, num_stages=3, out_indices=(1, 2),
                  strides=(1, 2, 2), dilations=(1, 1, 1), frozen_stages=-1,
                  norm_cfg=dict(type="BN", requires_grad=True), norm_eval=False, style="pytorch", init_cfg=None),
    neck=dict(type="FPN", in_channels=[32, 64], out_channels=32, start_level=0, add_extra_convs=False, num_outs=2),
    bbox_head=dict(
        type="FCOSHead", num_classes=1, in_channels=32, stacked_convs=2, feat_channels=32, strides=[8, 16],
        regress_ranges=((-1, 48), (48, 1e8)), norm_cfg=dict(type="GN", num_groups=8, requires_grad=True),
        center_sampling=True, center_sample_radius=1.5, norm_on_bbox=True, centerness_on_reg=True,
        loss_cls=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=1.0),
        loss_centerness=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=300, min_bbox_size=0, score_thr=0.05, nms=dict(type="nms", iou_threshold=0.5),
                  max_per_img=50),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]

optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=2e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
