"""A judge-free MMHal-Bench stand-in on ShapeWorld: questions in the categories the world supports, scored
against ground truth instead of by a GPT-4 judge.

Categories (MMHal-Bench names): `attribute` (colour or size of a shape that occurs once), `counting` (how many
of a shape), `relation` (is A left of / above B, yes or no), `adversarial` (is there <absent shape that
co-occurs most with the present ones>; the answer is no). Each answer gets an MMHal-style rating:

    5  correct, no hallucinated object          (informative, no hallucination)
    3  no answer parsed, no hallucinated object  (not informative, no hallucination)
    1  wrong, or mentions an object not in the scene (hallucination)

`mmhal/average_score` is the mean rating (0–6 scale as MMHal's, only 1/3/5 used) and
`mmhal/hallucination_rate` the share of ratings below 3, as in MMHal-Bench. The runner's `shapeworld`
benchmark (`lightning-csr evaluate --benchmark shapeworld`) asks these questions beside CHAIR and POPE.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from lightning_csr.evaluation.answers import parse_yes_no
from lightning_csr.shapeworld import (
    Scene,
    WorldSettings,
    attribute_questions,
    mentioned_shapes,
    parse_attribute,
)
from lightning_csr.shapeworld.world.tasks import co_occurrence_counts

CATEGORIES = ("attribute", "counting", "relation", "adversarial")
NUMBERS = {
    "no": 0,
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_NUMBER = re.compile(r"\b(\d+|" + "|".join(NUMBERS) + r")\b")


def parse_count(text: str) -> int | None:
    """The first number an answer gives (digits or words), else None."""
    found = _NUMBER.search(text.lower())
    if found is None:
        return None
    word = found.group(1)
    return int(word) if word.isdigit() else NUMBERS[word]


def scene_questions(scene: Scene, world: WorldSettings, rng: random.Random, pairs: Counter) -> list[dict]:
    """At most one question per category for a scene."""
    questions = []
    attributes = attribute_questions(scene, rng)
    if attributes:
        q = rng.choice(attributes)
        questions.append({**q, "category": "attribute"})
    shape = rng.choice(sorted(scene.shapes))
    count = sum(o.shape == shape for o in scene.objects)
    questions.append({"question": f"How many {shape}s are there?", "answer": count, "category": "counting"})
    unique = [o for o in scene.objects if sum(p.shape == o.shape for p in scene.objects) == 1]
    if len(unique) >= 2:
        a, b = rng.sample(unique, 2)
        if rng.random() < 0.5:
            text, truth = f"Is the {a.shape} to the left of the {b.shape}?", a.cell[1] < b.cell[1]
        else:
            text, truth = f"Is the {a.shape} above the {b.shape}?", a.cell[0] < b.cell[0]
        questions.append(
            {"question": text, "answer": "yes" if truth else "no", "category": "relation", "object": a.shape}
        )
    absent = [s for s in world.shapes if s not in scene.shapes]
    if absent:
        lure = max(absent, key=lambda s: (sum(pairs[(p, s)] for p in scene.shapes), -world.shapes.index(s)))
        questions.append(
            {
                "question": f"Is there a {lure} in the image?",
                "answer": "no",
                "category": "adversarial",
                "object": lure,
            }
        )
    return [{**q, "scene_id": scene.id} for q in questions]


def mmhal_questions(scenes: Sequence[Scene], world: WorldSettings, seed: int = 0) -> list[dict]:
    """The stand-in benchmark's questions over these scenes (deterministic in the seed)."""
    rng = random.Random(f"mmhal:{seed}")
    pairs = co_occurrence_counts(scenes)
    return [q for scene in scenes for q in scene_questions(scene, world, rng, pairs)]


def rate_answer(question: dict, reply: str, scene: Scene, world: WorldSettings) -> dict[str, Any]:
    """Correctness, hallucination and the MMHal-style rating of one reply."""
    category = question["category"]
    if category == "attribute":
        parsed = parse_attribute(reply, question["attribute"], world)
    elif category == "counting":
        parsed = parse_count(reply)
    else:
        said = parse_yes_no(reply)
        parsed = None if said is None else ("yes" if said else "no")
    correct = parsed is not None and parsed == question["answer"]
    asked = question.get("object")
    invented = mentioned_shapes(reply, world) - scene.shapes - ({asked} if parsed == "no" else set())
    hallucinated = bool(invented) or (parsed is not None and not correct)
    rating = 1 if hallucinated else (5 if correct else 3)
    return {"parsed": parsed, "correct": correct, "hallucinated": hallucinated, "rating": rating}


def score_mmhal(rated: Sequence[dict]) -> dict[str, float]:
    """Mean rating, hallucination rate and accuracy, overall and per category."""
    metrics: dict[str, float] = {}
    for name, rows in [("mmhal", rated)] + [
        (f"mmhal/{c}", [r for r in rated if r["category"] == c]) for c in CATEGORIES
    ]:
        if not rows:
            continue
        metrics[f"{name}/average_score"] = sum(r["rating"] for r in rows) / len(rows)
        metrics[f"{name}/hallucination_rate"] = sum(r["rating"] < 3 for r in rows) / len(rows)
        metrics[f"{name}/accuracy"] = sum(r["correct"] for r in rows) / len(rows)
    return metrics


def rate_replies(
    questions: Sequence[dict], replies: Sequence[str], scenes: Sequence[Scene], world: WorldSettings
) -> list[dict[str, Any]]:
    """Each question with its reply and `rate_answer`'s verdict against its scene."""
    by_id = {scene.id: scene for scene in scenes}
    return [
        {**q, "reply": reply, **rate_answer(q, reply, by_id[q["scene_id"]], world)}
        for q, reply in zip(questions, replies, strict=True)
    ]
