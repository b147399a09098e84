"""Tiny random models of real checkpoints: the real processor files next to a shrunk copy of the real config.

Each builder copies every file of a folder in `LIGHTNING_CSR_REAL_PROCESSORS` (tokenizer, chat template, image
processor, generation config) and replaces its `config.json` with weights of a model that keeps the real
vocabulary size, special-token ids and vision geometry (image size, patch size, merge and pixel-shuffle factors)
but has tiny hidden sizes and one or two layers.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from tests.tiny_families import TEXT_KV, VISION

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "LIGHTNING_CSR_REAL_PROCESSORS"

# family -> (folder in the real-processor directory, registry name of the adapter)
REAL_FAMILIES: dict[str, tuple[str, str]] = {
    "llava": ("llava-1.5-7b-hf", "llava"),
    "llava_next": ("llava-v1.6-mistral-7b-hf", "llava_next"),
    "qwen2_vl": ("Qwen2-VL-2B-Instruct", "qwen2_vl"),
    "idefics3": ("SmolVLM-256M-Instruct", "idefics3"),
}
CLIP_FOLDER = "clip-vit-large-patch14-336"
TEXT = {**TEXT_KV, "head_dim": 32}
VISION_TINY = {k: v for k, v in VISION.items() if k != "image_size"}  # the real image size stays


def real_processors_dir() -> Path | None:
    """`$LIGHTNING_CSR_REAL_PROCESSORS`, else `../shared/real_processors` beside the repository, if present."""
    configured = os.environ.get(ENV_VAR)
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "real_processors"
    return path if path.is_dir() else None


def _shrink_llava(config: dict) -> dict:
    # two vision layers: the real `vision_feature_layer` is -2
    config["text_config"] |= TEXT
    config["text_config"].pop("sliding_window", None)
    config["vision_config"] |= VISION_TINY | {"num_hidden_layers": 2, "projection_dim": 32}
    return config


def _shrink_qwen2_vl(config: dict) -> dict:
    config |= TEXT
    # mrope sections split the rotary half of head_dim (32 / 2 = 16) in the real 2:3:3 proportion
    config["rope_scaling"] = {**config["rope_scaling"], "mrope_section": [4, 6, 6]}
    vision = {"depth": 1, "embed_dim": 32, "num_heads": 2, "mlp_ratio": 2, "hidden_size": TEXT["hidden_size"]}
    config["vision_config"] |= vision
    return config


def _shrink_idefics3(config: dict) -> dict:
    config["text_config"] |= TEXT
    config["vision_config"] |= VISION_TINY | {"num_hidden_layers": 1}
    return config


SHRINK = {
    "llava": _shrink_llava,
    "llava_next": _shrink_llava,
    "qwen2_vl": _shrink_qwen2_vl,
    "idefics3": _shrink_idefics3,
}


def _copy_processor_files(source: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name not in ("config.json", "PROVENANCE.md"):
            shutil.copy(path, out_dir / path.name)


def _shrunk_config(source: Path, shrink) -> dict:
    config = shrink(json.loads((source / "config.json").read_text()))
    for key in ("torch_dtype", "dtype", "_attn_implementation", "text_config_dict", "vision_config_dict"):
        config.pop(key, None)
    return config


def tiny_real_vlm(family: str, real_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """Save a tiny random VLM of `family` with the real processor files; returns the checkpoint directory."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    source = real_dir / REAL_FAMILIES[family][0]
    config_dir = out_dir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps(_shrunk_config(source, SHRINK[family])))
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(config_dir))
    checkpoint = out_dir / "checkpoint"
    model.save_pretrained(checkpoint)
    _copy_processor_files(source, checkpoint)  # the real generation_config.json replaces the derived one
    return checkpoint


def tiny_real_clip(real_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """A tiny random CLIPModel of the real CLIP-336 geometry (336 pixels, patch 14, 77-token context)."""
    from transformers import CLIPConfig, CLIPModel

    source = real_dir / CLIP_FOLDER
    config = _shrunk_config(source, lambda c: c)
    tiny = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    config["text_config"] |= tiny | {"projection_dim": 16}
    config["vision_config"] |= tiny | {"projection_dim": 16}
    config["projection_dim"] = 16
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(**{k: v for k, v in config.items() if k != "model_type"}))
    checkpoint = out_dir / "checkpoint"
    model.save_pretrained(checkpoint)
    _copy_processor_files(source, checkpoint)
    return checkpoint
