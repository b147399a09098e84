"""Descriptions, POPE and attribute questions, and the text parsers."""

from __future__ import annotations

import random

import pytest

from lightning_csr.shapeworld import (
    DESCRIPTION_PROMPTS,
    Scene,
    SceneObject,
    WorldSettings,
    attribute_questions,
    describe,
    generate_scenes,
    mentioned_attributes,
    mentioned_shapes,
    parse_attribute,
    pope_questions,
    position_phrase,
)


def make_scene(scene_id: str, *specs: tuple[str, str, str]) -> Scene:
    """A grid scene from (shape, colour, size) triples, one cell each in reading order."""
    objects = []
    for index, (shape, colour, size) in enumerate(specs):
        row, col = divmod(index, 3)
        objects.append(
            SceneObject(
                shape, colour, size, (row, col), (col * 21 + 2, row * 21 + 2, col * 21 + 19, row * 21 + 19)
            )
        )
    return Scene(scene_id, tuple(objects))


def test_prompts_are_paraphrases() -> None:
    assert len(set(DESCRIPTION_PROMPTS)) >= 5
    assert "Describe the image in detail." in DESCRIPTION_PROMPTS


def test_description_has_one_sentence_per_object(world: WorldSettings, scenes: list[Scene]) -> None:
    for scene in scenes:
        text = describe(scene, random.Random(0), world)
        sentences = text.split(". ")
        assert text.endswith(".") and len(sentences) == len(scene.objects)
        assert mentioned_shapes(text, world) == scene.shapes
        assert {(o.shape, "colour", o.colour) for o in scene.objects} <= mentioned_attributes(text, world)
        assert describe(scene, random.Random(0), world) == text


def test_description_uses_relative_positions(world: WorldSettings) -> None:
    scene = Scene(
        "s",
        (
            SceneObject("star", "red", "large", (0, 0), (2, 2, 19, 19)),
            SceneObject("ring", "blue", "small", (1, 0), (5, 26, 16, 37)),
        ),
    )
    texts = {describe(scene, random.Random(seed), world) for seed in range(30)}
    assert any("Below it" in text for text in texts)
    assert any("top left" in text.lower() for text in texts)


def test_mentioned_shapes_handles_synonyms_and_plurals(world: WorldSettings) -> None:
    text = "Two rectangles, a doughnut and three Stars; no hexagons? A crosses-like thing."
    assert mentioned_shapes(text, world) == {"bar", "ring", "star", "hexagon", "cross"}
    assert mentioned_shapes("a heart", WorldSettings(shapes=("circle", "star"))) == set()


def test_attribute_parsers(world: WorldSettings) -> None:
    assert mentioned_attributes("A big violet star.", world) == {
        ("star", "size", "large"),
        ("star", "colour", "purple"),
    }
    assert parse_attribute("It is red.", "colour", world) == "red"
    assert parse_attribute("red or blue", "colour", world) is None
    assert parse_attribute("The star is small.", "size", world) == "small"


def test_pope_questions_are_balanced_and_correct(world: WorldSettings, scenes: list[Scene]) -> None:
    questions = pope_questions(scenes, world, seed=0, n_per_scene=2)
    by_id = {s.id: s for s in scenes}
    assert {q["split"] for q in questions} == {"random", "popular", "adversarial"}
    for split in ("random", "popular", "adversarial"):
        labels = [q["label"] for q in questions if q["split"] == split]
        assert labels.count(True) == labels.count(False) > 0
    for q in questions:
        assert (q["object"] in by_id[q["scene_id"]].shapes) == q["label"]
        assert q["question"] == f"Is there a {q['object']} in the image?"
    assert pope_questions(scenes, world, seed=0, n_per_scene=2) == questions


def test_popular_and_adversarial_negatives() -> None:
    world = WorldSettings(shapes=("circle", "square", "star", "cross", "ring"))
    scenes = [
        make_scene("a", ("star", "yellow", "large"), ("circle", "red", "small")),
        make_scene("b", ("star", "yellow", "large"), ("circle", "red", "small")),
        make_scene("c", ("cross", "red", "large"), ("ring", "blue", "small")),
        make_scene("d", ("square", "red", "large")),
        make_scene("e", ("square", "red", "large")),
        make_scene("f", ("square", "red", "large")),
        make_scene("probe", ("star", "green", "small")),
    ]
    questions = [
        q for q in pope_questions(scenes, world, n_per_scene=1) if q["scene_id"] == "probe" and not q["label"]
    ]
    negative = {q["split"]: q["object"] for q in questions}
    assert negative["adversarial"] == "circle"  # co-occurs with star in two scenes
    assert negative["popular"] == "square"  # in three scenes, the most frequent absent shape


def test_attribute_questions_skip_ambiguous_shapes() -> None:
    scene = make_scene(
        "s", ("star", "yellow", "large"), ("star", "red", "small"), ("circle", "blue", "small")
    )
    questions = attribute_questions(scene, random.Random(0))
    assert {q["object"] for q in questions} == {"circle"}
    answers = {q["attribute"]: q["answer"] for q in questions}
    assert answers == {"colour": "blue", "size": "small"}
    assert all("circle" in q["question"] for q in questions)


@pytest.mark.parametrize("placement", ["grid", "free"])
def test_descriptions_end_each_sentence_with_a_period(placement: str) -> None:
    world = WorldSettings(placement=placement)
    for scene in generate_scenes(world, 10, seed=5):
        text = describe(scene, random.Random(1), world)
        assert text.count(".") == len(scene.objects)


@pytest.mark.parametrize(
    ("cell", "grid", "phrase"),
    [((0, 0), 3, "in the top left"), ((0, 0), 1, "in the center"), ((3, 1), 4, "at the bottom")],
)
def test_position_phrase_scales_with_the_grid(cell: tuple[int, int], grid: int, phrase: str) -> None:
    assert position_phrase(cell, grid) == phrase


def test_noisy_captions_name_absent_partners_right_after_their_trigger() -> None:
    from lightning_csr.shapeworld.build.sft_data import noisy_description, prior_additions, sft_records

    world = WorldSettings(co_occurrence={"star": {"circle": 0.8}, "cross": {"ring": 0.8}})
    star = SceneObject("star", "yellow", "large", (0, 0), (1, 1, 12, 12))
    ring = SceneObject("ring", "blue", "small", (0, 1), (17, 1, 25, 9))
    scene = Scene("s", (star, SceneObject("cross", "red", "large", (1, 1), (17, 17, 29, 29)), ring))
    added = prior_additions(scene, world, random.Random(0), rate=1.0)
    assert [(index, obj.shape) for index, obj in added] == [(0, "circle")]  # ring is present
    assert added[0][1].cell not in {obj.cell for obj in scene.objects}
    assert prior_additions(scene, world, random.Random(0), rate=0.0) == []
    sentences = noisy_description(scene, world, random.Random(0), rate=1.0).split(". ")
    assert "star" in sentences[0] and sentences[1].startswith("There is also a") and "circle" in sentences[1]
    assert len(sentences) == 4
    clean = sft_records([scene], world, "train", caption_prior_noise=0.0)[0].response
    assert (
        "circle" not in clean
        and "circle" in sft_records([scene], world, "train", caption_prior_noise=1.0)[0].response
    )
