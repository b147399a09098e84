"""Choosing the next token of every candidate row: seeded sampling or Hamming-diverse groups."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def prompt_seed(seed: int, key: object) -> int:
    """A stable 63-bit seed from the run seed and a prompt key (independent of batch composition)."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probability reaches `top_p` (at least one); others -> -inf."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = (
        cumulative - sorted_logits.softmax(dim=-1)
    ) >= top_p  # mass before this token already enough
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sample_tokens(
    logits: torch.Tensor,
    active: torch.Tensor,
    row_prompt: torch.Tensor,
    generators: Sequence[torch.Generator],
    temperature: float,
    top_p: float,
    fill: int,
) -> torch.Tensor:
    """Sample for the active rows; each prompt draws from its own generator, its rows in order."""
    tokens = torch.full((logits.shape[0],), fill, dtype=torch.long, device=logits.device)
    idx = active.nonzero().flatten()
    if idx.numel() == 0:
        return tokens
    probs = top_p_filter(logits[idx] / temperature, top_p).softmax(dim=-1)
    prompts = row_prompt[idx]
    for p in prompts.unique().tolist():
        rows = (prompts == p).nonzero().flatten()
        tokens[idx[rows]] = torch.multinomial(probs[rows], 1, generator=generators[p]).flatten()
    return tokens


def diverse_group_tokens(
    logits: torch.Tensor, active: torch.Tensor, groups: int, penalty: float, fill: int
) -> torch.Tensor:
    """Diverse beam search with `groups` groups x 1 beam over rows laid out [families, groups].

    Group g takes the argmax of log-softmax(logits) minus `penalty` times the number of earlier groups of the
    same family that chose that token at this step (Hamming diversity). Deterministic.
    """
    rows, vocab = logits.shape
    families = rows // groups
    logps = logits.float().log_softmax(dim=-1).view(families, groups, vocab)
    live = active.view(families, groups)
    counts = torch.zeros(families, vocab, device=logits.device)
    chosen = torch.full((families, groups), fill, dtype=torch.long, device=logits.device)
    for g in range(groups):
        pick = (logps[:, g] - penalty * counts).argmax(dim=-1)
        pick = torch.where(live[:, g], pick, torch.full_like(pick, fill))
        chosen[:, g] = pick
        counts.scatter_add_(1, pick[:, None], live[:, g : g + 1].float())
    return chosen.view(rows)
