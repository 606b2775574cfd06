# SAGE on MSRS (ir/ vi/ Segmentation_labels/), paper-intent switches.
_base_ = ['./_base_/sage_paper.py']
preset = 'fixed'
work_dir = 'work_dirs/sage_msrs_fixed'
data = dict(source='data/MSRS', kwargs=dict(split='train'))
loss = dict(seg_num_classes=9)         # MSRS label ids 0..8 (255 = ignore)
