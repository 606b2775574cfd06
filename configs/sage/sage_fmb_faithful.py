# SAGE on FMB reproducing the behaviour of the code that trained the released student weights
# (segmentation term without gradient, masked-intensity masks, random SAM loss encoder, ...).
_base_ = ['./_base_/sage_paper.py']
preset = 'faithful'
work_dir = 'work_dirs/sage_fmb_faithful'
data = dict(source='data/FMB/train')
