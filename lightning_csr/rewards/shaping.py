"""The sequence-level reward of PPO: the reward model's score plus LLaVA-RLHF's optional shaping terms.

Every term is named and logged separately (llava_rlhf.md §5.3). All are off or neutral by default:

- `reward_scale`, `reward_bias`, `reward_clip`: score ← clip((rm_score − bias)·scale). LLaVA-RLHF silently
  multiplies by 10 when it does not whiten rewards; here the scale is explicit.
- `whiten_scores`: normalise the scores of each rollout batch to zero mean, unit variance.
- `no_eos_penalty` (≥ 0): subtracted from responses that never produced end-of-turn (hit `max_new_tokens`).
- `correctness_bonus` (≥ 0): for prompts with a gold short answer (`kind` yes_no or multiple_choice),
  +bonus when the parsed answer matches, −bonus when it contradicts, 0 when it cannot be parsed.
- `length_bonus`: added once per response token; positive favours longer answers, negative shorter ones
  (the released code's sign depended on per-example multipliers; here it is one documented number).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lightning_csr.evaluation.answers import parse_yes_no

ANSWER_KINDS = ("yes_no", "multiple_choice")
_OPTION = re.compile(r"\b([A-H])\b")


@dataclass
class RewardShaping:
    """Scaling of the reward-model score and the optional shaping terms (see the module docstring)."""

    reward_scale: float = 1.0
    reward_bias: float = 0.0
    reward_clip: float | None = None
    whiten_scores: bool = False
    no_eos_penalty: float = 0.0
    correctness_bonus: float = 0.0
    length_bonus: float = 0.0

    def __post_init__(self) -> None:
        if self.no_eos_penalty < 0 or self.correctness_bonus < 0:
            raise ValueError("no_eos_penalty and correctness_bonus are magnitudes: give values >= 0")
        if self.reward_clip is not None and self.reward_clip <= 0:
            raise ValueError(f"reward_clip must be positive, got {self.reward_clip}")


def answer_correctness(text: str, gold: str | None, kind: str) -> int:
    """+1 when a short answer matches the gold one, −1 when it contradicts it, 0 when unknown."""
    if gold is None or kind not in ANSWER_KINDS:
        return 0
    if kind == "yes_no":
        said, truth = parse_yes_no(text), parse_yes_no(gold)
    else:
        found = _OPTION.search(text)
        said, truth = (found.group(1) if found else None), gold.strip().upper()[:1]
    if said is None or truth is None:
        return 0
    return 1 if said == truth else -1


def sequence_scores(
    rm_scores: torch.Tensor,
    ended: torch.Tensor,
    lengths: torch.Tensor,
    correctness: torch.Tensor,
    shaping: RewardShaping,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The per-response score PPO adds at the last token, and each term for logging."""
    score = (rm_scores - shaping.reward_bias) * shaping.reward_scale
    if shaping.whiten_scores and score.numel() > 1:
        score = (score - score.mean()) / score.std().clamp(min=1e-8)
    if shaping.reward_clip is not None:
        score = score.clamp(-shaping.reward_clip, shaping.reward_clip)
    terms = {
        "rm_score": rm_scores,
        "no_eos_penalty": -shaping.no_eos_penalty * (~ended.bool()).to(score.dtype),
        "correctness_bonus": shaping.correctness_bonus * correctness.to(score.dtype),
        "length_term": shaping.length_bonus * lengths.to(score.dtype),
    }
    total = score + terms["no_eos_penalty"] + terms["correctness_bonus"] + terms["length_term"]
    return total, terms


def batch_correctness(
    answers: Sequence[str], golds: Sequence[str | None], kinds: Sequence[str]
) -> torch.Tensor:
    """`answer_correctness` for a batch → [B] in {−1, 0, 1}."""
    return torch.tensor([answer_correctness(a, g, k) for a, g, k in zip(answers, golds, kinds, strict=True)])
