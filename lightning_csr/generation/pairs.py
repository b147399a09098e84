"""Pair curation (CSR steps 2-3): score every complete answer of a tree, chosen = best, rejected = worst."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from PIL import Image

from lightning_csr.data.records import PreferenceRecord, tokenizer_fingerprint
from lightning_csr.generation.search import ImageScorer, sentence_text
from lightning_csr.generation.tree import SearchTree, SentenceNode
from lightning_csr.rewards.calibrated import RewardSettings, SentenceScore, path_score, score_sentences

DROP_REASONS = ("no_complete_answer", "identical", "zero_margin")


@runtime_checkable
class AnswerRanker(Protocol):
    """Scores a prompt's complete answers in place of the calibrated reward (higher is better), e.g. an oracle
    that knows the truth; `identity()` is what decides its scores (kept in the pairs' provenance)."""

    def __call__(self, record_id: str, answers: Sequence[str]) -> Sequence[float]: ...

    def identity(self) -> dict[str, Any]: ...


@dataclass
class Curation:
    """Pairs kept, and the ids dropped per reason (`no_complete_answer`, `identical`, `zero_margin`)."""

    records: list[PreferenceRecord]
    dropped: dict[str, list[str]] = field(default_factory=lambda: {r: [] for r in DROP_REASONS})

    def counts(self) -> dict[str, int]:
        return {"kept": len(self.records)} | {reason: len(ids) for reason, ids in self.dropped.items()}


def image_relevance(
    tree: SearchTree,
    tokenizer,
    image_scorer: ImageScorer | None,
    image: Image.Image | None = None,
    image_embedding: torch.Tensor | None = None,
) -> dict[int, float]:
    """R_I of every sentence with text, keyed by node id: values set during the search are reused, the rest are
    scored in one batch. Without a scorer every R_I is 0 (only meaningful with lam = 0)."""
    nodes = [n for n in tree.nodes[1:] if n.has_content]
    missing = [n for n in nodes if n.r_image is None]
    if missing and image_scorer is not None:
        if image_embedding is None:
            image_embedding = image_scorer.embed_images([image])[0]
        texts = [sentence_text(tokenizer, n) for n in missing]
        for node, value in zip(missing, image_scorer.relevance(image_embedding, texts).tolist(), strict=True):
            node.r_image = float(value)
    return {n.id: (n.r_image if n.r_image is not None else 0.0) for n in nodes}


def _sentences(path: list[SentenceNode], scores: dict[int, SentenceScore], tokenizer) -> list[dict[str, Any]]:
    rows = []
    for node in path:
        row = {"text": sentence_text(tokenizer, node), "ids": node.token_ids, "logprob": node.logprob}
        row["finish_reason"] = node.finish_reason
        if node.id in scores:
            row |= asdict(scores[node.id])
        rows.append(row)
    return rows


def _sentence_count(last: SentenceNode) -> int:
    return sum(1 for node in last.path() if node.has_content)


def curate_pairs(
    trees: Sequence[SearchTree],
    tokenizer,
    images: Sequence[Image.Image | None],
    image_refs: Sequence[str],
    ids: Sequence[str],
    reward: RewardSettings,
    image_scorer: ImageScorer | None = None,
    min_margin: float = 0.0,
    match_length: bool = False,
    ranker: AnswerRanker | None = None,
) -> Curation:
    """One preference pair per tree; `images` feed the scorer, `image_refs` go into the records unchanged.

    With a `ranker`, the complete answers are ranked by its scores instead of their calibrated path scores (the
    search itself is unchanged); the records keep both.

    With `match_length`, the rejected answer is the worst among the answers whose sentence count is closest to
    the chosen one's, so pairs do not teach a length preference (iterative DPO otherwise drifts into short,
    "safe" answers that name fewer objects).
    """
    if image_scorer is None and reward.lam > 0 and ranker is None:
        raise ValueError(f"lam={reward.lam} needs an image_scorer for R_I")
    curation = Curation(records=[])
    fingerprint = tokenizer_fingerprint(tokenizer)  # the stored ids are valid only for this tokenizer
    for tree, image, image_ref, record_id in zip(trees, images, image_refs, ids, strict=True):
        r_image = image_relevance(tree, tokenizer, image_scorer, image)
        scores = score_sentences(tree.nodes, r_image, reward)
        answers = []
        for last in tree.complete_answers():
            path = [n for n in last.path() if n.has_content]
            text = tokenizer.decode(last.answer_ids(), skip_special_tokens=True).strip()
            if path and text:  # an answer without text (only end-of-turn, whitespace) is not a candidate
                answers.append((path_score([scores[n.id] for n in path], reward), last, text))
        if not answers:
            curation.dropped["no_complete_answer"].append(record_id)
            continue
        sign = 1.0 if reward.higher_is_better else -1.0
        calibrated = [answer[0] for answer in answers]
        if ranker is not None:
            ranks = ranker(record_id, [answer[2] for answer in answers])
            answers = [
                (float(rank), last, text) for rank, (_, last, text) in zip(ranks, answers, strict=True)
            ]
            sign = 1.0
        ranked = sorted(answers, key=lambda a: -sign * a[0])  # stable: ties keep creation order
        best, worst = ranked[0], ranked[-1]
        if match_length and len(ranked) > 1:
            gaps = [abs(_sentence_count(a[1]) - _sentence_count(best[1])) for a in ranked[1:]]
            worst = [a for a, gap in zip(ranked[1:], gaps, strict=True) if gap == min(gaps)][-1]
        chosen_ids, rejected_ids = best[1].answer_ids(), worst[1].answer_ids()
        chosen, rejected = best[2], worst[2]
        margin = abs(best[0] - worst[0])
        if chosen_ids == rejected_ids or chosen == rejected:
            curation.dropped["identical"].append(record_id)
            continue
        if margin <= min_margin:
            curation.dropped["zero_margin"].append(record_id)
            continue
        meta = {
            "question": tree.prompt,
            "reward": asdict(reward),
            "chosen_ids": chosen_ids,
            "rejected_ids": rejected_ids,
            "tokenizer_fingerprint": fingerprint,
            "chosen_score": best[0],
            "rejected_score": worst[0],
            "margin": margin,
            "chosen_sentences": _sentences(best[1].path(), scores, tokenizer),
            "rejected_sentences": _sentences(worst[1].path(), scores, tokenizer),
            "answer_scores": calibrated,
            "ranked_by": "reward" if ranker is None else type(ranker).__name__,
            "tree": tree.summary(),
        }
        curation.records.append(PreferenceRecord(record_id, image_ref, tree.prompt, chosen, rejected, meta))
    return curation
