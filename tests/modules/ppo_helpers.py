"""Fact-RLHF test helpers: a tiny PPO module and a short fit (the prompt fixture `rl_prompts` is in conftest)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.data.rlhf import RLPromptDataModule
from lightning_csr.modules.components.ppo_settings import PPOSettings
from lightning_csr.modules.ppo import PPOModule
from tests.trainer import quiet_trainer


def ppo_module(model_dir: Path, rollout_dir: Path, **kwargs) -> PPOModule:
    """A PPO module over a tiny LLaVA: 2 prompts per chunk, 2 rows per minibatch, short responses."""
    backbone = LlavaBackbone(
        model_id=str(model_dir), lora=LoraSettings(r=4, alpha=8), **kwargs.pop("backbone", {})
    )
    settings = PPOSettings(
        generation_batch_size=2, minibatch_size=2, max_new_tokens=5, ppo_epochs=1, value_head_init="reward"
    )
    return PPOModule(
        backbone,
        ppo=settings,
        rollout_dir=str(rollout_dir),
        optimizer=lambda params: torch.optim.AdamW(params, lr=5e-2),
        **kwargs,
    )


def fit_ppo(
    module: PPOModule, prompts: Path, root: Path, iterations: int = 1, ckpt_path: str | None = None
) -> L.Trainer:
    """Run `iterations` PPO iterations (one 4-prompt batch per epoch) with a checkpoint after every one."""
    torch.manual_seed(0)
    trainer = quiet_trainer(
        max_epochs=iterations,
        default_root_dir=str(root),
        enable_checkpointing=True,
        callbacks=[
            L.pytorch.callbacks.ModelCheckpoint(
                dirpath=str(root / "checkpoints"), save_last=True, save_top_k=0, every_n_train_steps=1
            )
        ],
    )
    data = RLPromptDataModule(str(prompts), rollout_batch_size=4, seed=0)
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    return trainer


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every weight as a state-dict copy (bitsandbytes unpacks its CPU-packed 4-bit weights there)."""
    return {n: v.detach().clone() for n, v in model.state_dict().items()}
