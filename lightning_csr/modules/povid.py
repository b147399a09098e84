"""`POVIDModule`: DPO on hallucination-injected pairs, then adds noise-triggered rejections (POVID)."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_csr.backbones.base import Backbone
from lightning_csr.losses.dpo import DPOLossSettings
from lightning_csr.losses.masked import masked_mean, masked_sum
from lightning_csr.losses.povid import noise_triggered_tokens, povid_loss
from lightning_csr.modules.base import default_optimizer
from lightning_csr.modules.components.image_corruption import CorruptionSettings, ImageCorruptor
from lightning_csr.modules.components.logprobs import (
    gather_tokens,
    next_token_logits,
    targets_and_mask,
    vocabulary_logprobs,
)
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.modules.preference import PreferenceModule

NOISE_SOURCES = ("policy", "reference")


def chosen_rows(batch: dict[str, Any], n: int) -> dict[str, Any] | None:
    """The first n rows of a concatenated [2n] batch, or None when a tensor does not split by rows."""
    rows = batch["input_ids"].shape[0]
    half: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Tensor) and value.dim() > 0:
            if value.shape[0] != rows:
                return None
            half[key] = value[:n]
        else:
            half[key] = value
    return half


class POVIDModule(PreferenceModule):
    """POVID (Zhou et al., arXiv 2402.11411) on pairs (ground-truth answer, hallucination-injected answer).

    Stage 1 (epochs before `noise_start_epoch`): sigmoid DPO of chosen vs injected.
    Stage 2: ``w·DPO(chosen vs injected) + (1 − w)·DPO(chosen vs noise-triggered)``, w = `text_weight`. The
    noise-triggered response takes, at each position of the chosen answer, the top-1 token of a
    teacher-forced pass on the corrupted image; those ids are computed once per step and scored on the clean
    image by the policy and the reference alike (the released code let each model pick its own argmax).
    Scoring needs no extra pass: it reads the clean chosen-row log-probs at the noise-triggered ids.

    Args:
        noise_start_epoch: first epoch of stage 2 (released: a second run after 3 epochs of stage 1).
        text_weight: w, the weight of the injected-answer DPO term in stage 2 (released: 0.5).
        noise_source: whose corrupted-image argmax picks the tokens: `policy` (detached; the current
            model's own hallucinations, as POVID intends) or `reference` (fixed across training).
        reference_from_stage1: at the start of stage 2 make the reference the stage-1 policy (the released
            code merged stage 1 into the base and used it as reference); needs reference `ref_adapter`/`copy`.
        corruption: diffusion-noise settings of the corrupted image (released: t = 500 of 1000).
        stage_schedules: each stage gets its own fresh optimizer, warm-up and cosine (the released code ran
            stage 2 as a second job); False runs one schedule over both stages, leaving stage 2 in its tail.
        loss: only `beta` is used (POVID is sigmoid DPO).
    """

    def __init__(
        self,
        backbone: Backbone,
        loss: DPOLossSettings | None = None,
        noise_start_epoch: int = 3,
        text_weight: float = 0.5,
        noise_source: str = "policy",
        reference_from_stage1: bool = False,
        corruption: CorruptionSettings | None = None,
        stage_schedules: bool = True,
        reference: str = "auto",
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__(backbone, loss, reference, False, optimizer, scheduler)
        if noise_start_epoch < 0:
            raise ValueError(f"noise_start_epoch must be >= 0, got {noise_start_epoch}")
        if not 0.0 <= text_weight <= 1.0:
            raise ValueError(f"text_weight must be in [0, 1], got {text_weight}")
        if noise_source not in NOISE_SOURCES:
            raise ValueError(f"noise_source must be one of {NOISE_SOURCES}, got {noise_source!r}")
        if reference_from_stage1 and reference in ("auto", "adapter_off"):
            raise ValueError("reference_from_stage1 needs reference 'ref_adapter' (LoRA) or 'copy'")
        self.noise_start_epoch = noise_start_epoch
        self.text_weight = text_weight
        self.noise_source = noise_source
        self.reference_from_stage1 = reference_from_stage1
        self.corruption = corruption or CorruptionSettings()
        self.corruptor = ImageCorruptor(self.corruption)
        self.stage_schedules = stage_schedules
        self.reference_synced = False

    @property
    def stage(self) -> int:
        """1 before `noise_start_epoch`, 2 from it on."""
        return self.stage_of(self.current_epoch)

    def stage_of(self, epoch: int) -> int:
        return 2 if epoch >= self.noise_start_epoch else 1

    def schedule_phase(self, epoch: int) -> int | None:
        """With `stage_schedules`, each stage is its own optimisation phase."""
        return self.stage_of(epoch) if self.stage_schedules else None

    def phase_epochs(self, phase: int) -> int:
        max_epochs = self.trainer.max_epochs
        if max_epochs is None or max_epochs < 1:
            raise ValueError(
                "POVIDModule.stage_schedules sizes each stage in epochs: set trainer.max_epochs "
                "(stage 1 = the epochs before noise_start_epoch, stage 2 = the rest), or stage_schedules: false"
            )
        stage_one = min(self.noise_start_epoch, max_epochs)
        return stage_one if phase == 1 else max_epochs - stage_one

    @torch.no_grad()
    def noise_triggered_ids(self, batch: dict[str, Any], n: int) -> Tensor:
        """Top-1 ids [n, T-1] of the chosen rows read with the corrupted image (-100 off the completion)."""
        rows = chosen_rows(batch, n)
        view = self.corruptor.corrupt_batch(
            rows if rows is not None else batch, self.backbone.processor.image_processor, self.current_epoch
        )
        _, mask = targets_and_mask(batch)
        if self.noise_source == "reference":
            with self.reference.model(self.policy) as ref:
                logits = next_token_logits(ref, self.backbone, view)
        else:
            logits = next_token_logits(self.policy, self.backbone, view)
        return noise_triggered_tokens(logits[:n], mask[:n])

    @staticmethod
    def score_tokens(token_logprobs: Tensor, token_ids: Tensor, mask: Tensor) -> Tensor:
        """Σ over completion positions of log p(token_ids) from all-vocabulary log-probs [B, T, V]."""
        return masked_sum(gather_tokens(token_logprobs, token_ids), mask, dim=-1)

    def sequence_logps(
        self, model: torch.nn.Module, batch: dict[str, Any], noise_ids: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """Summed log-probs of every row's own completion [2n] and of the noise-triggered ids [n] (clean image)."""
        targets, mask = targets_and_mask(batch)
        log_probs = vocabulary_logprobs(next_token_logits(model, self.backbone, batch))
        own = self.score_tokens(log_probs, targets, mask)
        if noise_ids is None:
            return own, None
        n = noise_ids.shape[0]
        return own, self.score_tokens(log_probs[:n], noise_ids, mask[:n])

    def model_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        """POVID loss of the current stage, TRL-named metrics, text/noise parts and the stage."""
        n = len(batch["ids"])
        povid_stage = self.stage
        noise_ids = self.noise_triggered_ids(batch, n) if povid_stage == 2 else None
        policy, policy_noise = self.sequence_logps(self.policy, batch, noise_ids)
        with torch.no_grad(), self.reference.model(self.policy) as ref_model:
            ref, ref_noise = self.sequence_logps(ref_model, batch, noise_ids)
        loss, metrics = povid_loss(
            policy[:n],
            policy[n:],
            policy_noise,
            ref[:n],
            ref[n:],
            ref_noise,
            beta=self.loss_config.beta,
            noise_weight=1.0 - self.text_weight,
            stage=povid_stage,
        )
        self.check_finite(loss, batch)
        if noise_ids is not None:
            targets, mask = targets_and_mask(batch)
            same = (noise_ids == targets[:n]).float()
            metrics["povid/noise_equals_chosen"] = masked_mean(same, mask[:n])
        metrics["povid/stage"] = torch.tensor(float(povid_stage))
        self.log_step(loss, metrics, stage, n)
        return loss

    # ------------------------------------------------------------- stage 2 reference
    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        if self.reference_from_stage1 and self.stage == 2 and not self.reference_synced:
            self.sync_reference()
            self.reference_synced = True

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["povid_reference_synced"] = self.reference_synced

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.reference_synced = bool(checkpoint.get("povid_reference_synced", False))
