"""`PreferenceModule`: DPO and its variants on (image, prompt, chosen, rejected) pairs."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lightning_csr.backbones.base import Backbone
from lightning_csr.distributed import Ranks
from lightning_csr.losses.dpo import DPOLossSettings, preference_loss
from lightning_csr.modules.base import PolicyModule, default_optimizer
from lightning_csr.modules.components.reference_cache import ReferenceLogpCache, cache_settings
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine


class PreferenceModule(PolicyModule):
    """One concatenated forward of chosen and rejected (images repeated), completion-only log-probs.

    Args:
        backbone: the VLM adapter (YAML `class_path` picks the family).
        loss: beta, loss types and weights (`[sigmoid, sft]` with `[1.0, 0.2]` is RPO-style).
        reference: `auto`, `adapter_off`, `ref_adapter` or `copy` (see `Reference`).
        cache_reference: compute reference log-probs once per dataset version and skip the reference
            forward during training (stored beside the data, keyed by data content and reference weights).
    """

    def __init__(
        self,
        backbone: Backbone,
        loss: DPOLossSettings | None = None,
        reference: str = "auto",
        cache_reference: bool = False,
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__(backbone, reference, optimizer, scheduler)
        self.loss_config = loss or DPOLossSettings()
        self.cache_reference = cache_reference
        self.reference_cache: ReferenceLogpCache | None = None

    def model_step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        """Loss and TRL-named metrics for one batch of pairs (chosen rows first, then rejected)."""
        n = len(batch["ids"])
        features = self.image_features(self.policy, batch)
        policy = self.forward_logps(self.policy, batch, features)
        ref = self.cached_reference(batch) if stage == "train" else None
        if ref is None:
            ref = self.reference_logps(batch, features)
        loss, metrics = preference_loss(
            policy["logps"][:n],
            policy["logps"][n:],
            ref[:n],
            ref[n:],
            chosen_nll=policy["nll"][:n],
            chosen_lengths=policy["counts"][:n],
            rejected_lengths=policy["counts"][n:],
            **self.loss_config.loss_kwargs(),
        )
        self.check_finite(loss, batch)
        self.log_step(loss, metrics, stage, n)
        return loss

    # ------------------------------------------------ cached reference log-probs
    def cached_reference(self, batch: dict[str, Any]) -> torch.Tensor | None:
        if self.reference_cache is None:
            return None
        return self.reference_cache.lookup(batch["ids"], self.device)

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        if not self.cache_reference:
            return
        datamodule = self.trainer.datamodule
        identity = self.reference.identity(self.policy, self.backbone.describe())
        settings = cache_settings(self.backbone, datamodule, self.trainer.precision)
        self.reference_cache = ReferenceLogpCache.for_data(
            datamodule.train_file, datamodule.train_digest, identity, settings
        )
        ranks = Ranks()  # rank 0 decides, so that every rank takes the same branch
        if not ranks.from_zero(self.reference_cache.complete(datamodule.train_dataset().records)):
            self.reference_cache.compute(self, datamodule.reference_dataloader(), ranks)
