"""SAM priors for SAGE: automatic segment masks (teacher inputs) and a SAM image-encoder feature extractor
(the student's contrastive-semantic loss).

* :func:`build_sam` builds a Segment Anything model with the ``segment_anything`` package (``vit_b``,
  ``vit_l``, ``vit_h`` from a user-given checkpoint, loaded safely with ``weights_only=True``; or the
  ``tiny`` preset: a small randomly initialised SAM built from the same modelling classes, for tests).
* :class:`SamPriors` runs SAM's automatic mask generator (AMG) separately on the IR and the visible image
  with the paper's settings (:data:`PAPER_AMG_SETTINGS`), keeps the ``top_k`` largest masks of each
  modality and caches them on disk: one compressed ``.npz`` of bit-packed masks per image pair, keyed by
  the pair's content hash and a hash of every setting that changes the masks.
* :func:`build_mask_inputs` turns cached masks into the teacher's ``mask_num`` segment channels.
* :class:`SamFeatureEncoder` exposes the patch embedding and the first blocks of a SAM ViT encoder.

The official SAM checkpoints are weights-manifest entries (``sam_vit_b``, ``sam_vit_l``, ``sam_vit_h``) with
sha256 and size: they are taken from ``$SAGEBENCH_WEIGHTS_DIR`` (``sam/<file>`` or ``<file>``), the download
cache, or downloaded from Meta's URLs, and checked in every case. A path given explicitly is used as is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sagebench.errors import ConfigError, DataError, WeightsError
from sagebench.io import atomic_path

#: AMG settings of the paper's data loader (all other AMG arguments at their defaults).
PAPER_AMG_SETTINGS: dict[str, Any] = dict(
    points_per_side=128, pred_iou_thresh=0.86, stability_score_thresh=0.92, crop_n_layers=1,
    crop_n_points_downscale_factor=2, min_mask_region_area=100)

#: Official SAM checkpoints (Meta, Apache-2.0), registered in the weights manifest as ``sam_<type>``
#: (see :func:`sagebench.weights.get_weights`: local copy, download cache or download, all sha256-checked).
SAM_CHECKPOINTS: dict[str, dict[str, str]] = {
    "vit_b": {"filename": "sam_vit_b_01ec64.pth",
              "url": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"},
    "vit_l": {"filename": "sam_vit_l_0b3195.pth",
              "url": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth"},
    "vit_h": {"filename": "sam_vit_h_4b8939.pth",
              "url": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth"},
}

#: The ``tiny`` preset: a small SAM for tests and CPU demos (random weights unless a checkpoint is given).
TINY_SAM: dict[str, Any] = dict(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=2, window_size=4,
                                global_attn_indexes=(1,), prompt_dim=32, mlp_dim=64, decoder_depth=1)

MODEL_TYPES = ("tiny", "vit_b", "vit_l", "vit_h")
CACHE_FORMAT = 1


# ----------------------------------------------------------------------------------------------- models
def _tiny_sam(seed: int = 0):
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    t = TINY_SAM
    emb = t["img_size"] // t["patch_size"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = Sam(
            image_encoder=ImageEncoderViT(
                img_size=t["img_size"], patch_size=t["patch_size"], embed_dim=t["embed_dim"], depth=t["depth"],
                num_heads=t["num_heads"], mlp_ratio=2, out_chans=t["prompt_dim"], qkv_bias=True,
                norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True, window_size=t["window_size"],
                global_attn_indexes=tuple(t["global_attn_indexes"])),
            prompt_encoder=PromptEncoder(embed_dim=t["prompt_dim"], image_embedding_size=(emb, emb),
                                         input_image_size=(t["img_size"], t["img_size"]), mask_in_chans=8),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=3, transformer_dim=t["prompt_dim"], iou_head_depth=2,
                iou_head_hidden_dim=t["prompt_dim"],
                transformer=TwoWayTransformer(depth=t["decoder_depth"], embedding_dim=t["prompt_dim"],
                                              mlp_dim=t["mlp_dim"], num_heads=t["num_heads"])),
        )
        # SAM zero-initialises relative positions; give the tiny model some so that it is not degenerate.
        for name, p in sam.image_encoder.named_parameters():
            if "rel_pos" in name:
                nn.init.normal_(p, std=0.02)
    return sam


def resolve_sam_checkpoint(model_type: str, checkpoint: str | os.PathLike | None,
                           download: bool | None = None) -> Path:
    """A local SAM checkpoint: ``checkpoint`` if given (used as is: fine-tuned weights are allowed), else the
    official ``sam_<model_type>`` weights from the manifest: a copy in ``$SAGEBENCH_WEIGHTS_DIR`` (as
    ``sam/<file>`` or ``<file>``), the download cache, or a download (unless ``$SAGEBENCH_OFFLINE`` or
    ``download=False``), each sha256-checked. Raises :class:`WeightsError` otherwise."""
    from sagebench.weights import get_weights

    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise WeightsError(f"{path}: SAM checkpoint not found")
        return path
    if model_type not in SAM_CHECKPOINTS:
        raise WeightsError(f"SAM model {model_type!r} has no official checkpoint; pass a checkpoint path")
    return get_weights(f"sam_{model_type}", download=download)


def load_state_dict_safely(module: nn.Module, path: str | os.PathLike, *, what: str = "checkpoint",
                           strip_prefix: str | None = None) -> None:
    """``torch.load(weights_only=True, map_location='cpu')`` + strict ``load_state_dict`` with a clear error."""
    from sagebench.weights import load_checkpoint, load_state_into

    state, *_ = load_checkpoint(path, what=what)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if strip_prefix:
        state = {k.removeprefix(strip_prefix): v for k, v in state.items()}
    load_state_into(module, state, source=f"{path} ({what})", strict=True)


def build_sam(model_type: str = "vit_b", checkpoint: str | os.PathLike | None = None, *, seed: int = 0,
              device: str | torch.device = "cpu"):
    """Build a frozen ``segment_anything.modeling.Sam`` in eval mode.

    ``model_type`` is ``vit_b`` / ``vit_l`` / ``vit_h`` (built with ``sam_model_registry[...]`` without a
    checkpoint, then loaded with ``weights_only=True``; the checkpoint is resolved by
    :func:`resolve_sam_checkpoint`) or ``tiny`` (random weights from ``seed``; a checkpoint is optional).
    """
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"unknown SAM model type {model_type!r}; choose one of {', '.join(MODEL_TYPES)}")
    if model_type == "tiny":
        sam = _tiny_sam(seed)
        if checkpoint is not None:
            load_state_dict_safely(sam, resolve_sam_checkpoint(model_type, checkpoint), what="tiny SAM checkpoint")
    else:
        from segment_anything import sam_model_registry

        path = resolve_sam_checkpoint(model_type, checkpoint)
        sam = sam_model_registry[model_type](checkpoint=None)
        load_state_dict_safely(sam, path, what=f"SAM {model_type} checkpoint")
    sam.eval().requires_grad_(False)
    return sam.to(device)


# ----------------------------------------------------------------------------------------- mask cache
def image_to_uint8(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """``C x H x W`` float tensor in [0, 1] (or an ``H x W [x C]`` uint8 array) -> ``H x W x 3`` uint8."""
    if isinstance(img, torch.Tensor):
        arr = (img.detach().float().cpu().clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        arr = np.transpose(arr, (1, 2, 0))
    else:
        arr = np.asarray(img)
        if arr.dtype != np.uint8:
            raise DataError(f"SAM input must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def pack_masks(masks: np.ndarray) -> np.ndarray:
    """``K x H x W`` bool -> 1-D uint8 bit-packed array."""
    return np.packbits(masks.astype(bool).reshape(-1))


def unpack_masks(packed: np.ndarray, k: int, h: int, w: int) -> np.ndarray:
    return np.unpackbits(packed, count=k * h * w).reshape(k, h, w).astype(bool)


class MaskCache:
    """One ``<root>/<hash[:2]>/<content_hash>-<settings_key>.npz`` per image pair holding bit-packed IR and
    visible masks (``ir``, ``vis``, ``shape`` = ``[k_ir, k_vis, H, W]``, ``format``). No pickles."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, content_hash: str, settings_key: str) -> Path:
        return self.root / content_hash[:2] / f"{content_hash}-{settings_key}.npz"

    def load(self, content_hash: str, settings_key: str) -> tuple[np.ndarray, np.ndarray] | None:
        path = self.path(content_hash, settings_key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format"]) != CACHE_FORMAT:
                    return None
                k_ir, k_vis, h, w = (int(v) for v in z["shape"])
                return unpack_masks(z["ir"], k_ir, h, w), unpack_masks(z["vis"], k_vis, h, w)
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path}: corrupt SAM mask cache entry ({exc}); delete it to recompute") from exc

    def save(self, content_hash: str, settings_key: str, ir_masks: np.ndarray, vis_masks: np.ndarray) -> Path:
        path = self.path(content_hash, settings_key)
        h, w = ir_masks.shape[-2:]
        if vis_masks.shape[-2:] != (h, w):
            raise DataError(f"IR masks {ir_masks.shape} and visible masks {vis_masks.shape} differ in size")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, ir=pack_masks(ir_masks), vis=pack_masks(vis_masks),
                                shape=np.array([len(ir_masks), len(vis_masks), h, w], dtype=np.int64),
                                format=np.array(CACHE_FORMAT))
        return path


def default_mask_cache_dir() -> Path:
    from sagebench.weights import cache_home

    return cache_home() / "sam_masks"


class SamPriors:
    """Automatic SAM masks per image pair, area-sorted top-K per modality, cached on disk.

    Args:
        model_type: ``vit_b`` (the paper), ``vit_l``, ``vit_h`` or ``tiny``.
        checkpoint: SAM checkpoint path (see :func:`resolve_sam_checkpoint`).
        amg: mask-generator settings; default :data:`PAPER_AMG_SETTINGS`.
        top_k: masks kept per modality (``cache_mask_num``, 20 in the paper).
        channel_order: ``"rgb"`` (correct) or ``"bgr"`` (the official loader fed OpenCV BGR images to SAM;
            switch ``amg_channel_order``). Only affects the visible image.
        cache_dir: mask cache folder (default ``<cache_home>/sam_masks``); ``None`` keeps the default.
        device: where SAM runs.
        seed: weights seed of the ``tiny`` preset.

    SAM is built lazily: when every image is cached it is never constructed. ``sam_calls`` counts
    generator invocations (two per uncached pair).
    """

    def __init__(self, model_type: str = "vit_b", checkpoint: str | os.PathLike | None = None, *,
                 amg: dict[str, Any] | None = None, top_k: int = 20, channel_order: str = "rgb",
                 cache_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 seed: int = 0, sam: nn.Module | None = None) -> None:
        if channel_order not in ("rgb", "bgr"):
            raise ConfigError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        if model_type not in MODEL_TYPES:
            raise ConfigError(f"unknown SAM model type {model_type!r}; choose one of {', '.join(MODEL_TYPES)}")
        self.model_type, self.checkpoint = model_type, checkpoint
        self.amg = dict(PAPER_AMG_SETTINGS if amg is None else amg)
        self.top_k, self.channel_order, self.device, self.seed = int(top_k), channel_order, device, seed
        self.cache = MaskCache(cache_dir if cache_dir is not None else default_mask_cache_dir())
        self._sam = sam
        self._generator = None
        self.sam_calls = 0
        self._key: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        # data-loader workers only read the cache: do not ship the SAM model to them
        state = dict(self.__dict__)
        state["_sam"] = state["_generator"] = None
        return state

    # -- identity of the masks
    @property
    def settings_key(self) -> str:
        """16-hex hash of the SAM weights identity, AMG settings, top-K and channel order."""
        if self._key is None:
            if self.model_type == "tiny" and self.checkpoint is None:
                weights = f"tiny-random-seed{self.seed}-{json.dumps(TINY_SAM, sort_keys=True)}"
            else:
                from sagebench.weights import sha256_file

                weights = sha256_file(resolve_sam_checkpoint(self.model_type, self.checkpoint))
            blob = json.dumps(dict(model=self.model_type, weights=weights, amg=self.amg, top_k=self.top_k,
                                   order=self.channel_order, fmt=CACHE_FORMAT), sort_keys=True, default=str)
            self._key = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return self._key

    @property
    def sam(self) -> nn.Module:
        if self._sam is None:
            self._sam = build_sam(self.model_type, self.checkpoint, seed=self.seed, device=self.device)
        return self._sam

    def _generate(self, image: np.ndarray) -> np.ndarray:
        """Run AMG on ``H x W x 3`` uint8; return ``K x H x W`` bool, area-descending, ``K <= top_k``."""
        if self._generator is None:
            from segment_anything import SamAutomaticMaskGenerator

            self._generator = SamAutomaticMaskGenerator(self.sam, output_mode="binary_mask", **self.amg)
        self.sam_calls += 1
        try:
            with torch.inference_mode():
                records = self._generator.generate(image)
        except IndexError:
            # segment_anything 1.0 fails in its crop-merging step when no crop produced any mask (it
            # indexes an empty box tensor); that outcome means "no masks", which the caller handles.
            if not self.amg.get("crop_n_layers"):
                raise
            records = []
        records = sorted(records, key=lambda r: r["area"], reverse=True)[: self.top_k]
        h, w = image.shape[:2]
        if not records:
            return np.zeros((0, h, w), dtype=bool)
        return np.stack([np.asarray(r["segmentation"], dtype=bool) for r in records])

    def masks_for(self, content_hash: str, ir: torch.Tensor | np.ndarray,
                  vis: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IR and visible masks (``K x H x W`` bool each, largest first, both truncated to the same
        ``K = min(top_k, #IR, #visible)``) of a pair; from the cache when present, else computed and stored.

        ``ir``/``vis`` are ``C x H x W`` float tensors in [0, 1] or uint8 ``H x W [x C]`` arrays (RGB)."""
        cached = self.cache.load(content_hash, self.settings_key)
        if cached is not None:
            return cached
        ir8, vis8 = image_to_uint8(ir), image_to_uint8(vis)
        if ir8.shape[:2] != vis8.shape[:2]:
            raise DataError(f"pair {content_hash[:12]}: IR {ir8.shape[:2]} and visible {vis8.shape[:2]} differ in size")
        if self.channel_order == "bgr":
            vis8 = np.ascontiguousarray(vis8[..., ::-1])
        ir_m, vis_m = self._generate(ir8), self._generate(vis8)
        k = min(len(ir_m), len(vis_m))
        ir_m, vis_m = ir_m[:k], vis_m[:k]
        self.cache.save(content_hash, self.settings_key, ir_m, vis_m)
        return ir_m, vis_m

    def prepare(self, dataset: Sequence, progress: bool = False) -> dict[str, int]:
        """Fill the cache for every sample of a paired dataset; returns ``{"cached": n, "computed": m}``."""
        stats = {"cached": 0, "computed": 0}
        it = range(len(dataset))
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc="SAM masks", unit="pair")
        for i in it:
            s = dataset[i]
            if self.cache.path(s.content_hash, self.settings_key).is_file():
                stats["cached"] += 1
                continue
            self.masks_for(s.content_hash, s.ir, s.vis)
            stats["computed"] += 1
        return stats

    def teacher_inputs_for_tensors(self, ir: torch.Tensor, vis_y: torch.Tensor, mask_num: int = 4,
                                   mode: str = "binary") -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher mask inputs for a batch (``B x 1 x H x W`` IR and visible Y in [0, 1]); the visible image
        SAM sees is the grey Y. Usable as ``SAGETeacher(mask_provider=...)``."""
        vis_out, ir_out = [], []
        for b in range(ir.shape[0]):
            key = hashlib.sha256(ir[b].float().cpu().numpy().tobytes() + vis_y[b].float().cpu().numpy().tobytes())
            ir_m, vis_m = self.masks_for(key.hexdigest(), ir[b], vis_y[b])
            v, i = build_mask_inputs(vis_y[b].cpu(), ir[b].cpu(), ir_m, vis_m, mask_num, mode)
            vis_out.append(v)
            ir_out.append(i)
        return torch.stack(vis_out).to(ir.device), torch.stack(ir_out).to(ir.device)


def build_mask_inputs(vis_y: torch.Tensor, ir: torch.Tensor, ir_masks: np.ndarray | torch.Tensor,
                      vis_masks: np.ndarray | torch.Tensor, mask_num: int = 4,
                      mode: str = "intensity") -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's mask channels of one sample.

    Walks the area-ranked mask pairs in order, skips a pair if either mask is empty, keeps the first
    ``mask_num`` valid ones and pads with "whole image" entries.

    Args:
        vis_y, ir: ``1 x H x W`` float in [0, 1].
        ir_masks, vis_masks: ``K x H x W`` bool (same H, W).
        mode: ``"intensity"`` -- channel i is the image with everything outside segment i zeroed, padded
            with the unmasked image (the official behaviour, switch ``mask_mode``); ``"binary"`` -- channel
            i is the 0/1 mask, padded with all-ones masks.

    Returns ``(vi_masks, ir_masks)``, each ``mask_num x H x W`` float.
    """
    if mode not in ("intensity", "binary"):
        raise ConfigError(f"mask mode must be 'intensity' or 'binary', got {mode!r}")
    irm = torch.as_tensor(np.asarray(ir_masks), dtype=torch.bool)
    vim = torch.as_tensor(np.asarray(vis_masks), dtype=torch.bool)
    h, w = ir.shape[-2:]
    if irm.numel() and irm.shape[-2:] != (h, w) or vim.numel() and vim.shape[-2:] != (h, w):
        raise DataError(f"masks {tuple(irm.shape)} / {tuple(vim.shape)} do not match the image size {(h, w)}")
    vis_ch, ir_ch = [], []
    for i in range(min(len(irm), len(vim))):
        if len(vis_ch) == mask_num:
            break
        if not irm[i].any() or not vim[i].any():
            continue
        if mode == "intensity":
            vis_ch.append(vis_y[0] * vim[i])
            ir_ch.append(ir[0] * irm[i])
        else:
            vis_ch.append(vim[i].to(vis_y.dtype))
            ir_ch.append(irm[i].to(ir.dtype))
    while len(vis_ch) < mask_num:
        vis_ch.append(vis_y[0] if mode == "intensity" else torch.ones_like(vis_y[0]))
        ir_ch.append(ir[0] if mode == "intensity" else torch.ones_like(ir[0]))
    return torch.stack(vis_ch), torch.stack(ir_ch)


# ----------------------------------------------------------------------------------- feature encoder
class SamFeatureEncoder(nn.Module):
    """Patch embedding + the first ``n_blocks`` blocks of a SAM ViT image encoder, frozen.

    ``forward(x)`` takes ``B x 1 x H x W`` (repeated to 3 channels) or ``B x 3 x H x W`` in [0, 1] and returns
    a list of ``n_blocks`` feature maps ``B x C x H/p x W/p`` (``p`` = patch size; inputs are zero-padded to a
    multiple of ``p``).

    Args:
        encoder: a ``segment_anything`` ``ImageEncoderViT`` (its first blocks are shared, not copied).
        n_blocks: blocks to run (2 in the paper).
        normalise: ``True``: scale to 0-255 and apply SAM's pixel mean/std and add the (resized) absolute
            position embedding, as SAM itself does; ``False``: the official loss encoder's behaviour (raw
            [0, 1] input, no position embedding).
    """

    PIXEL_MEAN = (123.675, 116.28, 103.53)
    PIXEL_STD = (58.395, 57.12, 57.375)

    def __init__(self, encoder: nn.Module, n_blocks: int = 2, normalise: bool = True) -> None:
        super().__init__()
        if n_blocks > len(encoder.blocks):
            raise ConfigError(f"SAM encoder has {len(encoder.blocks)} blocks, {n_blocks} requested")
        self.patch_embed = encoder.patch_embed
        self.pos_embed = encoder.pos_embed if normalise else None
        self.blocks = nn.ModuleList(list(encoder.blocks)[:n_blocks])
        self.normalise = normalise
        self.patch = int(encoder.patch_embed.proj.kernel_size[0])
        self.register_buffer("mean", torch.tensor(self.PIXEL_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.PIXEL_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> SamFeatureEncoder:  # always eval: a frozen feature extractor
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.normalise:
            x = (x * 255.0 - self.mean) / self.std
        ph, pw = (-x.shape[-2]) % self.patch, (-x.shape[-1]) % self.patch
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        t = self.patch_embed(x)                    # B x h x w x C
        if self.pos_embed is not None:
            pos = self.pos_embed
            if pos.shape[1:3] != t.shape[1:3]:
                pos = F.interpolate(pos.permute(0, 3, 1, 2), size=t.shape[1:3], mode="bicubic",
                                    align_corners=False).permute(0, 2, 3, 1)
            t = t + pos
        feats = []
        for blk in self.blocks:
            t = blk(t)
            feats.append(t.permute(0, 3, 1, 2))
        return feats


def build_feature_encoder(sam: nn.Module | None, mode: str, model_type: str = "vit_b", n_blocks: int = 2,
                          seed: int = 0) -> SamFeatureEncoder:
    """The contrastive loss's SAM encoder (switch ``sam_encoder``).

    ``"pretrained_normalised"``: the first ``n_blocks`` of ``sam``'s (loaded) image encoder with SAM's
    normalisation and position embedding. ``"random_raw"``: what the official code most likely ran --
    an encoder of the same architecture left randomly initialised (seeded), raw [0, 1] input, no position
    embedding; ``sam`` is only used for its hyper-parameters when given.
    """
    if mode == "pretrained_normalised":
        if sam is None:
            raise ConfigError("sam_encoder='pretrained_normalised' needs a SAM model")
        return SamFeatureEncoder(sam.image_encoder, n_blocks, normalise=True)
    if mode != "random_raw":
        raise ConfigError(f"sam_encoder must be 'pretrained_normalised' or 'random_raw', got {mode!r}")
    from segment_anything.modeling import ImageEncoderViT

    if model_type == "tiny":
        t = TINY_SAM
        kw = dict(img_size=t["img_size"], patch_size=t["patch_size"], embed_dim=t["embed_dim"],
                  num_heads=t["num_heads"], mlp_ratio=2, window_size=t["window_size"],
                  global_attn_indexes=tuple(t["global_attn_indexes"]))
    else:
        dims = {"vit_b": (768, 12, (2, 5, 8, 11)), "vit_l": (1024, 16, (5, 11, 17, 23)),
                "vit_h": (1280, 16, (7, 15, 23, 31))}[model_type]
        kw = dict(img_size=1024, patch_size=16, embed_dim=dims[0], num_heads=dims[1], mlp_ratio=4,
                  window_size=14, global_attn_indexes=dims[2])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        enc = ImageEncoderViT(depth=n_blocks, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                              use_rel_pos=True, out_chans=256, **kw)
    return SamFeatureEncoder(enc, n_blocks, normalise=False)
