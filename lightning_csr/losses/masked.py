"""Reductions over the positions a mask marks (padding takes no part, whatever it holds).

One meaning per name: `masked_sum` adds the marked values, `masked_mean` divides that sum by the number of marked
positions (0 where none is marked), `masked_whiten` standardises the marked values. Each reduces over `dim`, or
over everything when `dim` is None.
"""

from __future__ import annotations

import torch
from torch import Tensor


def masked_sum(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Σ of `values` where `mask` is set, over `dim` (or everything); padding may hold anything, even NaN."""
    kept = torch.where(mask.bool(), values, torch.zeros_like(values))
    return kept.sum() if dim is None else kept.sum(dim)


def masked_count(mask: Tensor, dim: int | None = None) -> Tensor:
    """Number of set positions of `mask`, over `dim` (or everything)."""
    return mask.bool().sum() if dim is None else mask.bool().sum(dim)


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of `values` where `mask` is set, over `dim` (or everything); 0 where nothing is set."""
    return masked_sum(values, mask, dim) / masked_count(mask, dim).clamp(min=1)


def masked_whiten(values: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """(x − mean)/std over the set positions (unbiased variance); mean kept if not `shift_mean`; padding 0."""
    count = masked_count(mask)
    if count < 2:
        raise ValueError(f"masked_whiten needs at least 2 unmasked values, got {int(count)}")
    mean = masked_mean(values, mask)
    variance = masked_sum((values - mean) ** 2, mask) / (count - 1)
    whitened = (values - mean) * torch.rsqrt(variance + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask.bool(), whitened, torch.zeros_like(whitened))


def last_set_index(mask: Tensor) -> Tensor:
    """Index of the last set position of each row of a [B, T] mask (every row needs one)."""
    if not mask.bool().any(dim=-1).all():
        raise ValueError("every row needs at least one real token (a set mask position)")
    positions = torch.arange(1, mask.shape[-1] + 1, device=mask.device)
    return (mask.bool() * positions).argmax(dim=-1)
