"""AMBER's discriminative metrics: accuracy, precision, recall and F1 with "No" as the positive class.

The released scorer compares each response with exactly "Yes" or "No": a response that is neither is wrong
and is not a "No". `normalise_answer` with the default "first_word" reads the answer's first word (any case,
trailing punctuation dropped) so free-form replies ("Yes, there is a dog.") become "Yes"/"No"; "exact" keeps
the released comparison as it is. F1 is computed from the unrounded precision and recall (the released scorer
rounds them to 0.1% first and adds 0.0001 to the denominator: a difference below 0.1 point).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lightning_csr.evaluation.amber.data import AmberAnnotation

AMBER_PARSERS: tuple[str, ...] = ("first_word", "exact")
_FIRST_WORD = re.compile(r"[A-Za-z]+")
ATTRIBUTE_KINDS: dict[str, str] = {
    "discriminative-attribute-state": "state",
    "discriminative-attribute-number": "number",
    "discriminative-attribute-action": "action",
}


def normalise_answer(text: str, parser: str = "first_word") -> str:
    """ "Yes", "No", or the text itself (which then counts as neither)."""
    if parser == "exact":
        return text
    if parser != "first_word":
        raise ValueError(
            f"unknown AMBER answer parser {parser!r}; expected one of {', '.join(AMBER_PARSERS)}"
        )
    first = _FIRST_WORD.search(text)
    word = first.group(0).lower() if first else ""
    return {"yes": "Yes", "no": "No"}.get(word, text)


def _scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """accuracy, precision, recall, f1 ("No" positive), n and unparsed over (truth, answer) pairs."""
    n = len(pairs)
    correct = sum((truth, answer) in (("yes", "Yes"), ("no", "No")) for truth, answer in pairs)
    said_no = sum(answer == "No" for _, answer in pairs)
    truly_no = sum(truth == "no" for truth, _ in pairs)
    both = sum(pair == ("no", "No") for pair in pairs)
    precision = both / said_no if said_no else 0.0
    recall = both / truly_no if truly_no else 0.0
    return {
        "accuracy": correct / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "n": n,
        "unparsed": sum(answer not in ("Yes", "No") for _, answer in pairs) / n if n else 0.0,
    }


def groups(annotation: AmberAnnotation) -> Iterable[str]:
    """The result groups an item counts in: overall, its dimension, and the attribute kind."""
    yield "discriminative"
    yield annotation.dimension
    if annotation.type in ATTRIBUTE_KINDS:
        yield ATTRIBUTE_KINDS[annotation.type]


def score_discriminative(
    answers: Mapping[int, str], annotations: Mapping[int, AmberAnnotation], parser: str = "first_word"
) -> dict[str, Any]:
    """{group/metric: value} for the answered discriminative items by query id, and the per-item rows."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    rows = []
    for query_id, text in answers.items():
        annotation = annotations[query_id]
        answer = normalise_answer(text, parser)
        for group in groups(annotation):
            grouped.setdefault(group, []).append((str(annotation.truth), answer))
        rows.append({"id": query_id, "type": annotation.type, "truth": annotation.truth, "answer": text})
    metrics = {
        f"{group}/{key}": value for group, pairs in grouped.items() for key, value in _scores(pairs).items()
    }
    return {"metrics": metrics, "rows": rows}
