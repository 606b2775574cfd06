"""CPU/CI YOLO-class detector: RTMDet (the det_rtmdet_s recipe, inherited) scaled down to the synthetic scenes.

CSPNeXt at deepen 0.167 / widen 0.125 (RTMDet-tiny's depth, a third of its width), CSPNeXt-PAFPN with 32
channels, the RTMDet head on strides 8/16/32; 0.55 M parameters, trained from scratch. Input 160 x 128
(w x h). The recipe's augmentation family without mix-up (cached mosaic of 4, random resize and crop back to
160 x 128, HSV jitter, flip) and its EMA of the weights (what is saved and scored). AdamW lr 4e-3, warm-up
then cosine. 200 iterations at batch 8 take about 25 s on 2 CPU cores. Not a paper detector: it is for CI
and for the synthetic scenes, where objects are 8-40 px large.
"""

_base_ = ["./det_rtmdet_s.py"]

image_scale = (160, 128)  # (w, h)
max_iters = 300
batch_size = 8
checkpoint_interval = 300
init_checkpoint_env = None  # trained from scratch
init_prefix = None

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(deepen_factor=0.167, widen_factor=0.125),
    neck=dict(in_channels=[32, 64, 128], out_channels=32),
    bbox_head=dict(num_classes=1, in_channels=32, feat_channels=32),
    test_cfg=dict(nms_pre=1000, score_thr=0.05, nms=dict(iou_threshold=0.6), max_per_img=50),
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

optim_wrapper = dict(optimizer=dict(lr=4e-3))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type="CosineAnnealingLR", eta_min=2e-4, by_epoch=False, begin=30, end=max_iters),
]
