"""POVID's two-stage preference loss (Zhou et al., arXiv 2402.11411; povid_tpo.md §2.1).

* Stage 1: sigmoid DPO of the ground-truth answer y_w against the GPT-4V hallucination-injected answer y_l^t.
* Stage 2: ``(1 − w)·DPO(y_w vs y_l^t) + w·DPO(y_w vs y^n)`` with w = 0.5 in the released code (two separate
  sigmoids averaged, not one sigmoid). The noise-triggered response y^n takes, at every position of y_w, the
  greedy token of a teacher-forced pass on the corrupted image; it is then scored on the clean image.

The released code let the policy and the reference each pick their own argmax, so the two log-ratios were
taken on different sequences. Here ``noise_triggered_tokens`` is computed once (from the reference or a
detached policy) and the same ids are scored under both models.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_csr.losses.dpo import preference_loss


def noise_triggered_tokens(corrupted_logits: Tensor, labels_mask: Tensor, ignore_index: int = -100) -> Tensor:
    """Greedy token ids [B, T] from corrupted-image logits [B, T, V]; ``ignore_index`` where mask is 0."""
    with torch.no_grad():
        token_ids = corrupted_logits.argmax(dim=-1)
    return torch.where(labels_mask.bool(), token_ids, torch.full_like(token_ids, ignore_index))


def povid_loss(
    policy_chosen: Tensor,
    policy_injected: Tensor,
    policy_noise: Tensor | None,
    ref_chosen: Tensor,
    ref_injected: Tensor,
    ref_noise: Tensor | None,
    beta: float = 0.1,
    noise_weight: float = 0.5,
    stage: int = 2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """POVID loss on summed log-probs [B]: plain DPO in stage 1, text/noise mixture in stage 2."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    if not 0.0 <= noise_weight <= 1.0:
        raise ValueError(f"noise_weight must be in [0, 1], got {noise_weight}")
    text_loss, metrics = preference_loss(policy_chosen, policy_injected, ref_chosen, ref_injected, beta=beta)
    metrics["loss/text"] = text_loss.detach()
    if stage == 1:
        return text_loss, metrics
    if policy_noise is None or ref_noise is None:
        raise ValueError("stage 2 needs policy_noise and ref_noise (log-probs of the noise-triggered tokens)")
    noise_loss, noise_metrics = preference_loss(policy_chosen, policy_noise, ref_chosen, ref_noise, beta=beta)
    metrics["loss/noise"] = noise_loss.detach()
    metrics["rewards/noise_rejected"] = noise_metrics["rewards/rejected"]
    metrics["rewards/noise_margins"] = noise_metrics["rewards/margins"]
    metrics["rewards/noise_accuracies"] = noise_metrics["rewards/accuracies"]
    metrics["logps/noise_rejected"] = noise_metrics["logps/rejected"]
    return (1 - noise_weight) * text_loss + noise_weight * noise_loss, metrics
