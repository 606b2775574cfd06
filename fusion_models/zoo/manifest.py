"""Weights manifest entries of the ported methods (the authors' own released checkpoints).

``relpath`` follows the layout ``<method>/<file>`` of a local weights folder (``SAGEBENCH_WEIGHTS_DIR``).
Where the upstream repository states no licence, ``redistributable=False``: sagebench never mirrors
those files; they are fetched from the authors' URL by the user's own machine at run time.
"""

from __future__ import annotations

from sagebench.weights import WeightSpec, register_weights

NO_LICENCE = "none stated upstream (no LICENSE file; all rights reserved by default)"

ZOO_WEIGHTS: tuple[WeightSpec, ...] = (
    WeightSpec(
        name="seafusion",
        url="https://github.com/Linfeng-Tang/VIF-Benchmark/raw/main/Checkpoint/SeAFusion/SeAFusion.pth",
        sha256="8d65a7f9a50f36349803368cf9920f40420776995e7e8cc8a56d8d30e499431d",
        size=682_043,
        licence="MIT (VIF-Benchmark, (c) 2023 Linfeng Tang, SeAFusion's first author); "
                "the SeAFusion repository itself has no LICENSE file",
        relpath="seafusion/SeAFusion.pth",
        source="Linfeng-Tang/VIF-Benchmark@23f2e51 Checkpoint/SeAFusion/SeAFusion.pth",
        notes="byte identity with Linfeng-Tang/SeAFusion model/Fusion/fusionmodel_final.pth not verified; "
              "reproduces the first author's published TNO results",
    ),
    WeightSpec(
        name="ifcnn_max",
        url="https://github.com/uzeful/IFCNN/raw/master/Code/snapshots/IFCNN-MAX.pth",
        sha256="6022b44c88a2f0367ba9b08fcdf0d663745d9a966fca0ee1f41867797b6ff53f",
        size=337_094,
        licence=NO_LICENCE,
        relpath="ifcnn/IFCNN-MAX.pth",
        redistributable=False,
        source="uzeful/IFCNN@8fe59c2 Code/snapshots/IFCNN-MAX.pth (same bytes in VIF-Benchmark Checkpoint/IFCNN)",
    ),
    WeightSpec(
        name="tardal",
        url="https://github.com/JinyuanLiu-CV/TarDAL/raw/v1.0.0/weights/tardal.pt",
        sha256="e0fa61e25cffa9fb14ff17b47ea7ba237a6e8c6f37e1b9b115d63354ff0f13e1",
        size=1_203_451,
        licence="GPL-3.0 (LICENSE on the main branch, added after the v1.0.0 tag that carries the file)",
        relpath="tardal/tardal.pt",
        source="JinyuanLiu-CV/TarDAL tag v1.0.0 (7b47244) weights/tardal.pt",
    ),
    WeightSpec(
        name="tardal_plus",
        url="https://github.com/JinyuanLiu-CV/TarDAL/raw/v1.0.0/weights/tardal+.pt",
        sha256="cff3756548b511e3e415616debc557cdc85b3bb19393ca158cac8d08f232897c",
        size=1_201_819,
        licence="GPL-3.0 (LICENSE on the main branch, added after the v1.0.0 tag that carries the file)",
        relpath="tardal/tardal+.pt",
        source="JinyuanLiu-CV/TarDAL tag v1.0.0 (7b47244) weights/tardal+.pt",
        aliases=("tardal+",),
    ),
    WeightSpec(
        name="tardal_plusplus",
        url="https://github.com/JinyuanLiu-CV/TarDAL/raw/v1.0.0/weights/tardal++.pt",
        sha256="7009d125e36db043d6918d9358e10c6dca7fdf2dd08ada09c5ecd294f45f98c5",
        size=1_201_819,
        licence="GPL-3.0 (LICENSE on the main branch, added after the v1.0.0 tag that carries the file)",
        relpath="tardal/tardal++.pt",
        source="JinyuanLiu-CV/TarDAL tag v1.0.0 (7b47244) weights/tardal++.pt",
        aliases=("tardal++",),
    ),
    WeightSpec(
        name="didfuse_encoder",
        url="https://github.com/Zhaozixiang1228/IVIF-DIDFuse/raw/main/Models/Encoder_weight_IJCAI.pkl",
        sha256="4d84a4e64e58469d3d4591f83c6683ead3e422498519db99bb617cb29d268471",
        size=454_838,
        licence=NO_LICENCE,
        relpath="didfuse/Encoder_weight_IJCAI.pkl",
        redistributable=False,
        source="Zhaozixiang1228/IVIF-DIDFuse@5f28730 Models/Encoder_weight_IJCAI.pkl ({'weight': state_dict})",
    ),
    WeightSpec(
        name="didfuse_decoder",
        url="https://github.com/Zhaozixiang1228/IVIF-DIDFuse/raw/main/Models/Decoder_weight_IJCAI.pkl",
        sha256="c6974e2a7c66ab579a77bacb086023237a229e769d459783bad8ff43e52e9986",
        size=600_772,
        licence=NO_LICENCE,
        relpath="didfuse/Decoder_weight_IJCAI.pkl",
        redistributable=False,
        source="Zhaozixiang1228/IVIF-DIDFuse@5f28730 Models/Decoder_weight_IJCAI.pkl ({'weight': state_dict})",
    ),
    WeightSpec(
        name="densefuse_gray",
        url="https://github.com/hli1221/densefuse-pytorch/raw/master/models/densefuse_gray.model",
        sha256="b34cf3650f04161b31ac2467decfeedf7eba39165b7618f846e0f298ecd2ac65",
        size=300_413,
        licence=NO_LICENCE,
        relpath="densefuse/densefuse_gray.model",
        redistributable=False,
        source="hli1221/densefuse-pytorch@4394b63 models/densefuse_gray.model",
    ),
    WeightSpec(
        name="densefuse_rgb",
        url="https://github.com/hli1221/densefuse-pytorch/raw/master/models/densefuse_rgb.model",
        sha256="d1829f47c0ff02ecfc294907655384eebc911a00deb89b91e354ae47c8728ea5",
        size=302_727,
        licence=NO_LICENCE,
        relpath="densefuse/densefuse_rgb.model",
        redistributable=False,
        source="hli1221/densefuse-pytorch@4394b63 models/densefuse_rgb.model",
    ),
    WeightSpec(
        name="datfuse",
        url="https://github.com/tthinking/DATFuse/raw/main/model_10.pth",
        sha256="075b636954cbd425fc29be808bcfb42232e29b203f054c2a637ed301300d5a1d",
        size=65_189,
        licence=NO_LICENCE,
        relpath="datfuse/model_10.pth",
        redistributable=False,
        source="tthinking/DATFuse@0cd93f1 model_10.pth",
    ),
)

for _spec in ZOO_WEIGHTS:
    register_weights(_spec)
