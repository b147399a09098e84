"""Token-level visual-anchored rewards of TPO (Gu et al., arXiv 2412.14487; povid_tpo.md §3.1).

* Visual-anchored score (Eq. 4), on raw logits of the label token:
  ``s_i = z(y_i | x, v, y_<i) − z(y_i | x, ṽ, y_<i)`` with v the clean and ṽ the corrupted image.
* Self-calibrated token weight (Eq. 5), margin a = 0.5:
  ``c_i = a + σ(s_i)`` on chosen tokens, ``c_i = a + 1 − σ(s_i)`` on rejected tokens, so c ∈ (a, a + 1).
* Visual-aware sequence log-prob (Eq. 10): ``LP(y) = Σ_i mask_i·(log π(y_i) + log c_i)``, computed for the
  policy and the reference with their own weights; plain sigmoid DPO on LP gives the TPO loss. At s = 0,
  a = 0.5 gives c = 1, so TPO equals DPO exactly.
* Gradients flow through log c (the released code does not detach it). Detached, Σ log c is a constant margin
  inside the sigmoid and every token's gradient is DPO's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_csr.losses.masked import masked_sum


def visual_anchor_scores(clean_logits_of_tokens: Tensor, corrupted_logits_of_tokens: Tensor) -> Tensor:
    """Per-token score s = z_clean(y_i) − z_corrupt(y_i) from the raw logits of the label tokens."""
    return clean_logits_of_tokens - corrupted_logits_of_tokens


def tpo_token_weights(scores: Tensor, chosen: bool, margin: float = 0.5) -> Tensor:
    """Token weights c = a + σ(s) for chosen tokens, c = a + 1 − σ(s) for rejected ones."""
    if margin < 0:
        raise ValueError(f"margin must be non-negative so that c > 0, got {margin}")
    probability = torch.sigmoid(scores)
    return margin + probability if chosen else margin + 1 - probability


def weighted_sequence_logps(
    token_logps: Tensor, token_weights: Tensor, mask: Tensor, detach_weights: bool = False
) -> Tensor:
    """Visual-aware log-prob Σ_i mask_i·(log p_i + log c_i) over the last dimension ([B, T] → [B]).

    By default gradients flow through log c as in the released code (which also back-propagates through the
    corrupted-image forward pass); ``detach_weights=True`` treats c as a constant (DPO with a margin).
    """
    if detach_weights:
        token_weights = token_weights.detach()
    # padding may hold arbitrary weights (even 0): replace them before the log to keep gradients finite
    safe_weights = torch.where(mask.bool(), token_weights, torch.ones_like(token_weights))
    return masked_sum(token_logps + torch.log(safe_weights), mask, dim=-1)
