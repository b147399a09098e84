"""`RewardModelModule`: trains the Fact-RLHF reward model (VLM + LoRA + scalar head) on preference pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.policy import build_policy
from lightning_csr.losses.reward_model import pairwise_reward_loss
from lightning_csr.modules.base import default_optimizer
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.rewards.reward_model import (
    RewardPrompt,
    hidden_size,
    reward_scores,
    save_reward_model,
    scalar_head,
)


class RewardModelModule(L.LightningModule):
    """Pairwise logistic loss plus LLaVA-RLHF's centering term on rewards read at the last real token.

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
        super().__init__()
        if backbone.lora is None:
            raise ValueError("RewardModelModule: set backbone.lora (the reward model is a LoRA adapter)")
        if centering_weight < 0:
            raise ValueError(f"centering_weight must be non-negative, got {centering_weight}")
        self.backbone = backbone
        self.centering_weight = centering_weight
        self.export_dir = export_dir
        self.reward_prompt = reward_prompt or RewardPrompt()
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.model: torch.nn.Module | None = None
        self.head: torch.nn.Linear | None = None
        self.strict_loading = False

    def configure_model(self) -> None:
        if self.model is not None:
            return
        self.model = build_policy(self.backbone)
        self.head = scalar_head(hidden_size(self.model))

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "connect"):
            datamodule.connect(self.backbone)
            self.reward_prompt = getattr(datamodule, "reward_prompt", self.reward_prompt)

    def rewards(self, batch: dict[str, Any]) -> torch.Tensor:
        """Scalar rewards [B] of a reward batch."""
        return reward_scores(self.model, self.head, self.backbone, batch)

    def model_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """Loss and TRL-named metrics for one batch of pairs (chosen rows first)."""
        n = len(batch["ids"])
        rewards = self.rewards(batch)
        loss, metrics = pairwise_reward_loss(rewards[:n], rewards[n:], self.centering_weight)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite reward loss at step {self.global_step}, ids {batch['ids']}")
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=n)
        prefix = "" if stage == "train" else f"{stage}/"
        values = {
            "rewards/chosen": rewards[:n].mean(),
            "rewards/rejected": rewards[n:].mean(),
            "rewards/margins": metrics["margin"],
            "rewards/accuracies": metrics["accuracy"],
        }
        self.log_dict(
            {prefix + k: v.detach() for k, v in values.items()}, batch_size=n, prog_bar=stage == "val"
        )
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "val")

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params)
        scheduler = self.scheduler_factory(optimizer, max(int(self.trainer.estimated_stepping_batches), 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def export(self, out_dir: str | Path) -> Path:
        """Write the reward model where `PPOModule(reward_model=...)` loads it."""
        return save_reward_model(out_dir, self.model, self.head, self.reward_prompt)

    def on_train_end(self) -> None:
        if self.export_dir is not None and self.trainer.is_global_zero:
            self.export(self.export_dir)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = {n for n, p in self.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.configure_model()
