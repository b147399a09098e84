"""R_T, the policy's own score of a sentence, from raw token log-probs (never from processed beam scores)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

SentenceScoreMode = Literal["prod", "sum_logp", "mean_logp"]
MODES = ("prod", "sum_logp", "mean_logp")


def sentence_logprob(
    token_logps: Sequence[float] | torch.Tensor, mode: SentenceScoreMode = "sum_logp"
) -> float:
    """A sentence's self-reward from its tokens' log-probs.

    `prod`: product of token probabilities (the paper's R_T, in [0, 1]); `sum_logp`: its log; `mean_logp`:
    the per-token mean (length-normalised, like the released code's beam score minus its diversity penalty).
    An empty sentence scores prod 1, sum 0, mean 0.
    """
    if mode not in MODES:
        raise ValueError(f"unknown sentence score mode {mode!r}; expected one of {MODES}")
    values = token_logps.tolist() if isinstance(token_logps, torch.Tensor) else list(token_logps)
    total = math.fsum(float(v) for v in values)
    if mode == "prod":
        return math.exp(total)
    if mode == "sum_logp":
        return total
    return total / len(values) if values else 0.0
