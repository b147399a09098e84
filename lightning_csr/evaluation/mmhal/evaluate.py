"""Judge MMHal-Bench responses and summarise: average score, hallucination rate, per question type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from lightning_csr.distributed import Ranks
from lightning_csr.evaluation.judge import JudgeClient, JudgeError
from lightning_csr.evaluation.mmhal.data import MMHalItem
from lightning_csr.evaluation.mmhal.prompt import build_judge_prompt, parse_rating
from lightning_csr.evaluation.mmhal.released_evaluator import ReleasedJudge

HALLUCINATION_BELOW = 3


def summarise_ratings(
    items: Sequence[MMHalItem], ratings: Sequence[int], hallucination_below: int = HALLUCINATION_BELOW
) -> dict[str, Any]:
    """Average score, share rated below 3 (hallucination rate) and averages per `question_type`."""
    by_type: dict[str, list[int]] = defaultdict(list)
    for item, rating in zip(items, ratings, strict=True):
        by_type[item.question_type].append(rating)
    count = len(ratings)
    return {
        "average_score": sum(ratings) / count if count else float("nan"),
        "hallucination_rate": sum(r < hallucination_below for r in ratings) / count
        if count
        else float("nan"),
        "per_type": {name: sum(values) / len(values) for name, values in sorted(by_type.items())},
        "n_rated": count,
    }


def evaluate_mmhal(
    items: Sequence[MMHalItem],
    judge: JudgeClient,
    answers: Mapping[int, str] | None = None,
    on_judge_error: Literal["raise", "zero"] = "raise",
    released: ReleasedJudge | None = None,
) -> dict[str, Any]:
    """Rate each answer (by item index, else the template's `model_answer`) with the judge and summarise.

    The prompt and rating rule are our own wording (`prompt.py`) unless `released` (read from MMHal-Bench's
    `eval_gpt4.py`) is given.

    Unparseable judge replies score 0 and are listed in `unparsed`; with `on_judge_error="zero"` a judge
    that keeps failing also scores 0 and is listed in `judge_failed`. Items without an answer are listed
    in `missing` and left out of the scores.
    """
    if on_judge_error not in ("raise", "zero"):
        raise ValueError(f"on_judge_error must be 'raise' or 'zero', got {on_judge_error!r}")
    responses = {item.index: (answers or {}).get(item.index, item.model_answer) for item in items}
    missing = [item.index for item in items if not responses[item.index].strip()]
    rated = [item for item in items if item.index not in missing]
    build, parse = (released.prompt, released.rating) if released else (build_judge_prompt, parse_rating)
    prompts = [build(item, responses[item.index]) for item in rated]
    # on several ranks (every rank holds all answers) only rank 0 calls the judge
    replies = Ranks().zero_computes(
        lambda: judge.complete_many(prompts, return_exceptions=on_judge_error == "zero")
    )
    ratings: list[int] = []
    per_item: list[dict[str, Any]] = []
    unparsed: list[int] = []
    failed: list[int] = []
    for item, reply in zip(rated, replies, strict=True):
        rating = None if isinstance(reply, JudgeError) else parse(reply)
        if isinstance(reply, JudgeError):
            failed.append(item.index)
        elif rating is None:
            unparsed.append(item.index)
        ratings.append(0 if rating is None else rating)
        per_item.append(
            {
                "index": item.index,
                "question_type": item.question_type,
                "rating": ratings[-1],
                "judge_reply": str(reply),
            }
        )
    below = released.hallucination_below if released else HALLUCINATION_BELOW
    result = summarise_ratings(rated, ratings, below)
    result.update({"unparsed": unparsed, "judge_failed": failed, "missing": missing, "per_item": per_item})
    return result
