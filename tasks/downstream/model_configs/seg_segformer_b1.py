# ruff: noqa: E501  (model configs: one dict entry per line reads better than wrapped)
"""GPU segmenter: SegFormer MiT-b1 + SegFormer head (mmseg segformer recipe), for MSRS (640x480, 9 classes; 1,083 train images).

Train: random resize of 640x480 by 0.5-2.0, random crop 640x480, flip, photometric
distortion; batch 8; AdamW lr 6e-5 (head x10), poly decay; 40,000 iterations. Test: whole image at
640x480. ImageNet init: set ``init_checkpoint`` on the task or ``$SAGEBENCH_INIT_MIT`` to a MiT
backbone state dict **in mmseg's key format** (convert the official SegFormer ``mit_b*.pth`` with mmseg's
``tools/model_converters/mit2mmseg.py``); without it the backbone trains from scratch (meta ``init: scratch``).
Expected time (estimate, not measured here): ~0.15 s/iteration on one H100 -> ~100 min training + ~1 min evaluation per method.
"""

# Same recipe as MiT-b0 (inherited), with the wider MiT-b1 encoder.
_base_ = ["./seg_segformer_b0.py"]

model = dict(
    backbone=dict(embed_dims=64),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
)
