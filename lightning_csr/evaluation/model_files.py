"""What a saved model directory must hold (config, weights, processor) and which backbone family it is."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from lightning_csr.backbones import BACKBONES

log = logging.getLogger(__name__)

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
# config.json model_type -> backbone family, where the two names differ
MODEL_TYPE_FAMILIES = {"qwen2_5_vl": "qwen2_vl", "smolvlm": "idefics3"}


class ModelDirError(ValueError):
    """A directory that does not hold a usable saved model and processor."""


def family_for_model_type(model_type: str | None) -> str:
    """The backbone family of a config's `model_type`; unknown types fall back to llava with a warning."""
    family = MODEL_TYPE_FAMILIES.get(model_type or "", model_type)
    if family in BACKBONES:
        return family
    log.warning("model_type %r has no backbone adapter; using the llava adapter", model_type)
    return "llava"


def check_processor(path: Path) -> None:
    """Raise ModelDirError unless `path` holds a processor (image processor config and a tokenizer)."""
    has_image = any((path / name).exists() for name in PROCESSOR_FILES)
    has_tokenizer = any((path / name).exists() for name in TOKENIZER_FILES)
    if not (has_image and has_tokenizer):
        missing = [] if has_image else [" or ".join(PROCESSOR_FILES)]
        missing += [] if has_tokenizer else [" or ".join(TOKENIZER_FILES)]
        raise ModelDirError(
            f"{path} has no processor (missing {', '.join(missing)}): save it next to the model with "
            "`processor.save_pretrained(dir)`, or use `lightning-csr export`, which writes both"
        )


def has_processor(path: Path) -> bool:
    """Whether `path` holds a processor (see `check_processor`)."""
    try:
        check_processor(path)
    except ModelDirError:
        return False
    return True


def model_family(path: Path) -> str:
    """The backbone family named by `path/config.json` (ModelDirError when there is none)."""
    if not (path / "config.json").exists():
        raise ModelDirError(f"{path} is not a model directory: no config.json")
    return family_for_model_type(json.loads((path / "config.json").read_text()).get("model_type"))


def check_hf_dir(path: Path) -> str:
    """Validate a saved HF model directory and return its backbone family."""
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist")
    if (path / "adapter_config.json").exists() and not (path / "config.json").exists():
        raise ModelDirError(
            f"{path} holds a PEFT adapter only: pass the base model as --model and {path} as --adapter"
        )
    if not (path / "config.json").exists():
        raise ModelDirError(f"{path} is not a model directory: no config.json")
    if not any((path / name).exists() for name in WEIGHT_FILES):
        raise ModelDirError(f"{path} has no weights ({' or '.join(WEIGHT_FILES[::2])})")
    check_processor(path)
    return model_family(path)
