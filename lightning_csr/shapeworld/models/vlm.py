"""The tiny base VLM: its LLaVA config (CLIP-style vision tower + Llama-style LM) and its SFT training."""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lightning_csr.shapeworld.models.clip import CLIPSettings
from lightning_csr.shapeworld.world.tokenizer import ProcessorSpec

CONFIGS = Path(__file__).resolve().parents[3] / "configs"  # the repository's configs/ (next to the package)
SFT_CONFIG = CONFIGS / "shapeworld" / "sft.yaml"
QUIET_TRAINER = CONFIGS / "trainer" / "quiet.yaml"


@dataclass
class VLMSettings:
    """Widths and depths of the tiny LLaVA's language model; its linear dims are multiples of 64 so
    bitsandbytes 4-bit works. The vision tower is the tiny CLIP's (`CLIPSettings`)."""

    text_hidden: int = 128
    text_intermediate: int = 256
    text_layers: int = 3
    text_heads: int = 4
    max_positions: int = 512

    def __post_init__(self) -> None:
        if self.text_hidden % 64 or self.text_intermediate % 64:
            raise ValueError("VLMSettings: text_hidden and text_intermediate must be multiples of 64 (4-bit)")
        if self.text_hidden % self.text_heads:
            raise ValueError("VLMSettings: text_hidden must be divisible by text_heads")


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
    spec: ProcessorSpec, size: VLMSettings | None = None, vision: CLIPSettings | None = None
) -> dict[str, Any]:
    """A `LlavaConfig` as a plain dict (what `LlavaBackbone(config=...)` and sft.yaml take); the vision
    tower has the tiny CLIP's shape so it can start from the trained CLIP."""
    size, vision = size or VLMSettings(), vision or CLIPSettings()
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


def sft_arguments(
    config: dict[str, Any],
    processor_dir: str | Path,
    data_root: str | Path,
    settings: SFTSettings,
    run_dir: str | Path,
    vision_init: str | Path | None = None,
) -> list[str]:
    """The LightningCLI arguments of the base VLM's SFT: configs/shapeworld/sft.yaml under the quiet trainer,
    with the model, data and training values of this build (no validation set)."""
    if not SFT_CONFIG.is_file():
        raise FileNotFoundError(
            f"{SFT_CONFIG}: not found; the SFT runs the repository's configs/ (install from a checkout: pip install -e .)"
        )
    root = Path(data_root)
    return [
        "--config",
        str(SFT_CONFIG),
        "--trainer",
        str(QUIET_TRAINER),
        f"--seed_everything={settings.seed}",
        f"--trainer.max_steps={settings.max_steps}",
        f"--trainer.default_root_dir={run_dir}",
        f"--model.init_args.backbone.init_args.config={json.dumps(config)}",
        f"--model.init_args.backbone.init_args.processor_id={processor_dir}",
        # a pretrained vision tower stays frozen (as in LLaVA); a from-scratch one has to learn with the rest
        f"--model.init_args.backbone.init_args.train_vision_tower={str(vision_init is None).lower()}",
        f"--model.init_args.vision_init={'null' if vision_init is None else vision_init}",
        f"--model.init_args.optimizer.init_args.lr={settings.lr}",
        f"--model.init_args.optimizer.init_args.weight_decay={settings.weight_decay}",
        f"--model.init_args.scheduler.init_args.warmup_ratio={settings.warmup_ratio}",
        f"--data.init_args.train_file={root / 'sft' / 'train.jsonl'}",
        "--data.init_args.val_file=null",
        f"--data.init_args.image_root={root}",
        f"--data.init_args.batch_size={settings.batch_size}",
        f"--data.init_args.group_by_length={str(settings.group_by_length).lower()}",
        f"--data.init_args.seed={settings.seed}",
    ]


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
    CLIP or CLIP-vision directory, when given) through LightningCLI, and save model + processor to `out_dir`."""
    from lightning_csr.run_config import CSRCli

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as run_dir, warnings.catch_warnings():
        # LightningCLI's note that the process has command-line arguments of its own (those of `prepare`)
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        args = sft_arguments(config, processor_dir, data_root, settings, run_dir, vision_init)
        start = time.perf_counter()
        cli = CSRCli(
            args=["fit", *args], save_config_callback=None, trainer_defaults={"callbacks": callbacks or []}
        )
        seconds = time.perf_counter() - start
    module, trainer = cli.model, cli.trainer
    module.policy.save_pretrained(str(out_dir))
    module.backbone.processor.save_pretrained(str(out_dir))
    loss = trainer.callback_metrics.get("train/loss")
    return {
        "parameters": count_parameters(module.policy),
        "train_seconds": round(seconds, 1),
        "steps": trainer.global_step,
        "final_loss": None if loss is None else float(loss),
    }
