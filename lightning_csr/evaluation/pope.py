"""POPE (Li et al. 2023): build, read and score yes/no object-existence question files."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path
from typing import Any

from lightning_csr.data.records import RecordError
from lightning_csr.evaluation.answers import parse_pope_released, parse_yes_no
from lightning_csr.evaluation.coco.annotations import CocoGroundTruth, sample_image_ids
from lightning_csr.evaluation.metrics import POPEMetric

POPE_SPLITS: tuple[str, ...] = ("random", "popular", "adversarial")
POPE_NUM_IMAGES = 500
POPE_PER_IMAGE = 3
POPE_TEMPLATE = "Is there a {object} in the image?"
POPE_KEYS: tuple[str, ...] = ("question_id", "image", "text", "label")
# answer parsers: "released" (POPE's scorer, what papers report; never unparsed) or "strict" (ours: unsure → None)
POPE_PARSERS: dict[str, Callable[[str], bool | None]] = {
    "released": parse_pope_released,
    "strict": parse_yes_no,
}


@dataclass(frozen=True)
class PopeQuestion:
    """One POPE question; `label` is True when the answer should be "yes"."""

    question_id: int | str
    image: str
    text: str
    label: bool
    split: str


def pope_question_text(name: str) -> str:
    """The question asked about one object."""
    return POPE_TEMPLATE.format(object=name)


def _negatives(
    present: set[str], split: str, rng: random.Random, count: int, ranking: Mapping[str, tuple[int, ...]]
) -> list[str]:
    """Absent objects for one image: uniform (random) or best-ranked first (popular/adversarial)."""
    absent = sorted(set(ranking) - present)
    if len(absent) < count:
        raise ValueError(f"only {len(absent)} absent objects to sample {count} negatives from")
    if split == "random":
        return rng.sample(absent, count)
    return sorted(absent, key=lambda name: (tuple(-value for value in ranking[name]), name))[:count]


def build_pope_questions(
    truth: CocoGroundTruth,
    split: str,
    num_images: int = POPE_NUM_IMAGES,
    per_image: int = POPE_PER_IMAGE,
    seed: int = 0,
) -> list[PopeQuestion]:
    """Questions for one split: per image `per_image` present objects and as many absent ones."""
    if split not in POPE_SPLITS:
        raise ValueError(f"unknown POPE split {split!r}; expected one of {POPE_SPLITS}")
    objects = truth.instance_objects or truth.objects
    eligible = [image for image, found in objects.items() if len(found) >= per_image]
    unnamed = [image for image in eligible if image not in truth.file_names]
    if unnamed:
        raise ValueError(f"images without a 'file_name' in the annotations (first: {unnamed[:5]})")
    images = sample_image_ids(eligible, num_images, seed)
    frequency = Counter(name for found in objects.values() for name in found)
    cooccurrence = Counter(pair for found in objects.values() for pair in permutations(sorted(found), 2))
    vocabulary = set(truth.categories) | set(frequency)
    questions: list[PopeQuestion] = []
    for image in images:
        present = objects[image]
        positives = random.Random(f"{seed}:{image}").sample(sorted(present), per_image)
        if split == "adversarial":
            ranking = {
                name: (sum(cooccurrence[(seen, name)] for seen in present), frequency[name])
                for name in vocabulary
            }
        else:
            ranking = {name: (frequency[name],) for name in vocabulary}
        negatives = _negatives(present, split, random.Random(f"{seed}:{split}:{image}"), per_image, ranking)
        for positive, negative in zip(positives, negatives, strict=True):
            for name, label in ((positive, True), (negative, False)):
                text = pope_question_text(name)
                questions.append(
                    PopeQuestion(len(questions) + 1, truth.file_names[image], text, label, split)
                )
    return questions


def write_pope_questions(questions: Sequence[PopeQuestion], path: str | Path) -> None:
    """Write questions as POPE JSONL (question_id, image, text, label yes/no)."""
    lines = [
        json.dumps({"question_id": q.question_id, "image": q.image, "text": q.text, "label": _yes(q.label)})
        for q in questions
    ]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _yes(label: bool) -> str:
    return "yes" if label else "no"


def read_pope_questions(path: str | Path, split: str | None = None) -> list[PopeQuestion]:
    """Read a POPE JSONL file; the split is taken from the file name unless given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"POPE question file not found: {path}")
    split = split or next((name for name in POPE_SPLITS if name in path.stem), None)
    if split is None:
        raise ValueError(f"{path}: cannot tell the POPE split from the file name; pass split=")
    questions: list[PopeQuestion] = []
    problems: list[str] = []  # every bad line, reported at once
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                questions.append(_parse_line(line, f"{path}:{number}", split))
            except ValueError as error:
                problems.append(str(error))
    if problems:
        more = f" | and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise RecordError(f"{path}: {len(problems)} bad line(s): {' | '.join(problems[:3])}{more}")
    return questions


def _parse_line(line: str, where: str, split: str) -> PopeQuestion:
    """Parse and check one JSONL line; errors name file:line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not valid JSON ({error.msg})") from error
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object")
    missing = [key for key in POPE_KEYS if key not in record]
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}")
    label = str(record["label"]).strip().lower()
    if label not in ("yes", "no"):
        raise ValueError(f"{where}: label must be 'yes' or 'no', got {record['label']!r}")
    return PopeQuestion(record["question_id"], record["image"], record["text"], label == "yes", split)


def evaluate_pope(
    questions: Sequence[PopeQuestion], answers: Mapping[Any, str], parser: str = "released"
) -> dict[str, Any]:
    """Accuracy/precision/recall/F1/yes-ratio per split ("yes" positive); unanswered ids are listed.

    `parser`: "released" (POPE's released rule, the default) or "strict" (`parse_yes_no`, unsure answers unparsed).
    """
    if parser not in POPE_PARSERS:
        raise ValueError(f"unknown POPE answer parser {parser!r}; expected one of {', '.join(POPE_PARSERS)}")
    parse = POPE_PARSERS[parser]
    ids = [q.question_id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError("question ids repeat (several split files?): evaluate one split file at a time")
    answered = [q for q in questions if q.question_id in answers]
    splits = tuple(name for name in POPE_SPLITS if any(q.split == name for q in questions))
    metric = POPEMetric(splits=splits or POPE_SPLITS)
    if answered:
        metric.update(
            [parse(answers[q.question_id]) for q in answered],
            [q.label for q in answered],
            [q.split for q in answered],
        )
    result: dict[str, Any] = {
        key: value.item() if hasattr(value, "item") else value for key, value in metric.compute().items()
    }
    result["n_questions"] = len(questions)
    result["missing_ids"] = [q.question_id for q in questions if q.question_id not in answers]
    return result
