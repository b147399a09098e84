"""The tiny base VLM: its LLaVA config (CLIP-style vision tower + Llama-style LM) and its SFT training."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch

from lightning_csr.shapeworld.models.clip import CLIPSize
from lightning_csr.shapeworld.world.tokenizer import ProcessorSpec


@dataclass
class VLMSize:
    """Widths and depths of the tiny LLaVA's language model; its linear dims are multiples of 64 so
    bitsandbytes 4-bit works. The vision tower is the tiny CLIP's (`CLIPSize`)."""

    text_hidden: int = 128
    text_intermediate: int = 256
    text_layers: int = 3
    text_heads: int = 4
    max_positions: int = 512

    def __post_init__(self) -> None:
        if self.text_hidden % 64 or self.text_intermediate % 64:
            raise ValueError("VLMSize: text_hidden and text_intermediate must be multiples of 64 (4-bit)")
        if self.text_hidden % self.text_heads:
            raise ValueError("VLMSize: text_hidden must be divisible by text_heads")


@dataclass
class SFTSettings:
    """How long and how hard the base VLM is trained."""

    max_steps: int = 1300
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    seed: int = 0
    # batches of similar length: a third faster here, but the one-task batches it makes ruined the SFT
    # (recall 0.15 instead of 0.81 at 1300 steps), so it stays off
    group_by_length: bool = False


def base_vlm_config(
    spec: ProcessorSpec, size: VLMSize | None = None, vision: CLIPSize | None = None
) -> dict[str, Any]:
    """A `LlavaConfig` as a plain dict (what `LlavaBackbone(config=...)` and sft.yaml take); the vision
    tower has the tiny CLIP's shape so it can start from the trained CLIP."""
    size, vision = size or VLMSize(), vision or CLIPSize()
    if vision.patch_size != spec.patch_size:
        raise ValueError(f"CLIP patch size {vision.patch_size} != processor patch size {spec.patch_size}")
    vocab = int(math.ceil(spec.vocab_size / 64) * 64)
    return {
        "model_type": "llava",
        "image_token_id": spec.image_token_id,
        "vision_feature_layer": -1,
        "vision_feature_select_strategy": "default",
        "projector_hidden_act": "gelu",
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": vision.vision_hidden,
            "intermediate_size": vision.vision_intermediate,
            "num_hidden_layers": vision.vision_layers,
            "num_attention_heads": vision.heads,
            "image_size": spec.image_size,
            "patch_size": spec.patch_size,
            "projection_dim": vision.projection_dim,
        },
        "text_config": {
            "model_type": "llama",
            "vocab_size": vocab,
            "hidden_size": size.text_hidden,
            "intermediate_size": size.text_intermediate,
            "num_hidden_layers": size.text_layers,
            "num_attention_heads": size.text_heads,
            "num_key_value_heads": size.text_heads,
            "max_position_embeddings": size.max_positions,
            "pad_token_id": spec.pad_token_id,
            "bos_token_id": spec.bos_token_id,
            "eos_token_id": spec.eos_token_id,
            "tie_word_embeddings": False,
        },
    }


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters of a model."""
    return sum(p.numel() for p in model.parameters())


def train_base_vlm(
    config: dict[str, Any],
    processor_dir: str | Path,
    data_root: str | Path,
    out_dir: str | Path,
    settings: SFTSettings,
    callbacks: list | None = None,
    vision_init: str | Path | None = None,
) -> dict[str, Any]:
    """Train the base VLM by SFT on `<data_root>/sft/train.jsonl` (frozen vision tower from `vision_init`, a
    CLIP or CLIP-vision directory, when given) and save model + processor to `out_dir`."""
    from lightning_csr.backbones import LlavaBackbone
    from lightning_csr.data.sft import SFTDataModule
    from lightning_csr.modules.components.schedules import WarmupCosine
    from lightning_csr.modules.sft import SFTModule

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    L.seed_everything(settings.seed, verbose=False)
    # a pretrained vision tower stays frozen (as in LLaVA); a from-scratch one has to learn with the rest
    backbone = LlavaBackbone(
        config=config,
        processor_id=str(processor_dir),
        train_vision_tower=vision_init is None,
        train_projector=True,
    )
    module = SFTModule(
        backbone,
        vision_init=None if vision_init is None else str(vision_init),
        optimizer=lambda params: torch.optim.AdamW(
            params, lr=settings.lr, weight_decay=settings.weight_decay
        ),
        scheduler=lambda opt, total: WarmupCosine(opt, total, warmup_ratio=settings.warmup_ratio),
    )
    data = SFTDataModule(
        train_file=str(Path(data_root) / "sft" / "train.jsonl"),
        image_root=str(data_root),
        batch_size=settings.batch_size,
        group_by_length=settings.group_by_length,
        seed=settings.seed,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=settings.max_steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks or [],
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    module.policy.save_pretrained(str(out_dir))
    backbone.processor.save_pretrained(str(out_dir))
    loss = trainer.callback_metrics.get("train/loss")
    return {
        "parameters": count_parameters(module.policy),
        "train_seconds": round(seconds, 1),
        "steps": trainer.global_step,
        "final_loss": None if loss is None else float(loss),
    }
