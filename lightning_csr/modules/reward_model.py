"""`RewardModelModule`: trains the Fact-RLHF reward model (VLM + LoRA + scalar head) on preference pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.losses.reward_model import pairwise_reward_loss
from lightning_csr.modules.base import PolicyModule, default_optimizer
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.rewards.reward_model import (
    RewardPrompt,
    hidden_size,
    reward_scores,
    save_reward_model,
    scalar_head,
)


class RewardModelModule(PolicyModule):
    """Pairwise logistic loss plus LLaVA-RLHF's centering term on rewards read at the last real token.

    The trained network is the base's `policy` (backbone + the reward LoRA adapter) with a scalar `head`; there
    is no reference model.

    Args:
        backbone: the VLM adapter; `backbone.lora` must be set (the reward model is a LoRA adapter).
        centering_weight: weight of |mean(r_chosen + r_rejected)| (1e-3 in LLaVA-RLHF; 0 turns it off).
        export_dir: where `on_train_end` writes the adapter, the head and the judging-prompt settings.
        reward_prompt: recorded with the export (the data module builds the inputs); taken from the
            data module's `reward_prompt` when the data module has one.
    """

    def __init__(
        self,
        backbone: Backbone,
        centering_weight: float = 1e-3,
        export_dir: str | None = None,
        reward_prompt: RewardPrompt | None = None,
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        if backbone.lora is None:
            raise ValueError("RewardModelModule: set backbone.lora (the reward model is a LoRA adapter)")
        if centering_weight < 0:
            raise ValueError(f"centering_weight must be non-negative, got {centering_weight}")
        super().__init__(backbone, None, optimizer, scheduler)
        self.centering_weight = centering_weight
        self.export_dir = export_dir
        self.reward_prompt = reward_prompt or RewardPrompt()
        self.head: torch.nn.Linear | None = None

    def build_parts(self) -> None:
        self.head = scalar_head(hidden_size(self.policy))

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        self.reward_prompt = getattr(datamodule, "reward_prompt", self.reward_prompt)

    def rewards(self, batch: dict[str, Any]) -> torch.Tensor:
        """Scalar rewards [B] of a reward batch."""
        return reward_scores(self.policy, self.head, self.backbone, batch)

    def model_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """Loss and TRL-named metrics for one batch of pairs (chosen rows first)."""
        n = len(batch["ids"])
        rewards = self.rewards(batch)
        loss, metrics = pairwise_reward_loss(rewards[:n], rewards[n:], self.centering_weight)
        self.check_finite(loss, batch)
        values = {
            "rewards/chosen": rewards[:n].mean(),
            "rewards/rejected": rewards[n:].mean(),
            "rewards/margins": metrics["margin"],
            "rewards/accuracies": metrics["accuracy"],
        }
        self.log_step(loss, {k: v.detach() for k, v in values.items()}, stage, n)
        return loss

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The reward adapter and the head."""
        return [*super().trainable_parameters(), *self.head.parameters()]

    def export(self, out_dir: str | Path) -> Path:
        """Write the reward model where `PPOModule(reward_model=...)` loads it."""
        return save_reward_model(out_dir, self.policy, self.head, self.reward_prompt)

    def on_train_end(self) -> None:
        if self.export_dir is not None and self.trainer.is_global_zero:
            self.export(self.export_dir)
