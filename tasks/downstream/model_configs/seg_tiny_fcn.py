"""CPU/CI segmenter: FCN head on a narrow ResNet-18-style backbone (base width 16), trained from scratch.

Input 160x128 (w x h), output stride 4 (dilated stages), ~0.2 M parameters. A few hundred iterations at batch 8 take
about a minute on 2 CPU cores. For CI and the synthetic scenes, not for paper numbers.
"""

task = "segmentation"
image_scale = (160, 128)
max_iters = 300
batch_size = 8
checkpoint_interval = 300

model = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=32),
    backbone=dict(type="ResNetV1c", depth=18, stem_channels=16, base_channels=16, num_stages=3, out_indices=(2,),
                  strides=(1, 1, 1), dilations=(1, 2, 4), norm_cfg=dict(type="BN", requires_grad=True),
                  norm_eval=False, style="pytorch", contract_dilation=True, init_cfg=None),
    decode_head=dict(type="FCNHead", in_channels=64, in_index=0, channels=32, num_convs=1, concat_input=True,
                     dropout_ratio=0.0, num_classes=2, norm_cfg=dict(type="BN", requires_grad=True),
                     align_corners=False,
                     # mmseg's default head init (conv_seg ~ N(0, 0.01), bias 0) is applied by the Runner's
                     # init_weights(); on this narrow network trained from scratch with AdamW it leaves the
                     # logits so small that training stays on the "background everywhere" plateau for the
                     # whole short schedule. A 0.1 std (about PyTorch's default for a 32-channel 1x1 conv)
                     # lets the rare classes separate within a few dozen iterations.
                     init_cfg=dict(type="Normal", std=0.1, override=dict(name="conv_seg")),
                     # CE + Dice: Dice keeps small, rare classes (persons are a few % of the pixels) from
                     # being swamped by the background in a short schedule
                     loss_decode=[dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
                                  dict(type="DiceLoss", loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode="whole"),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type="PackSegInputs"),
]

optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=2e-3, weight_decay=1e-4))
# short warm-up, then a constant rate: with a few hundred iterations from scratch a decaying schedule
# stops the network before the rare classes separate from the background
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=20),
]
