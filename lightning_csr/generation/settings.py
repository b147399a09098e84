"""Settings of the sentence-level search (candidates, sentence ends, caps, pruning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class SearchSettings:
    """How the sentence-level search writes, ends and prunes candidate sentences.

    Args:
        strategy: `sample` (seeded temperature/top-p sampling) or `diverse_beam` (groups x 1 beam, Hamming
            diversity penalty; deterministic, the released CSR code's choice).
        num_candidates: children generated per expanded node (diverse beam: the number of groups).
        temperature: sampling temperature (`sample` only).
        top_p: nucleus mass kept when sampling (`sample` only).
        diversity_penalty: subtracted from a token's log-prob once per earlier group that chose it at the same step.
        seed: base seed; each prompt gets its own generator seeded from (seed, its key).
        stop_strings: a sentence ends on any token whose decoded text ends with one of these.
        max_sentence_tokens: a sentence is cut after this many tokens (the answer goes on).
        max_sentences: an answer is complete after this many sentences.
        max_new_tokens: an answer is complete after this many tokens in total.
        keep_top: best children kept per depth (pooled over all expanded nodes of a prompt).
        keep_bottom: worst children kept per depth.
        prune_min_pool: prune only when at least this many unfinished children are pooled; else keep all.
        use_cache: reuse each kept prefix's KV cache (False re-encodes the whole sequence every token: a slow
            reference used by tests).
    """

    strategy: Literal["sample", "diverse_beam"] = "sample"
    num_candidates: int = 5
    temperature: float = 1.0
    top_p: float = 1.0
    diversity_penalty: float = 3.0
    seed: int = 0
    stop_strings: tuple[str, ...] = field(default_factory=lambda: (".", "?", "!", "\n"))
    max_sentence_tokens: int = 70
    max_sentences: int = 12
    max_new_tokens: int = 256
    keep_top: int = 2
    keep_bottom: int = 2
    prune_min_pool: int = 5
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.strategy not in ("sample", "diverse_beam"):
            raise ValueError(f"strategy must be 'sample' or 'diverse_beam', got {self.strategy!r}")
        if self.num_candidates < 1:
            raise ValueError("num_candidates must be >= 1")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0 (use strategy='diverse_beam' for deterministic search)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if min(self.max_sentence_tokens, self.max_sentences, self.max_new_tokens) < 1:
            raise ValueError("max_sentence_tokens, max_sentences and max_new_tokens must be >= 1")
        if self.keep_top < 0 or self.keep_bottom < 0 or self.keep_top + self.keep_bottom < 1:
            raise ValueError("keep_top + keep_bottom must be >= 1")
        self.stop_strings = tuple(self.stop_strings)

    @classmethod
    def code(cls, **overrides) -> SearchSettings:
        """The released CSR code: 5 diverse beams (penalty 3.0), best 1 + worst 2 of >= 5 pooled children."""
        values = dict(
            strategy="diverse_beam", num_candidates=5, diversity_penalty=3.0, keep_top=1, keep_bottom=2
        )
        return cls(**(values | overrides))

    @classmethod
    def paper(cls, **overrides) -> SearchSettings:
        """The paper's description: sampled candidates, top-k and bottom-k kept by calibrated reward."""
        values = dict(strategy="sample", num_candidates=5, keep_top=2, keep_bottom=2)
        return cls(**(values | overrides))
