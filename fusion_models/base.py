"""The contract every fusion method implements, and the one place that handles colour, dtype, device
and padding.

A method subclasses :class:`FusionModel` and implements one of

* :meth:`FusionModel.fuse_gray` ``(ir, gray) -> fused_gray``: both ``B x 1 x H x W`` in [0, 1]. For a
  colour visible image the base class fuses the IR with the visible **luminance** (YCrCb Y) and puts
  the visible chroma back (``colour = "ycrcb"``, the convention of almost every IVIF method);
* :meth:`FusionModel.fuse_rgb` ``(ir, rgb) -> fused_rgb`` with ``colour = "native"`` for methods that
  handle colour themselves.

Users call :meth:`FusionModel.fuse` ``(ir, vis) -> fused``: IR ``B x 1 x H x W`` (a 3-channel IR is
converted to grey), visible ``B x 3 x H x W`` or ``B x 1 x H x W``, floats in [0, 1]; the result is in
the visible image's colour space (3 channels for RGB input, 1 for grey), float32, clamped to [0, 1].
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from sagebench.colour import rgb_to_gray, rgb_to_ycrcb, ycrcb_to_rgb

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class FusionModel(nn.Module):
    """Base class of all fusion methods (see module docstring for the contract).

    Class attributes a method may set:
        colour: ``"ycrcb"`` (fuse luminance, restore chroma) or ``"native"`` (implements ``fuse_rgb``).
        quantize_colour: emulate OpenCV's 8-bit colour conversion (parity with official pipelines
            that read 8-bit images with OpenCV). Instances may override it.
        pad_multiple: the network needs H, W divisible by this; inputs are padded (``pad_mode``) and
            the output cropped back.
        card: model card (paper, year, venue, licence, input convention, weights, checks).
        min_size: the smallest height and width (pixels) the method accepts (pooling, reflection padding);
            :meth:`fuse` rejects smaller inputs with a clear error.
        pretrained_tags: ``tag -> config overrides`` (``weights``, or another registered ``type``) so that
            ``create_model("<name>.<tag>")`` builds that release (timm-style pretrained tags).
        single_modality: ``"ir"`` or ``"vis"`` for a reference row that returns one input unchanged
            (``ir_only``, ``vis_only``): leaderboards mark it and leave it out of the ranks by default.
    """

    colour: ClassVar[str] = "ycrcb"
    quantize_colour: bool = False
    pad_multiple: ClassVar[int] = 1
    pad_mode: ClassVar[str] = "reflect"
    card: ClassVar[dict[str, Any]] = {}
    min_size: ClassVar[int] = 1
    pretrained_tags: ClassVar[dict[str, dict[str, Any]]] = {}
    single_modality: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.compute_dtype = torch.float32
        self.channels_last = False
        self.weights_name: str | None = None
        self.weights_sha256: str | None = None

    # ------------------------------------------------------------------ method hooks
    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        """Fuse ``B x 1 x H x W`` IR with ``B x 1 x H x W`` visible luminance -> ``B x 1 x H x W``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement fuse_gray")

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """Fuse ``B x 1 x H x W`` IR with ``B x 3 x H x W`` RGB -> ``B x 3 x H x W`` (``colour='native'``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement fuse_rgb")

    # ------------------------------------------------------------------ public API
    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return getattr(self, "_device", torch.device("cpu"))

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse a batch. See the module docstring for shapes and ranges."""
        ir, vis = self._check_inputs(ir, vis)
        h, w = ir.shape[-2:]
        if min(h, w) < self.min_size:
            from sagebench.errors import ImageSizeError

            raise ImageSizeError(f"{type(self).__name__} needs images of at least {self.min_size} x {self.min_size} "
                             f"pixels, got {h} x {w} (H x W)")
        dev = self.device
        ir = ir.to(dev, torch.float32)
        vis = vis.to(dev, torch.float32)
        if ir.shape[1] == 3:
            ir = rgb_to_gray(ir, quantize=self.quantize_colour)
        if vis.shape[1] == 1:
            out = self._run(self.fuse_gray, ir, vis)
        elif self.colour == "native":
            out = self._run(self.fuse_rgb, ir, vis)
        else:
            ycc = rgb_to_ycrcb(vis, quantize=self.quantize_colour)
            y = self._run(self.fuse_gray, ir, ycc[:, :1])
            out = ycrcb_to_rgb(torch.cat([y, ycc[:, 1:]], dim=1))
        return out.clamp_(0.0, 1.0)

    def configure(self, device: str | torch.device | None = None, precision: str | None = None,
                  channels_last: bool = False, fold_bn: bool = False, compile: bool = False) -> FusionModel:
        """Apply runtime options: device, precision (fp32/fp16/bf16), channels_last, BatchNorm folding,
        ``torch.compile`` of the network hooks. Returns ``self``."""
        if fold_bn:
            from sagebench.fusion_models.optimize import fold_batchnorm

            self._unfolded_parameters = self.num_parameters()
            fold_batchnorm(self)
        if device is not None:
            self._device = torch.device(device)
            self.to(self._device)
        if precision is not None:
            if precision not in PRECISIONS:
                raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
            self.compute_dtype = PRECISIONS[precision]
            self.to(dtype=self.compute_dtype)
        if channels_last:
            self.channels_last = True
            self.to(memory_format=torch.channels_last)
        if compile:
            self.fuse_gray = torch.compile(self.fuse_gray)  # type: ignore[method-assign]
            self.fuse_rgb = torch.compile(self.fuse_rgb)  # type: ignore[method-assign]
        return self

    def num_parameters(self) -> int:
        """Learnable parameter count of the method as released (counted before BatchNorm folding, which
        only rearranges the same network for inference)."""
        folded = getattr(self, "_unfolded_parameters", None)
        return folded if folded is not None else sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ weights
    def load_weights(self, weights: str | os.PathLike, *, key: str | None = None, strict: bool = True,
                     strip_prefix: str | None = None) -> None:
        """Load a checkpoint given as a manifest name or a file path, with ``weights_only=True``.

        ``key`` picks a sub-dict of the checkpoint, ``strip_prefix`` removes a key prefix (e.g.
        ``"module."``). Records the file's sha256 in ``self.weights_sha256`` for cache keys/provenance
        (a path is re-hashed whenever its size or modification time change). A corrupt file or a
        checkpoint of another architecture raises :class:`~sagebench.errors.WeightsError`.
        """
        from sagebench.errors import WeightsError
        from sagebench.weights import load_checkpoint, load_state_into

        state, path, name, sha = load_checkpoint(weights, what=f"{type(self).__name__} weights")
        if key is not None:
            if not isinstance(state, dict) or key not in state:
                raise WeightsError(f"{path}: checkpoint has no {key!r} entry; is it a {type(self).__name__} "
                                   "release?")
            state = state[key]
        if strip_prefix and isinstance(state, dict):
            state = {k.removeprefix(strip_prefix): v for k, v in state.items()}
        load_state_into(self, state, source=path, strict=strict)
        self.weights_name, self.weights_sha256 = name, sha

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _check_inputs(ir: torch.Tensor, vis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if ir.ndim == 3:
            ir = ir.unsqueeze(0)
        if vis.ndim == 3:
            vis = vis.unsqueeze(0)
        if ir.ndim != 4 or ir.shape[1] not in (1, 3):
            raise ValueError(f"ir must be B x 1 x H x W (or B x 3 x H x W), got {tuple(ir.shape)}")
        if vis.ndim != 4 or vis.shape[1] not in (1, 3):
            raise ValueError(f"vis must be B x 3 x H x W or B x 1 x H x W, got {tuple(vis.shape)}")
        if ir.shape[0] != vis.shape[0] or ir.shape[-2:] != vis.shape[-2:]:
            raise ValueError(f"ir {tuple(ir.shape)} and vis {tuple(vis.shape)} differ in batch or size")
        return ir, vis

    def _run(self, fn, ir: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h, w = ir.shape[-2:]
        m = self.pad_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            ir = F.pad(ir, (0, pw, 0, ph), mode=self.pad_mode)
            v = F.pad(v, (0, pw, 0, ph), mode=self.pad_mode)
        ir, v = ir.to(self.compute_dtype), v.to(self.compute_dtype)
        if self.channels_last:
            ir = ir.contiguous(memory_format=torch.channels_last)
            v = v.contiguous(memory_format=torch.channels_last)
        out = fn(ir, v)
        return out[..., :h, :w].float().contiguous()
