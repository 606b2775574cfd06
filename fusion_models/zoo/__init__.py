"""Ported deep fusion methods: our own re-implementations of published networks whose authors released small
weights (PyTorch, or U2Fusion's TensorFlow checkpoint), each loading its release strictly and reproducing the
authors' published fused images where such images exist (see each model's ``card`` and ``docs/models.md``).

Registered names: ``seafusion``, ``ifcnn_max``, ``tardal``, ``tardal_plus``, ``tardal_plusplus``, ``didfuse``,
``densefuse``, ``densefuse_rgb``, ``datfuse``, ``lrrnet``, ``ship``, ``u2fusion``, and the architecture-parity
ports ``cddfuse``, ``emma``, ``rfn_nest``, ``ignet``, ``coconet``, ``piafusion``, ``crossfuse``,
``swinfusion``, ``metafusion`` (their released weights are fetched from upstream). Each port is one file: the
architecture, its registered models and, beside them, its weights manifest entries (``WEIGHTS``: upstream URL,
sha256, size, licence), as timm keeps pretrained entries beside a model family.
"""

from sagebench.fusion_models.zoo import (
    cddfuse,
    coconet,
    crossfuse,
    datfuse,
    densefuse,
    didfuse,
    emma,
    ifcnn,
    ignet,
    lrrnet,
    metafusion,
    piafusion,
    rfn_nest,
    seafusion,
    ship,
    swinfusion,
    tardal,
    u2fusion,
)
from sagebench.fusion_models.zoo.cddfuse import CDDFuse, CDDFuseNet
from sagebench.fusion_models.zoo.coconet import CoCoNet, CoCoNetNet
from sagebench.fusion_models.zoo.crossfuse import CrossFuse, CrossFuseNet
from sagebench.fusion_models.zoo.datfuse import DATFuse, DATFuseNet
from sagebench.fusion_models.zoo.densefuse import DenseFuse, DenseFuseNet, DenseFuseRGB
from sagebench.fusion_models.zoo.didfuse import DIDFuse, DIDFuseDecoder, DIDFuseEncoder
from sagebench.fusion_models.zoo.emma import EMMA, EMMANet
from sagebench.fusion_models.zoo.ifcnn import IFCNNMax, IFCNNNet
from sagebench.fusion_models.zoo.ignet import IGNet, IGNetNet
from sagebench.fusion_models.zoo.lrrnet import LRRNet, LRRNetNet
from sagebench.fusion_models.zoo.metafusion import MetaFusion, MetaFusionNet
from sagebench.fusion_models.zoo.piafusion import PIAFusion, PIAFusionNet
from sagebench.fusion_models.zoo.rfn_nest import RFNNest, RFNNestNet
from sagebench.fusion_models.zoo.seafusion import SeAFusion, SeAFusionNet
from sagebench.fusion_models.zoo.ship import SHIP, SHIPNet
from sagebench.fusion_models.zoo.swinfusion import SwinFusion, SwinFusionNet
from sagebench.fusion_models.zoo.tardal import TarDAL, TarDALNet, TarDALPlus, TarDALPlusPlus
from sagebench.fusion_models.zoo.u2fusion import U2Fusion, U2FusionNet

#: Weights entries of the full-parity ports, in port order (local copies in ../shared/weights).
ZOO_WEIGHTS = (*seafusion.WEIGHTS, *ifcnn.WEIGHTS, *tardal.WEIGHTS, *didfuse.WEIGHTS, *densefuse.WEIGHTS,
               *datfuse.WEIGHTS, *lrrnet.WEIGHTS, *ship.WEIGHTS, *u2fusion.WEIGHTS)

#: Weights entries of the architecture-parity ports: fetched from the authors' URLs only; where upstream
#: publishes no sha256 the entry has the upstream git blob id and the first download is pinned.
UPSTREAM_WEIGHTS = (*cddfuse.WEIGHTS, *emma.WEIGHTS, *rfn_nest.WEIGHTS, *ignet.WEIGHTS, *coconet.WEIGHTS,
                    *piafusion.WEIGHTS, *crossfuse.WEIGHTS, *swinfusion.WEIGHTS, *metafusion.WEIGHTS)

__all__ = ["UPSTREAM_WEIGHTS", "ZOO_WEIGHTS", "CDDFuse", "CDDFuseNet", "CoCoNet", "CoCoNetNet", "CrossFuse",
           "CrossFuseNet", "DATFuse", "DATFuseNet", "DIDFuse", "DIDFuseDecoder", "DIDFuseEncoder", "EMMA", "EMMANet",
           "DenseFuse", "DenseFuseNet", "DenseFuseRGB", "IFCNNMax", "IFCNNNet", "IGNet", "IGNetNet", "LRRNet",
           "LRRNetNet", "MetaFusion", "MetaFusionNet", "PIAFusion", "PIAFusionNet", "RFNNest", "RFNNestNet", "SHIP",
           "SHIPNet", "SeAFusion", "SeAFusionNet", "SwinFusion", "SwinFusionNet", "TarDAL", "TarDALNet",
           "TarDALPlus", "TarDALPlusPlus", "U2Fusion", "U2FusionNet"]
