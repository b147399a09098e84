"""Completion log-probabilities from raw logits."""

from __future__ import annotations

import torch


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Log-prob of each next token under the raw logits: [B, T-1] (position t scores token t+1)."""
    logits = logits[:, :-1].float()
    targets = input_ids[:, 1:].unsqueeze(-1)
    return torch.gather(logits.log_softmax(dim=-1), 2, targets).squeeze(-1)


def completion_logprobs(
    logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probs [B] and completion token counts [B]."""
    per_token = token_logprobs(logits, input_ids)
    mask = completion_mask[:, 1:].to(per_token.dtype)
    return (per_token * mask).sum(dim=1), mask.sum(dim=1)
