"""Correct answers to inject hallucinations into, and the POVID preference pairs made from them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lightning_csr.data.injection.base import HallucinationInjector, InjectionError, InjectionRequest
from lightning_csr.data.records import PreferenceRecord

ANSWER_FIELDS = ("response", "answer", "chosen")


@dataclass
class AnswerRecord:
    """A correct answer to inject into: id, image (relative to the data root), prompt, answer, objects present."""

    id: str
    image: str
    prompt: str
    answer: str
    present: list[str] = field(default_factory=list)


def read_answers(path: str | Path) -> list[AnswerRecord]:
    """JSONL {id, image, prompt, response|answer|chosen, objects?}; errors name the file and line."""
    path = Path(path)
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line)
        answer = next((obj[k] for k in ANSWER_FIELDS if isinstance(obj.get(k), str)), None)
        missing = [k for k in ("id", "image", "prompt") if not isinstance(obj.get(k), str)]
        if answer is None or missing:
            raise ValueError(f"{path}:{lineno}: needs id, image, prompt and one of {ANSWER_FIELDS}")
        present = obj.get("objects") or obj.get("present") or []
        records.append(AnswerRecord(str(obj["id"]), obj["image"], obj["prompt"], answer, list(present)))
    return records


def inject_pairs(
    answers: Sequence[AnswerRecord], injector: HallucinationInjector, name: str
) -> tuple[list[PreferenceRecord], list[str]]:
    """Preference records (chosen = answer, rejected = injected) and the ids no injection could be made for."""
    requests = [InjectionRequest(a.answer, a.id, a.prompt, frozenset(a.present)) for a in answers]
    pairs, failed = [], []
    for answer, result in zip(answers, injector.inject_many(requests), strict=True):
        if isinstance(result, InjectionError):
            failed.append(answer.id)
            continue
        meta = {"source": "povid-inject", "injector": name, "edits": [asdict(e) for e in result.edits]}
        pairs.append(
            PreferenceRecord(answer.id, answer.image, answer.prompt, answer.answer, result.text, meta)
        )
    return pairs, failed
