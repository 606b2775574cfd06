# SAGE on FMB (the paper's training set), paper-intent switches. GPU recipe:
#   sagebench train configs/sage/sage_fmb_fixed.py --sam-checkpoint /path/to/sam_vit_b_01ec64.pth
_base_ = ['./_base_/sage_paper.py']
preset = 'fixed'
work_dir = 'work_dirs/sage_fmb_fixed'
data = dict(source='data/FMB/train')   # FMB layout: Infrared/ Visible/ Label/
loss = dict(seg_num_classes=15)        # FMB label ids 0..14 (255 = ignore)
