"""What a model says about given tokens, read from raw logits in one place: log-probs, entropies, values.

Log-probs always come from the log-softmax of the unprocessed logits (never a generation strategy's scores).
Next-token convention: position t of a [B, T-1] result scores token t+1 of the batch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_csr.backbones.base import Backbone
from lightning_csr.backbones.batches import ImageTokenMismatchError
from lightning_csr.losses.masked import masked_sum
from lightning_csr.rewards.reward_model import last_hidden_states


def model_logits(model: torch.nn.Module, inputs: dict[str, Any], batch: dict[str, Any]) -> Tensor:
    """Raw logits [B, T, V] of one uncached pass; an image-token/feature mismatch names the batch's ids."""
    try:
        return model(**inputs, use_cache=False).logits
    except ValueError as err:
        if "Image features and image tokens do not match" in str(err):
            raise ImageTokenMismatchError(f"batch {batch.get('ids')}: {err}") from err
        raise


def next_token_logits(model: torch.nn.Module, backbone: Backbone, batch: dict[str, Any]) -> Tensor:
    """Raw logits [B, T-1, V] of a teacher-forced pass, position t scoring token t+1."""
    return model_logits(model, backbone.model_inputs(batch), batch)[:, :-1]


def targets_and_mask(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """Next-token targets [B, T-1] and the completion mask aligned with them."""
    return batch["input_ids"][:, 1:], batch["completion_mask"][:, 1:]


def gather_tokens(values: Tensor, token_ids: Tensor) -> Tensor:
    """values[b, t, token_ids[b, t]] ([B, T, V], [B, T] → [B, T]); negative ids (ignored) read index 0."""
    return torch.gather(values, 2, token_ids.clamp(min=0).unsqueeze(-1)).squeeze(-1)


def vocabulary_logprobs(logits: Tensor) -> Tensor:
    """Log-probs of every vocabulary entry [..., V]: the float32 log-softmax of the raw logits."""
    return logits.float().log_softmax(dim=-1)


def token_logprobs(logits: Tensor, token_ids: Tensor) -> Tensor:
    """Log-prob [B, T] of each token under the raw logits at the same position ([B, T, V])."""
    return gather_tokens(vocabulary_logprobs(logits), token_ids)


def completion_logprobs(logits: Tensor, input_ids: Tensor, completion_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Summed completion log-probs [B] and completion token counts [B] of a teacher-forced pass."""
    per_token = token_logprobs(logits[:, :-1], input_ids[:, 1:])
    mask = completion_mask[:, 1:]
    return masked_sum(per_token, mask, dim=1), mask.to(per_token.dtype).sum(dim=1)


def response_logprobs(
    model: torch.nn.Module, inputs: dict[str, Tensor], response_ids: Tensor, with_entropy: bool = False
) -> tuple[Tensor, Tensor | None]:
    """Log-probs [B, R] of the response tokens that close `inputs` (and per-token entropies when asked)."""
    width = response_ids.shape[1]
    logps = vocabulary_logprobs(model(**inputs, use_cache=False, logits_to_keep=width + 1).logits[:, :-1])
    picked = gather_tokens(logps, response_ids.to(logps.device))
    entropy = -(logps.exp() * logps).sum(dim=-1) if with_entropy else None
    return picked, entropy


def response_values(
    model: torch.nn.Module, head: torch.nn.Module, inputs: dict[str, Tensor], width: int
) -> Tensor:
    """Values [B, R]: the head on the hidden state that precedes each of the `width` closing response tokens."""
    hidden = last_hidden_states(model, inputs)[:, -(width + 1) : -1]
    return head(hidden.to(head.weight.dtype)).squeeze(-1)
