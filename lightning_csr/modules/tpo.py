"""`TPOModule`: DPO on visual-aware sequence log-probs with token weights from clean-vs-corrupted logits (TPO)."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from lightning_csr.backbones.base import Backbone
from lightning_csr.losses.dpo import DPOLossSettings, preference_loss
from lightning_csr.losses.masked import masked_mean
from lightning_csr.losses.tpo import tpo_token_weights, visual_anchor_scores, weighted_sequence_logps
from lightning_csr.modules.base import default_optimizer
from lightning_csr.modules.components.image_corruption import CorruptionSettings, ImageCorruptor
from lightning_csr.modules.components.logprobs import (
    gather_tokens,
    next_token_logits,
    targets_and_mask,
    token_logprobs,
)
from lightning_csr.modules.components.schedules import SchedulerCallable, WarmupCosine
from lightning_csr.modules.preference import PreferenceModule


def row_weights(scores: Tensor, num_chosen: int, margin: float) -> Tensor:
    """Token weights for concatenated rows: c = a + σ(s) on the first `num_chosen`, a + 1 − σ(s) after."""
    return torch.cat(
        [
            tpo_token_weights(scores[:num_chosen], chosen=True, margin=margin),
            tpo_token_weights(scores[num_chosen:], chosen=False, margin=margin),
        ]
    )


class TPOModule(PreferenceModule):
    """Token Preference Optimisation (Gu et al., arXiv 2412.14487) on (image, prompt, chosen, rejected) pairs.

    Per step: one corrupted view of the images (shared by policy and reference); for each model a clean and a
    corrupted teacher-forced pass over chosen and rejected; s = z_clean(y_i) − z_corrupted(y_i) from raw
    logits; c = a + σ(s) (chosen) or a + 1 − σ(s) (rejected); LP = Σ(log p + log c) for the policy and the
    reference, each with its own weights; DPO (`loss`) on LP.

    Args:
        corruption: diffusion-noise settings (released: t = 500 of 1000).
        margin: a in c = a + σ(s); a = 0.5 gives c = 1 at s = 0, where TPO equals DPO.
        detach_weights: False (default, the released code): gradients flow through log c, via both the clean
            and the corrupted-image passes, so the policy is also pushed to rely more on the image for chosen
            tokens and less for rejected ones (TPO's visual-anchored weighting). True treats c as a constant:
            Σ log c becomes a fixed per-pair margin inside the sigmoid and every token gets DPO's gradient (DPO
            with a margin); it saves the policy's corrupted-pass activations and backward (that pass then
            runs without grad), i.e. about half of the policy's activation memory.
    """

    def __init__(
        self,
        backbone: Backbone,
        loss: DPOLossSettings | None = None,
        corruption: CorruptionSettings | None = None,
        margin: float = 0.5,
        detach_weights: bool = False,
        reference: str = "auto",
        optimizer: OptimizerCallable = default_optimizer,
        scheduler: SchedulerCallable = WarmupCosine,
    ) -> None:
        super().__init__(backbone, loss, reference, False, optimizer, scheduler)
        if margin < 0:
            raise ValueError(f"margin must be non-negative, got {margin}")
        self.corruption = corruption or CorruptionSettings()
        self.corruptor = ImageCorruptor(self.corruption)
        self.margin = margin
        self.detach_weights = detach_weights

    def corrupted_view(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch with its images corrupted once for this step (seeded per record and epoch)."""
        return self.corruptor.corrupt_batch(
            batch, self.backbone.processor.image_processor, self.current_epoch
        )

    def teacher_forced(
        self, model: torch.nn.Module, clean: dict[str, Any], corrupted: dict[str, Any], grad: bool
    ) -> tuple[Tensor, Tensor]:
        """Per-token log-probs (clean image) and visual-anchored scores s of the batch's tokens under `model`."""
        targets, _ = targets_and_mask(clean)
        with torch.set_grad_enabled(grad):
            logits = next_token_logits(model, self.backbone, clean)
            token_logps = token_logprobs(logits, targets)
            clean_scores = gather_tokens(logits, targets).float()
        with torch.set_grad_enabled(grad and not self.detach_weights):
            corrupted_scores = gather_tokens(
                next_token_logits(model, self.backbone, corrupted), targets
            ).float()
        return token_logps, visual_anchor_scores(clean_scores, corrupted_scores)

    def model_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        """TPO loss, TRL-named metrics and the mean scores and weights of chosen and rejected tokens."""
        n = len(batch["ids"])
        _, mask = targets_and_mask(batch)
        corrupted = self.corrupted_view(batch)
        grad = torch.is_grad_enabled()
        policy_logps, policy_scores = self.teacher_forced(self.policy, batch, corrupted, grad=grad)
        with torch.no_grad(), self.reference.model(self.policy) as ref:
            ref_logps, ref_scores = self.teacher_forced(ref, batch, corrupted, grad=False)
        policy_weights = row_weights(policy_scores, n, self.margin)
        ref_weights = row_weights(ref_scores, n, self.margin)
        policy_lp = weighted_sequence_logps(policy_logps, policy_weights, mask, self.detach_weights)
        ref_lp = weighted_sequence_logps(ref_logps, ref_weights, mask)
        counts = mask.sum(dim=1).to(policy_logps.dtype)
        loss, metrics = preference_loss(
            policy_lp[:n],
            policy_lp[n:],
            ref_lp[:n],
            ref_lp[n:],
            chosen_nll=-masked_mean(policy_logps[:n], mask[:n], dim=-1),
            chosen_lengths=counts[:n],
            rejected_lengths=counts[n:],
            **self.loss_config.loss_kwargs(),
        )
        self.check_finite(loss, batch)
        for side, rows in (("chosen", slice(None, n)), ("rejected", slice(n, None))):
            metrics[f"tpo/score_{side}"] = masked_mean(policy_scores[rows].detach(), mask[rows])
            metrics[f"tpo/weight_{side}"] = masked_mean(policy_weights[rows].detach(), mask[rows])
        self.log_step(loss, metrics, stage, n)
        return loss
