"""RuleBasedInjector on ShapeWorld: exactly `num_edits` facts change, never the original, plausible objects."""

from __future__ import annotations

import random
import re

import pytest

from lightning_csr.data.injection import InjectionError, InjectionVocabulary, RuleBasedInjector
from lightning_csr.shapeworld import WorldSettings, describe, generate_scenes
from lightning_csr.shapeworld.povid import world_vocabulary
from lightning_csr.shapeworld.world.tasks import _POSITIONS

WORLD = WorldSettings()
SCENES = generate_scenes(WORLD, 60, seed=0, split="train")
POSITIONS = sorted((p for row in _POSITIONS for p in row), key=len, reverse=True)
RELATIVE = {"below it": "below", "to its right": "right", "to the right of it": "right", "above it": "above",
            "to its left": "left", "to the left of it": "left"}  # fmt: skip


def facts(text: str) -> list[tuple[str, ...]]:
    """(size, colour, shape, where) per sentence of a ShapeWorld description."""
    rows = []
    for sentence in re.split(r"(?<=\.)\s+", text.strip()):
        lower = sentence.lower()
        size, colour, shape = re.search(r"\b(small|large) (\w+) (\w+)\b", lower).groups()
        where = next((p for p in POSITIONS if p in lower), None)
        where = where or next(RELATIVE[p] for p in sorted(RELATIVE, key=len, reverse=True) if p in lower)
        rows.append((size, colour, shape, where))
    return rows


def changed_facts(before: str, after: str) -> int:
    old, new = facts(before), facts(after)
    assert len(old) == len(new)
    return sum(
        a != b
        for row_old, row_new in zip(old, new, strict=True)
        for a, b in zip(row_old, row_new, strict=True)
    )


@pytest.mark.parametrize("num_edits", [1, 2, 3])
def test_exactly_num_edits_facts_change(num_edits):
    injector = RuleBasedInjector(world_vocabulary(WORLD, SCENES), num_edits=num_edits)
    rng, done = random.Random(0), 0
    for scene in SCENES:
        answer = describe(scene, rng, WORLD)
        try:
            result = injector.inject(answer, key=scene.id, present=scene.shapes)
        except InjectionError:
            assert len(scene.objects) * 4 < num_edits + 1 or num_edits > len(injector.mentions(answer))
            continue
        done += 1
        assert result.text != answer and len(result.edits) == num_edits
        assert changed_facts(answer, result.text) == num_edits
        for edit in result.edits:
            if edit.kind == "object":
                assert edit.after not in scene.shapes  # a hallucinated object is truly absent
        assert injector.inject(answer, key=scene.id, present=scene.shapes).text == result.text
    assert done >= len(SCENES) - 2


def test_object_edit_uses_the_most_co_occurring_absent_shape():
    injector = RuleBasedInjector(world_vocabulary(WORLD), num_edits=1, kinds=["object"])
    result = injector.inject("There is a large yellow star in the center.", present={"star"})
    assert result.text == "There is a large yellow circle in the center."  # world prior: star -> circle 0.8
    result = injector.inject("There is a small red cross on the left.", present={"cross"})
    assert "ring" in result.text


def test_colour_edit_prefers_the_shapes_prior_colour():
    injector = RuleBasedInjector(world_vocabulary(WORLD), num_edits=1, kinds=["attribute"])
    text = "There is a large green heart in the center."
    results = {injector.inject(text, key=str(k)).text for k in range(10)}
    assert "There is a large red heart in the center." in results
    assert text not in results


def test_too_few_facts_is_an_error_never_the_original():
    injector = RuleBasedInjector(world_vocabulary(WORLD), num_edits=2, kinds=["relation"])
    with pytest.raises(InjectionError):
        injector.inject("There is a large green heart in the center.")
    with pytest.raises(InjectionError):
        injector.inject("Nothing to see here.")


def test_coco_vocabulary_edits_objects_and_keeps_plurals():
    vocabulary = InjectionVocabulary.coco(
        [{"dog", "frisbee"}, {"dog", "frisbee", "person"}, {"cat", "couch"}]
    )
    injector = RuleBasedInjector(vocabulary, num_edits=1, kinds=["object"])
    result = injector.inject("Two dogs sit on the grass.", present={"dog"})
    assert result.text == "Two frisbees sit on the grass."
