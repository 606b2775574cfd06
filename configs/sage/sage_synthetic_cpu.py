# A CPU demonstration on generated scenes: tiny random SAM, a width-16 teacher, 48x64 crops, two
# teacher-only warm-up epochs. Runs in about a minute on two cores: `sagebench train configs/sage/sage_synthetic_cpu.py --threads 1`.
_base_ = ['./_base_/sage_paper.py']
preset = 'fixed'
work_dir = 'work_dirs/sage_synthetic_cpu'
device = 'cpu'
model = dict(teacher_width=16, teacher_out_bias=0.3)  # see docs/sage.md (CPU demo)
sam = dict(model_type='tiny', top_k=6,
           amg=dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, crop_n_layers=0,
                    crop_n_points_downscale_factor=1, min_mask_region_area=0))
data = dict(source='synthetic', kwargs=dict(n=16, seed=0, size=(64, 80)), crop=(48, 64), num_workers=0)
train = dict(epochs=10, student_epoch=3, batch_size=2, teacher_lr=2e-3, student_lr=4e-3, log_interval=4,
             checkpoint_interval=8)
