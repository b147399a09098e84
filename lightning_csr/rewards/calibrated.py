"""Calibrated reward R = lam * R_I + (1 - lam) * R_T and the two path-scoring schemes (paper and released code).

- `paper`: every sentence gets R = lam * R_I + (1 - lam) * R_T; a path scores the sum over its sentences;
  higher is better.
- `code` (YiyangZhou/CSR `score.py` + `construct.py`): within each sibling group (children of one parent) R_T and
  R_I become ranks, best 1/m ... worst 1; a path of k sentences scores
  sum(lam * rank_I + (1 - lam) * rank_T) / (k + 1); lower is better.

Sentences that are only the end-of-turn token carry no text: they are not scored and do not count in k.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from lightning_csr.rewards.self_reward import MODES, SentenceScoreMode, sentence_logprob


@dataclass
class RewardSettings:
    """How sentences and answers are scored, and what the search prunes on.

    Args:
        mode: `paper` (sum of calibrated rewards, higher is better) or `code` (mean sibling rank, lower is better).
        lam: weight of the image relevance R_I (the paper's lambda; 0.9 in both paper and code).
        rt_mode: how token log-probs become R_T (`prod` is the paper's product of probabilities).
        guide: what the search prunes on: `calibrated` (paper: cumulative calibrated reward) or `lm`
            (released code: cumulative R_T only; CLIP is computed afterwards).
        aggregate: paper mode only: an answer scores the `sum` of its sentence rewards (the paper) or their
            `mean` (length-neutral: a sum of non-negative R_I favours longer answers, hallucinated or not).
        image_baseline: paper mode only: `none` (the paper) or `tree_mean`: R_I minus the mean R_I of all
            sentences of the prompt's tree, so a sentence less relevant than its alternatives lowers a sum
            instead of raising it (rewards coverage and penalises hallucination at once).
    """

    mode: Literal["paper", "code"] = "paper"
    lam: float = 0.9
    rt_mode: SentenceScoreMode = "prod"
    guide: Literal["calibrated", "lm"] = "calibrated"
    aggregate: Literal["sum", "mean"] = "sum"
    image_baseline: Literal["none", "tree_mean"] = "none"

    def __post_init__(self) -> None:
        if self.image_baseline not in ("none", "tree_mean"):
            raise ValueError(f"image_baseline must be 'none' or 'tree_mean', got {self.image_baseline!r}")
        if self.aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' or 'mean', got {self.aggregate!r}")
        if self.mode not in ("paper", "code"):
            raise ValueError(f"reward mode must be 'paper' or 'code', got {self.mode!r}")
        if self.guide not in ("calibrated", "lm"):
            raise ValueError(f"guide must be 'calibrated' or 'lm', got {self.guide!r}")
        if self.rt_mode not in MODES:
            raise ValueError(f"rt_mode must be one of {MODES}, got {self.rt_mode!r}")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")

    @classmethod
    def code(cls, **overrides) -> RewardSettings:
        """The released code: sibling ranks, LM-only pruning, length-normalised R_T."""
        return cls(**({"mode": "code", "rt_mode": "mean_logp", "guide": "lm"} | overrides))

    @classmethod
    def paper(cls, **overrides) -> RewardSettings:
        return cls(**overrides)

    @property
    def higher_is_better(self) -> bool:
        return self.mode == "paper"


@dataclass
class SentenceScore:
    """Every score of one sentence (ranks only in code mode)."""

    r_text: float
    r_image: float
    reward: float
    rank_text: float | None = None
    rank_image: float | None = None


def calibrated_reward(r_image, r_text, lam: float = 0.9):
    """lam * R_I + (1 - lam) * R_T (floats or tensors)."""
    return lam * r_image + (1.0 - lam) * r_text


def sibling_ranks(values: Sequence[float]) -> list[float]:
    """Normalised ranks among siblings, as in the released code: highest value 1/m, ..., lowest 1; ties by order."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    for position, index in enumerate(order):
        ranks[index] = (position + 1) / len(values)
    return ranks


def score_sentences(
    nodes: Iterable, r_image: Mapping[int, float], config: RewardSettings
) -> dict[int, SentenceScore]:
    """Scores of every sentence with text, keyed by node id; `r_image` maps node id to R_I."""
    scores: dict[int, SentenceScore] = {}
    siblings: dict[int, list] = defaultdict(list)
    nodes = [node for node in nodes if node.parent is not None and node.has_content]
    baseline = 0.0
    if config.image_baseline == "tree_mean" and nodes:
        baseline = sum(float(r_image[node.id]) for node in nodes) / len(nodes)
    for node in nodes:
        r_text = sentence_logprob(node.token_logps, config.rt_mode)
        r_img = float(r_image[node.id]) - baseline
        scores[node.id] = SentenceScore(r_text, r_img, calibrated_reward(r_img, r_text, config.lam))
        siblings[node.parent.id].append(node.id)
    if config.mode == "code":
        for group in siblings.values():
            text_ranks = sibling_ranks([scores[i].r_text for i in group])
            image_ranks = sibling_ranks([scores[i].r_image for i in group])
            for i, rank_t, rank_i in zip(group, text_ranks, image_ranks, strict=True):
                scores[i].rank_text, scores[i].rank_image = rank_t, rank_i
    return scores


def path_score(sentences: Sequence[SentenceScore], config: RewardSettings) -> float:
    """Score of a complete answer from its sentences' scores (see the module docstring for the two modes)."""
    if config.mode == "paper":
        total = sum(s.reward for s in sentences)
        return float(total / len(sentences) if config.aggregate == "mean" else total)
    total = sum(config.lam * s.rank_image + (1.0 - config.lam) * s.rank_text for s in sentences)
    return float(total / (len(sentences) + 1))
