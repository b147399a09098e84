"""Teacher-forced passes that keep the raw logits (TPO's scores and POVID's noise-triggered tokens need them)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_csr.backbones.base import Backbone, ImageTokenMismatchError


def model_logits(model: torch.nn.Module, inputs: dict[str, Any], batch: dict[str, Any]) -> Tensor:
    """Raw logits [B, T, V] of one uncached pass; an image-token/feature mismatch names the batch's ids."""
    try:
        return model(**inputs, use_cache=False).logits
    except ValueError as err:
        if "Image features and image tokens do not match" in str(err):
            raise ImageTokenMismatchError(f"batch {batch.get('ids')}: {err}") from err
        raise


def next_token_logits(model: torch.nn.Module, backbone: Backbone, batch: dict[str, Any]) -> Tensor:
    """Raw logits [B, T-1, V] where position t scores token t+1 (the `token_logprobs` convention)."""
    return model_logits(model, backbone.model_inputs(batch), batch)[:, :-1]


def gather_tokens(values: Tensor, token_ids: Tensor) -> Tensor:
    """values[b, t, token_ids[b, t]] ([B, T, V], [B, T] → [B, T]); negative ids (ignored) read index 0."""
    return torch.gather(values, 2, token_ids.clamp(min=0).unsqueeze(-1)).squeeze(-1)


def targets_and_mask(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """Next-token targets [B, T-1] and the completion mask aligned with them."""
    return batch["input_ids"][:, 1:], batch["completion_mask"][:, 1:]


def masked_sum(values: Tensor, mask: Tensor) -> Tensor:
    """Σ over the last dimension of values where mask is set (padding may hold anything)."""
    return torch.where(mask.bool(), values, torch.zeros_like(values)).sum(dim=-1)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of values where mask is set, over all rows (a scalar; 0 when the mask is empty)."""
    keep = mask.bool()
    return values[keep].float().mean() if keep.any() else values.new_zeros(())
