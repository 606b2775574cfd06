"""CPU/CI YOLO-class detector: RTMDet (the det_rtmdet_s recipe) scaled down to the synthetic scenes.

CSPNeXt at deepen 0.167 / widen 0.125 (RTMDet-tiny's depth, a third of its width), CSPNeXt-PAFPN with 32
channels, the RTMDet head on strides 8/16/32; 0.55 M parameters, trained from scratch. Input 160 x 128
(w x h). The recipe's augmentation family without mix-up (cached mosaic of 4, random resize and crop back to
160 x 128, HSV jitter, flip) and its EMA of the weights (what is saved and scored). AdamW lr 4e-3, warm-up
then cosine. 200 iterations at batch 8 take about 25 s on 2 CPU cores. Not a paper detector:
it is for CI and for the synthetic scenes, where objects are 8-40 px large.
"""

task = "detection"
image_scale = (160, 128)  # (w, h)
max_iters = 300
batch_size = 8
checkpoint_interval = 300

_norm = dict(type="BN")
_act = dict(type="SiLU", inplace=True)
model = dict(
    type="RTMDet",
    data_preprocessor=dict(type="DetDataPreprocessor", mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395],
                           bgr_to_rgb=False, pad_size_divisor=32, batch_augments=None),
    backbone=dict(type="CSPNeXt", arch="P5", expand_ratio=0.5, deepen_factor=0.167, widen_factor=0.125,
                  channel_attention=True, norm_cfg=_norm, act_cfg=_act, init_cfg=None),
    neck=dict(type="CSPNeXtPAFPN", in_channels=[32, 64, 128], out_channels=32, num_csp_blocks=1, expand_ratio=0.5,
              norm_cfg=_norm, act_cfg=_act),
    bbox_head=dict(
        type="RTMDetSepBNHead", num_classes=1, in_channels=32, stacked_convs=2, feat_channels=32,
        anchor_generator=dict(type="MlvlPointGenerator", offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type="DistancePointBBoxCoder"),
        loss_cls=dict(type="QualityFocalLoss", use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
        with_objectness=False, exp_on_reg=False, share_conv=True, pred_kernel_size=1, norm_cfg=_norm, act_cfg=_act),
    train_cfg=dict(assigner=dict(type="DynamicSoftLabelAssigner", topk=13), allowed_border=-1, pos_weight=-1,
                   debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type="nms", iou_threshold=0.6),
                  max_per_img=50),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="CachedMosaic", img_scale=image_scale, pad_val=114.0, max_cached_images=16),
    dict(type="RandomResize", scale=(2 * image_scale[0], 2 * image_scale[1]), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=(image_scale[1], image_scale[0])),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="Pad", size=image_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]

optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=4e-3, weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type="CosineAnnealingLR", eta_min=2e-4, by_epoch=False, begin=30, end=max_iters),
]
custom_hooks = [
    dict(type="EMAHook", ema_type="ExpMomentumEMA", momentum=0.0002, update_buffers=True, priority=49),
]
