"""Methods defined outside sagebench: ``--include`` modules and files, ``module.Class`` types, and the
adapter that puts a plain ``nn.Module`` under the :class:`FusionModel` contract.

* :func:`include` imports a module by dotted name or a ``.py`` file by path (under its file stem as module
  name), so that its ``@FUSION_MODELS.register_module`` classes register and its classes can be named as
  ``"<module>.<Class>"`` method types (``--include`` on the CLI; ``custom_imports`` in configs does the
  same for module names).
* :func:`resolve_class` turns ``"module.Class"`` into the class.
* :class:`ModuleAdapter` wraps any ``nn.Module`` whose ``forward(ir, vis)`` takes infrared and visible as
  ``B x 1 x H x W`` float tensors in [0, 1] and returns the fused ``B x 1 x H x W`` image in [0, 1]; the
  base class does colour (fuse the visible luminance, restore its chroma), dtype, device and padding. A
  module that fuses colour itself sets the class attribute ``input_colour = "rgb"``: it then gets the
  ``B x 3 x H x W`` visible image and returns ``B x 3 x H x W``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from sagebench.errors import ConfigError
from sagebench.fusion_models.base import FusionModel

CONTRACT = ("forward(ir, vis) takes infrared and visible as B x 1 x H x W float tensors in [0, 1] and returns the "
            "fused B x 1 x H x W image in [0, 1] (with input_colour = 'rgb': visible B x 3 x H x W in, "
            "B x 3 x H x W out)")


def include(spec: str) -> ModuleType:
    """Import ``spec``: a ``.py`` file (imported under its stem, e.g. ``plugins/my_fusion.py`` -> module
    ``my_fusion``) or a dotted module name. Raises :class:`ConfigError` naming it when it cannot be
    imported (the error inside the file is kept as the cause)."""
    path = Path(spec).expanduser()
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"--include {spec}: file not found")
        name = path.stem
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path.resolve()):
            return sys.modules[name]
        loader_spec = importlib.util.spec_from_file_location(name, path.resolve())
        if loader_spec is None or loader_spec.loader is None:
            raise ConfigError(f"--include {spec}: not an importable Python file")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ConfigError(f"--include {spec}: importing it failed ({type(exc).__name__}: {exc})") from exc
        return module
    try:
        return importlib.import_module(spec)
    except Exception as exc:
        raise ConfigError(f"--include {spec}: cannot import module ({type(exc).__name__}: {exc})") from exc


def resolve_class(type_name: str) -> type | None:
    """``"module.Class"`` (a module importable by name, or one imported with :func:`include`) -> the class;
    None when ``type_name`` has no such form or the module does not exist."""
    module_name, _, cls_name = str(type_name).rpartition(".")
    if not module_name or not cls_name:
        return None
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
    obj = getattr(module, cls_name, None)
    if obj is None:
        raise ConfigError(f"method type {type_name!r}: module {module_name!r} has no {cls_name!r}")
    return obj


class ModuleAdapter(FusionModel):
    """A plain ``nn.Module`` under the :class:`FusionModel` contract (see the module docstring)."""

    card = {"paper": "a user's method (out-of-tree nn.Module)", "requires": "a user module"}

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.net = module
        self.colour = "native" if getattr(module, "input_colour", "grey") == "rgb" else "ycrcb"
        self.card = {**self.card, "class": f"{type(module).__module__}.{type(module).__qualname__}"}

    def _call(self, ir: torch.Tensor, vis: torch.Tensor, channels: int) -> torch.Tensor:
        name = type(self.net).__name__
        try:
            out = self.net(ir, vis)
        except TypeError as exc:
            raise ConfigError(f"{name}: {exc}; the contract: {CONTRACT}") from exc
        want = (ir.shape[0], channels, *ir.shape[-2:])
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(f"{name}.forward returned {got}, expected {want}; the contract: {CONTRACT}")
        return out

    def fuse_gray(self, ir: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        return self._call(ir, gray, 1)

    def fuse_rgb(self, ir: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self._call(ir, rgb, 3)


def build_external(type_name: str, args: dict[str, Any]) -> FusionModel | None:
    """Build a ``"module.Class"`` method: a :class:`FusionModel` subclass as it is, any other ``nn.Module``
    wrapped in :class:`ModuleAdapter`. None when ``type_name`` names no class."""
    cls = resolve_class(type_name)
    if cls is None:
        return None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ConfigError(f"method type {type_name!r} is a {type(cls).__name__}, not an nn.Module class; "
                          f"a method is a FusionModel subclass or an nn.Module whose {CONTRACT}")
    try:
        obj = cls(**args)
    except TypeError as exc:
        raise ConfigError(f"method type {type_name!r}: {exc}") from exc
    return obj if isinstance(obj, FusionModel) else ModuleAdapter(obj)
