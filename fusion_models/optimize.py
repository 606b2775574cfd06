"""Inference speed-ups that do not change what a model computes (beyond float rounding)."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every eval-mode ``BatchNorm2d`` that directly follows a ``Conv2d`` inside an ``nn.Sequential``
    into that convolution (the BatchNorm becomes ``nn.Identity``). Module names and indices are kept, so
    code that addresses layers by name still works. Returns the number of folded pairs.

    Only valid for inference with running statistics; the module must be in eval mode.
    """
    if module.training:
        raise RuntimeError("fold_batchnorm needs an eval-mode model (BatchNorm running statistics)")
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()
                folded += 1
    return folded
