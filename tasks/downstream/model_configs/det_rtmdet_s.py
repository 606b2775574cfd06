# ruff: noqa: E501  (model configs: one dict entry per line reads better than wrapped)
"""GPU YOLO-class detector: RTMDet-s (mmdet's rtmdet_s_8xb32-300e_coco recipe) at 640 px, for M3FD and LLVIP.

Network: CSPNeXt-s backbone (deepen 0.33, widen 0.5, channel attention, SiLU), CSPNeXt-PAFPN neck, shared
RTMDet head on strides 8/16/32 (quality focal loss, GIoU, dynamic soft-label assignment); 8.9 M parameters.
BatchNorm instead of the recipe's SyncBN (one GPU).

Schedule (iterations; one epoch of M3FD's 2,727-image TarDAL train split is ~85 iterations at batch 32,
of LLVIP's 12,025 train pairs ~376): 8,500 iterations at batch 32 = 100 epochs of M3FD (23 of LLVIP; give
``max_iters`` on the task for more). AdamW lr 5e-4 (the recipe's 4e-3 at batch 256, scaled linearly to 32),
weight decay 0.05 (none on norms and biases), 1,000 warm-up iterations, cosine decay to 5 % over the second
half, EMA of the weights (ExpMomentumEMA, momentum 2e-4; the EMA weights are what is saved and scored).
Augmentation as the recipe: mosaic of 4 (cached), random resize of 1280 x 1280 by 0.5-2.0, random 640 crop,
HSV jitter, horizontal flip, pad to 640, mix-up of 2 (cached). The recipe's last 20 epochs without mosaic /
mix-up (an epoch-based pipeline switch) are not replicated in this iteration-based loop. Test: resize to
640 (long side, keep ratio), pad to 640 x 640.

Relation to Ultralytics YOLOv5s (the detector of TarDAL and its successors; AGPL-3.0, not a dependency): a
one-stage anchor-free detector of the same size class (YOLOv5s: 7.2 M parameters) trained from 640 px mosaics
with HSV jitter, random scale / translate, flips and an EMA of the weights; numbers are comparable in kind
(mAP of a modern one-stage detector retrained per fusion method), not equal to a YOLOv5s table.

ImageNet init: set ``init_checkpoint`` on the task or ``$SAGEBENCH_INIT_CSPNEXT_S`` to mmdet's
``cspnext-s_imagenet_600e.pth`` (backbone keys prefixed ``backbone.``); without it the network trains from
scratch (``init: scratch`` in the result's meta).
Expected time (estimate, not measured here): ~0.12 s/iteration on one H100 -> ~17 min training plus ~1 min
evaluation of M3FD's 840 test images (LLVIP's 3,463: ~3 min) per method.
"""

task = "detection"
image_size = 640
max_iters = 8500
batch_size = 32
checkpoint_interval = 1000
init_checkpoint_env = "SAGEBENCH_INIT_CSPNEXT_S"
init_prefix = "backbone."

_norm = dict(type="BN")
_act = dict(type="SiLU", inplace=True)
model = dict(
    type="RTMDet",
    data_preprocessor=dict(type="DetDataPreprocessor", mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395],
                           bgr_to_rgb=False, batch_augments=None),
    backbone=dict(type="CSPNeXt", arch="P5", expand_ratio=0.5, deepen_factor=0.33, widen_factor=0.5,
                  channel_attention=True, norm_cfg=_norm, act_cfg=_act, init_cfg=None),
    neck=dict(type="CSPNeXtPAFPN", in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1, expand_ratio=0.5,
              norm_cfg=_norm, act_cfg=_act),
    bbox_head=dict(
        type="RTMDetSepBNHead", num_classes=6, in_channels=128, stacked_convs=2, feat_channels=128,
        anchor_generator=dict(type="MlvlPointGenerator", offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type="DistancePointBBoxCoder"),
        loss_cls=dict(type="QualityFocalLoss", use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
        with_objectness=False, exp_on_reg=False, share_conv=True, pred_kernel_size=1, norm_cfg=_norm, act_cfg=_act),
    train_cfg=dict(assigner=dict(type="DynamicSoftLabelAssigner", topk=13), allowed_border=-1, pos_weight=-1,
                   debug=False),
    test_cfg=dict(nms_pre=30000, min_bbox_size=0, score_thr=0.001, nms=dict(type="nms", iou_threshold=0.65),
                  max_per_img=300),
)

_pad = dict(img=(114, 114, 114))
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="CachedMosaic", img_scale=(image_size, image_size), pad_val=114.0),
    dict(type="RandomResize", scale=(2 * image_size, 2 * image_size), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=(image_size, image_size)),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="Pad", size=(image_size, image_size), pad_val=_pad),
    dict(type="CachedMixUp", img_scale=(image_size, image_size), ratio_range=(1.0, 1.0), max_cached_images=20,
         pad_val=(114, 114, 114)),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(image_size, image_size), keep_ratio=True),
    dict(type="Pad", size=(image_size, image_size), pad_val=_pad),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]

_lr = 5e-4
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=_lr, weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),
    dict(type="CosineAnnealingLR", eta_min=_lr * 0.05, by_epoch=False, begin=max_iters // 2, end=max_iters),
]
custom_hooks = [
    dict(type="EMAHook", ema_type="ExpMomentumEMA", momentum=0.0002, update_buffers=True, priority=49),
]
