"""Expected outputs for the architecture-parity tests (tests/test_zoo_parity.py), made OUTSIDE the repository
from the authors' own modules. Not a test; our driver, committed so the numbers can be remade.

For each method: build the authors' modules from a fetched copy of their repository (path given on the
command line), fill every floating-point tensor of their state_dict with the seeded values of
:func:`seeded_state` (keys carrying our port's prefixes), run the authors' inference composition on a seeded
small input, and save ``tests/data/parity/<method>.pt``: the key list with shapes, the inputs and the
output. The test fills the port's state_dict the same way (so keys and shapes must be identical) and
compares.

    python tests/data/parity/make_parity.py cddfuse /path/to/Zhaozixiang1228+MMIF-CDDFuse   # needs einops, timm
    python tests/data/parity/make_parity.py emma /path/to/Zhaozixiang1228+MMIF-EMMA          # needs einops
    python tests/data/parity/make_parity.py rfn_nest /path/to/hli1221+imagefusion-rfn-nest
    python tests/data/parity/make_parity.py ignet /path/to/lok-18+IGNet
    python tests/data/parity/make_parity.py coconet /path/to/runjia0124+CoCoNet
    PYTHONPATH=<tensorflow 2.18> python tests/data/parity/make_parity.py piafusion /path/to/Linfeng-Tang+PIAFusion
    python tests/data/parity/make_parity.py crossfuse /path/to/hli1221+CrossFuse                 # needs timm
    python tests/data/parity/make_parity.py swinfusion /path/to/Linfeng-Tang+SwinFusion          # needs timm
    python tests/data/parity/make_parity.py metafusion /path/to/wdzhao123+MetaFusion

Fetched copies used: Zhaozixiang1228/MMIF-CDDFuse@fd8da1f (net.py), Zhaozixiang1228/MMIF-EMMA@9983ca2
(nets/Ufuser.py), hli1221/imagefusion-rfn-nest@76e4e05 (net.py; its ``cuda()`` in unused code is not called);
lok-18/IGNet@1757e6b (model_gnn.py, graph.py, ConvGRU.py; its unused ``thop`` import is stubbed),
runjia0124/CoCoNet@fae29b4 (models/model.py, utils/; torchvision's ``vgg19(pretrained=True)`` in its
constructor is served without the ImageNet download, the values being replaced by the seeded ones anyway);
Linfeng-Tang/PIAFusion@10b5c59 (train_network.py, ops.py; TensorFlow 1 code run through tf.compat.v1 of
TensorFlow 2.18.1, its ``tensorflow.contrib`` and ``utils`` imports stubbed, as the fusion graph uses neither, and the
decoder's float channel counts (``channel / 2``, which TF1 accepted) passed to its ``conv`` as ints);
hli1221/CrossFuse@bb00cb4 (network/, tools/utils.py, args_*.py; its plotting import ``seaborn`` is stubbed);
Linfeng-Tang/SwinFusion@ceeec3f (models/network_swinfusion1.py, with timm 1.0.31 for its layer helpers);
wdzhao123/MetaFusion@a8c5eaf (models/metafusion_net.py; its MetaConv2d kernels are buffers, filled alike);
torch 2.14.1 on CPU, one thread. For PIAFusion the seeded values are keyed by the TensorFlow variable names
(``shapes`` holds those names and TensorFlow shapes) and the test maps them with the port's checkpoint reader.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent
SCALE = 0.05


def seeded_state(shapes: dict[str, tuple[int, ...]], scale: float = SCALE) -> dict[str, torch.Tensor]:
    """Per key ``k``: ``scale * randn(shape)`` from a generator seeded with ``crc32(k)`` (float tensors);
    BatchNorm running variances ``1 + |that|`` (positive)."""
    out = {}
    for k, shape in shapes.items():
        g = torch.Generator().manual_seed(zlib.crc32(k.encode()))
        out[k] = scale * torch.randn(shape, generator=g, dtype=torch.float32)
        if k.endswith("running_var"):
            out[k] = 1 + out[k].abs()
    return out


def inputs(n: int, h: int = 24, w: int = 28, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 1, h, w, generator=g) for _ in range(n)]


def _fill(parts: dict[str, torch.nn.Module], scale: float = SCALE) -> dict[str, tuple[int, ...]]:
    """Fill the authors' modules (our prefix -> module) with the seeded state; returns key -> shape."""
    def key(p: str, k: str) -> str:
        return f"{p}.{k}" if p else k

    shapes = {key(p, k): tuple(v.shape) for p, m in parts.items() for k, v in m.state_dict().items()
              if v.is_floating_point()}
    state = seeded_state(shapes, scale)
    for p, m in parts.items():
        own = m.state_dict()
        sub = {k: state.get(key(p, k), v) for k, v in own.items()}
        m.load_state_dict(sub, strict=True)
        m.eval()
    return shapes


def cddfuse(repo: Path) -> dict:
    sys.path.insert(0, str(repo))
    from net import BaseFeatureExtraction, DetailFeatureExtraction, Restormer_Decoder, Restormer_Encoder

    enc, dec = Restormer_Encoder(), Restormer_Decoder()
    base, detail = BaseFeatureExtraction(dim=64, num_heads=8), DetailFeatureExtraction(num_layers=1)
    shapes = _fill({"encoder": enc, "decoder": dec, "base_fuse": base, "detail_fuse": detail})
    ir, vis = inputs(2)
    with torch.no_grad():  # test_IVF.py's composition, before its min-max stretch
        vb, vd, _ = enc(vis)
        ib, id_, _ = enc(ir)
        out, _ = dec(vis, base(vb + ib), detail(vd + id_))
    return {"shapes": shapes, "scale": SCALE, "inputs": {"ir": ir, "vis": vis}, "output": out}


def emma(repo: Path) -> dict:
    sys.path.insert(0, str(repo))
    from nets.Ufuser import Ufuser

    net = Ufuser()
    shapes = _fill({"": net}, scale=0.07)  # deep and sigmoid-capped: larger values keep the output varied
    ir, vis = inputs(2, 32, 40)
    with torch.no_grad():  # test.py: model(ir, vi) on a multiple-of-8 crop, before its min-max stretch
        out = net(ir, vis)
    return {"shapes": shapes, "scale": 0.07, "inputs": {"ir": ir, "vis": vis}, "output": out}


def rfn_nest(repo: Path) -> dict:
    sys.path.insert(0, str(repo))
    from net import Fusion_network, NestFuse_light2_nodense

    nb = [64, 112, 160, 208, 256]  # test_21pairs.load_model
    nest, rfn = NestFuse_light2_nodense(nb, 1, 1, deepsupervision=False), Fusion_network(nb, "res")
    shapes = _fill({"nest": nest, "rfn": rfn})
    ir, vis = (255 * x for x in inputs(2, 27, 37))  # odd sizes: the decoder's reflection-padded upsampling
    with torch.no_grad():  # run_demo's grey path: encoder, fusion network, decoder_eval (before the stretch)
        out = nest.decoder_eval(rfn(nest.encoder(ir), nest.encoder(vis)))[0]
    return {"shapes": shapes, "scale": SCALE, "inputs": {"ir": ir, "vis": vis}, "output": out}


def ignet(repo: Path) -> dict:
    import types

    sys.modules.setdefault("thop", types.SimpleNamespace(profile=None))  # imported, never used, by model_gnn
    sys.path.insert(0, str(repo))
    from model_gnn import backbone

    net = backbone()
    shapes = _fill({"": net}, scale=0.1)  # BatchNorm and the graph's gates damp 0.05 to a constant output
    ir, vis = inputs(2, 32, 40)
    with torch.no_grad():  # test.py: fusion_model(image_vis_ycrcb, image_ir); the net reads channel 0 (Y)
        out = net(vis, ir)
    return {"shapes": shapes, "scale": 0.1, "inputs": {"ir": ir, "vis": vis}, "output": out}


def coconet(repo: Path) -> dict:
    import torchvision

    plain = torchvision.models.vgg19
    torchvision.models.vgg19 = lambda pretrained=False, **kw: plain(weights=None, **kw)  # no ImageNet download
    sys.path.insert(0, str(repo))
    from models.model import Unet_resize_conv

    net = Unet_resize_conv()
    shapes = _fill({"": net}, scale=0.08)  # 0.05 leaves the tanh output nearly constant, 0.1 saturates it
    ir, vis = (255 * x for x in inputs(2, 32, 48))
    with torch.no_grad():  # main.py test(): model(data_vis, data_ir) on 0..255 (padded inside forward)
        out = net(vis, ir)
    return {"shapes": shapes, "scale": 0.08, "inputs": {"ir": ir, "vis": vis}, "output": out}


def piafusion(repo: Path) -> dict:
    import types

    import numpy as np
    import tensorflow as real_tf

    tf = real_tf.compat.v1
    tf.disable_eager_execution()
    tf.contrib = types.SimpleNamespace()
    sys.modules["tensorflow"], sys.modules["tensorflow.contrib"] = tf, tf.contrib  # TF1 names for the release
    sys.modules["utils"] = types.SimpleNamespace(weights_spectral_norm=None)  # (cv2, pandas, openpyxl: unused)
    sys.path.insert(0, str(repo))
    import train_network
    from train_network import PIAFusion

    release_conv = train_network.conv  # TF1 took the decoder's float channel count (256 / 2); TF2 needs an int
    train_network.conv = lambda x, channels=1, **kw: release_conv(x, int(channels), **kw)
    ir, vis = inputs(2, 24, 30)
    with tf.Graph().as_default(), tf.Session() as sess:
        vi_t = tf.placeholder(tf.float32, [1, None, None, 1])
        ir_t = tf.placeholder(tf.float32, [1, None, None, 1])
        with tf.variable_scope("PIAFusion", reuse=False):  # model.py test(): PIAFusion(Y, ir, Feature_out=False)
            out_t = PIAFusion().PIAFusion(vi_t, ir_t, reuse=False, Feature_out=False)
        variables = {v.name.removesuffix(":0"): v for v in tf.global_variables()}
        shapes = {k: tuple(v.shape.as_list()) for k, v in variables.items()}
        state = seeded_state(shapes, 0.08)  # 0.05 leaves tanh / 2 + 0.5 within 0.005 of 0.5, 0.1 saturates it
        for k, v in variables.items():
            v.load(state[k].numpy(), sess)
        out = sess.run(out_t, {vi_t: vis.permute(0, 2, 3, 1).numpy(), ir_t: ir.permute(0, 2, 3, 1).numpy()})
    out = torch.from_numpy(np.ascontiguousarray(out)).permute(0, 3, 1, 2)
    return {"shapes": shapes, "scale": 0.08, "inputs": {"ir": ir, "vis": vis}, "output": out}


def crossfuse(repo: Path) -> dict:
    import types

    sys.modules.setdefault("seaborn", types.ModuleType("seaborn"))  # tools.utils plots heat maps with it
    sys.path.insert(0, str(repo))
    from network.net_autoencoder import Auto_Encoder_single
    from network.net_conv_trans import Trans_FuseNet

    auto = dict(in_channels=1, out_channels=1, en_out_channels1=32, en_out_channels=64, num_layers=3,
                dense_out=128, part_out=128, train_flag=False)  # test_conv_trans.py's configs
    trans = dict(en_out_channels1=32, out_channels=1, part_out=128, train_flag=False, img_size=32, patch_size=2,
                 depth_self=1, depth_cross=1, n_heads=16, qkv_bias=True, mlp_ratio=4, p=0.0, attn_p=0.0)
    ae_ir, ae_vi, fuse = Auto_Encoder_single(**auto), Auto_Encoder_single(**auto), Trans_FuseNet(**trans)
    shapes = _fill({"ae_ir": ae_ir, "ae_vi": ae_vi, "trans": fuse})
    ir, vis = (255 * x for x in inputs(2, 150, 290))  # 1/8 features 18 x 36: two tiles, reflect-padded
    with torch.no_grad():  # test(): both auto-encoders, then model_trans(ir_de, ir_sh, vi_de, vi_sh, True)
        ir_sh, ir_de = ae_ir(ir)
        vi_sh, vi_de = ae_vi(vis)
        out = fuse(ir_de, ir_sh, vi_de, vi_sh, True)["out"]
    return {"shapes": shapes, "scale": SCALE, "inputs": {"ir": ir, "vis": vis}, "output": out}


def swinfusion(repo: Path) -> dict:
    sys.path.insert(0, str(repo))
    from models.network_swinfusion1 import SwinFusion

    # test_swinfusion.py's define_model (its depths / num_heads land in **kwargs: the defaults apply)
    net = SwinFusion(upscale=1, in_chans=1, img_size=128, window_size=8, img_range=1.0, depths=[6, 6, 6, 6],
                     embed_dim=60, num_heads=[6, 6, 6, 6], mlp_ratio=2, upsampler=None, resi_connection="1conv")
    import hashlib

    released = net.state_dict()["layers_Ex_A.0.residual_group.blocks.1.attn_mask"]  # as stored in the release
    mask_sha = hashlib.sha256(released.numpy().tobytes()).hexdigest()
    shapes = _fill({"": net}, scale=0.1)  # (the stored 128 x 128 attention masks are unused at this size)
    ir, vis = inputs(2, 21, 30)
    with torch.no_grad():  # test(): mirror-pad to the next multiple of 8 above each side, model(A, B), crop
        h, w = ir.shape[-2:]
        ph, pw = (h // 8 + 1) * 8, (w // 8 + 1) * 8
        a, b = (torch.cat([x, torch.flip(x, [2])], 2)[:, :, :ph] for x in (ir, vis))
        a, b = (torch.cat([x, torch.flip(x, [3])], 3)[:, :, :, :pw] for x in (a, b))
        out = net(a, b)[..., :h, :w]
    return {"shapes": shapes, "scale": 0.1, "inputs": {"ir": ir, "vis": vis}, "output": out,
            "attn_mask_128_sha256": mask_sha}


def metafusion(repo: Path) -> dict:
    sys.path.insert(0, str(repo))
    from models.metafusion_net import FusionNet

    net = FusionNet(block_num=3, feature_out=False)  # test.py
    shapes = _fill({"": net})
    (ir,) = inputs(1, 26, 34)
    rgb = torch.rand(1, 3, 26, 34, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # test.py: weights of cat(ir, rgb), fused brightness w0 ir + w1 V (V = max(R, G, B))
        _, weight = net(torch.cat([ir, rgb], 1))
        out = weight[:, 0:1] * ir + weight[:, 1:2] * rgb.amax(1, keepdim=True)
    return {"shapes": shapes, "scale": SCALE, "inputs": {"ir": ir, "vis": rgb}, "output": out}


if __name__ == "__main__":
    method, repo = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    result = globals()[method](repo)
    torch.save(result, OUT / f"{method}.pt")
    print(method, {k: tuple(v.shape) for k, v in result["inputs"].items()}, tuple(result["output"].shape))
