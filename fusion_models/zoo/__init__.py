"""Ported deep fusion methods: our own re-implementations of published networks whose authors released
small PyTorch weights, each loading its release with ``strict=True`` and reproducing the authors'
published fused images where such images exist (see each model's ``card`` and ``docs/models.md``).

Registered names: ``seafusion``, ``ifcnn_max``, ``tardal``, ``tardal_plus``, ``tardal_plusplus``,
``didfuse``, ``densefuse``, ``densefuse_rgb``, ``datfuse``, ``lrrnet``, ``ship``. Each port is one file: the
architecture,
its registered models and, beside them, its weights manifest entries (``WEIGHTS``: upstream URL,
sha256, size, licence), as timm keeps pretrained entries beside a model family.
"""

from sagebench.fusion_models.zoo import datfuse, densefuse, didfuse, ifcnn, lrrnet, seafusion, ship, tardal
from sagebench.fusion_models.zoo.datfuse import DATFuse, DATFuseNet
from sagebench.fusion_models.zoo.densefuse import DenseFuse, DenseFuseNet, DenseFuseRGB
from sagebench.fusion_models.zoo.didfuse import DIDFuse, DIDFuseDecoder, DIDFuseEncoder
from sagebench.fusion_models.zoo.ifcnn import IFCNNMax, IFCNNNet
from sagebench.fusion_models.zoo.lrrnet import LRRNet, LRRNetNet
from sagebench.fusion_models.zoo.seafusion import SeAFusion, SeAFusionNet
from sagebench.fusion_models.zoo.ship import SHIP, SHIPNet
from sagebench.fusion_models.zoo.tardal import TarDAL, TarDALNet, TarDALPlus, TarDALPlusPlus

#: Every port's weights entries, in port order.
ZOO_WEIGHTS = (*seafusion.WEIGHTS, *ifcnn.WEIGHTS, *tardal.WEIGHTS, *didfuse.WEIGHTS, *densefuse.WEIGHTS,
               *datfuse.WEIGHTS, *lrrnet.WEIGHTS, *ship.WEIGHTS)

__all__ = ["ZOO_WEIGHTS", "DATFuse", "DATFuseNet", "DIDFuse", "DIDFuseDecoder", "DIDFuseEncoder", "DenseFuse",
           "DenseFuseNet", "DenseFuseRGB", "IFCNNMax", "IFCNNNet", "LRRNet", "LRRNetNet", "SHIP", "SHIPNet",
           "SeAFusion", "SeAFusionNet", "TarDAL", "TarDALNet", "TarDALPlus", "TarDALPlusPlus"]
