"""VLM backbone adapters, one file per family, reached by name or by `class_path` in YAML."""

from __future__ import annotations

import importlib

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.batches import ImageTokenMismatchError
from lightning_csr.backbones.llava import LlavaBackbone
from lightning_csr.backbones.settings import LoraSettings, QuantizationSettings

# name -> "module:Class"; families register here so a config can say `family: qwen2_vl`
BACKBONES: dict[str, str] = {
    "llava": "lightning_csr.backbones.llava:LlavaBackbone",
    "llava_next": "lightning_csr.backbones.llava_next:LlavaNextBackbone",
    "qwen2_vl": "lightning_csr.backbones.qwen2_vl:Qwen2VLBackbone",
    "idefics3": "lightning_csr.backbones.idefics3:Idefics3Backbone",
    "paligemma": "lightning_csr.backbones.paligemma:PaliGemmaBackbone",
    "composed": "lightning_csr.backbones.composed:ComposedBackbone",
}


def backbone_class(name: str) -> type[Backbone]:
    """Look up a backbone adapter by family name; unknown names list the known ones."""
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; known backbones: {', '.join(sorted(BACKBONES))}")
    module, cls = BACKBONES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_backbone(name: str, **kwargs) -> Backbone:
    """Instantiate a backbone adapter by family name."""
    return backbone_class(name)(**kwargs)


# the adapter classes by name (`lightning_csr.backbones.Qwen2VLBackbone` in a config), each family imported on use
_CLASSES = {path.split(":")[1]: path for path in BACKBONES.values()}


def __getattr__(name: str) -> type[Backbone]:
    if name not in _CLASSES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, cls = _CLASSES[name].split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = [
    "BACKBONES",
    "Backbone",
    "ComposedBackbone",
    "Idefics3Backbone",
    "ImageTokenMismatchError",
    "LlavaBackbone",
    "LlavaNextBackbone",
    "LoraSettings",
    "PaliGemmaBackbone",
    "QuantizationSettings",
    "Qwen2VLBackbone",
    "backbone_class",
    "build_backbone",
]
