# SAGE training settings of the paper / official code (spec sections 3 and 5). Derived configs set
# `data.source` and may change `preset` ('fixed' = paper intent, default; 'faithful' = as the code that
# trained the released student) or single `switches` (see docs/sage.md).
preset = 'fixed'
switches = dict()
work_dir = 'work_dirs/sage'
device = None  # cuda if available

model = dict(student_dim=32, mask_num=4, teacher_width=64, teacher_out_bias=None, student_init=None,
             teacher_init=None)

sam = dict(
    model_type='vit_b',           # the paper's automatic masks come from SAM ViT-B
    checkpoint=None,              # path to sam_vit_b_01ec64.pth (or put it in $SAGEBENCH_WEIGHTS_DIR)
    amg=dict(points_per_side=128, pred_iou_thresh=0.86, stability_score_thresh=0.92, crop_n_layers=1,
             crop_n_points_downscale_factor=2, min_mask_region_area=100),
    top_k=20,                     # cache_mask_num
    cache_dir=None,               # default: <SAGEBENCH_HOME>/sam_masks
    encoder_blocks=2,             # truncated SAM encoder of the contrastive loss
    seed=0,
    device=None)

data = dict(source=None, kwargs=dict(), crop=(192, 256), hflip=True, num_workers=4)

train = dict(epochs=100, batch_size=4, student_lr=2e-3, teacher_lr=5e-4, eta_min=1e-5, student_epoch=1,
             ini_epoch=1, seed=2, log_interval=10, checkpoint_interval=500, keep_checkpoints=2)

loss = dict(contrast=True, contrast_scale=1 / 3000, seg_weight=0.3, seg_num_classes=None, segmenter=None,
            student_cos=0.3, teacher_student_weight=0.1, teacher_cos=0.01)
