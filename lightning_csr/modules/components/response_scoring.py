"""Forward passes over rollouts: per-token log-probs, entropies and values of the response tokens."""

from __future__ import annotations

from typing import Any

import torch

from lightning_csr.rewards.reward_model import last_hidden_states


def sequence_inputs(rollout: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """Model inputs of prompt + response: [left-padded query | right-padded response] with images."""
    inputs = {
        "input_ids": torch.cat([rollout["query_ids"], rollout["response_ids"]], dim=1),
        "attention_mask": torch.cat([rollout["query_mask"], rollout["response_mask"]], dim=1),
        **rollout["images"],
    }
    return {k: v.to(device) for k, v in inputs.items()}


def response_logps(
    model: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    response_ids: torch.Tensor,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs [B, R] of the response tokens under raw logits (and per-token entropies when asked)."""
    width = response_ids.shape[1]
    logits = model(**inputs, use_cache=False, logits_to_keep=width + 1).logits[:, :-1].float()
    logps = logits.log_softmax(dim=-1)
    picked = logps.gather(2, response_ids.to(logits.device).unsqueeze(-1)).squeeze(-1)
    entropy = -(logps.exp() * logps).sum(dim=-1) if with_entropy else None
    return picked, entropy


def response_values(
    model: torch.nn.Module, head: torch.nn.Module, inputs: dict[str, torch.Tensor], width: int
) -> torch.Tensor:
    """Values [B, R]: the head on the hidden state that precedes each response token."""
    hidden = last_hidden_states(model, inputs)[:, -(width + 1) : -1]
    return head(hidden.to(head.weight.dtype)).squeeze(-1)
