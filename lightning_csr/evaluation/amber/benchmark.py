"""`lightning-csr evaluate --benchmark amber`: AMBER's queries answered by the model and scored offline."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_csr.evaluation.amber.data import AmberData, AmberQuery, load_amber
from lightning_csr.evaluation.amber.discriminative import score_discriminative
from lightning_csr.evaluation.amber.generative import score_description, summarise_generative
from lightning_csr.evaluation.cached_generation import CachedGenerator, Request

if TYPE_CHECKING:
    from lightning_csr.evaluation.benchmarks import BenchmarkOptions

MATCHER_NOTE = (
    "AMBER generative metrics use our noun matcher (rule-based lemmas, no POS tagger, exact and associated "
    "words only; the released scorer uses NLTK and spaCy word vectors): close to, not identical with, papers"
)


def select_queries(data: AmberData, count: int | None, seed: int) -> list[AmberQuery]:
    """All queries, or a seeded sample of `count` generative and `count` discriminative ones, in id order."""
    if count is None:
        return data.queries
    chosen: list[AmberQuery] = []
    for generative in (True, False):
        pool = [q for q in data.queries if data.annotations[q.id].generative is generative]
        chosen += random.Random(seed).sample(pool, min(count, len(pool)))
    return sorted(chosen, key=lambda q: q.id)


def run_amber(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """CHAIR, Cover, Hal, Cog and accuracy/precision/recall/F1 per dimension ("No" positive), as fractions."""
    data_dir, images_dir = options.require("amber_dir", "images_dir")
    data = load_amber(data_dir, options.amber_split)
    queries = select_queries(data, options.num_items, options.seed)
    present = [q for q in queries if (Path(images_dir) / q.image).is_file()]
    is_generative = {q.id: data.annotations[q.id].generative for q in present}
    requests = [
        Request(
            f"amber:{q.id}",
            q.query,
            Path(images_dir) / q.image,
            options.budget if is_generative[q.id] else options.answer_tokens,
        )
        for q in present
    ]
    answers = generate(requests, "AMBER")
    by_id = {q.id: answers[f"amber:{q.id}"] for q in present}
    described = {
        i: {"description": text}
        | score_description(text, data.annotations[i], data.associations, data.safe_words)
        for i, text in by_id.items()
        if is_generative[i]
    }
    discriminative = score_discriminative(
        {i: text for i, text in by_id.items() if not is_generative[i]}, data.annotations, options.amber_parser
    )
    metrics: dict[str, Any] = {}
    notes: list[str] = []
    if described:
        metrics.update({f"amber/{k}": v for k, v in summarise_generative(list(described.values())).items()})
        notes.append(MATCHER_NOTE)
    metrics.update({f"amber/{k}": v for k, v in discriminative["metrics"].items()})
    return {
        "metrics": metrics,
        "details": {"generative": described, "discriminative": discriminative["rows"]},
        "skipped": [f"query {q.id}: no image {q.image} in {images_dir}" for q in queries if q not in present],
        "notes": notes,
    }
