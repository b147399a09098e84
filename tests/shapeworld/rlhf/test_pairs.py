"""ShapeWorld pieces of Fact-RLHF: ground-truth labelled pairs, facts, and the judge-free MMHal stand-in."""

from __future__ import annotations

import random

from lightning_csr.rewards.shaping import RewardShaping, answer_correctness, sequence_scores
from lightning_csr.shapeworld import Scene, SceneObject, WorldSettings, mentioned_shapes
from lightning_csr.shapeworld.evaluation.mmhal import mmhal_questions, parse_count, rate_answer, score_mmhal
from lightning_csr.shapeworld.rlhf.pairs import answer_quality, scene_facts, scene_pairs

WORLD = WorldSettings()
SCENE = Scene(
    "s0",
    (
        SceneObject("star", "yellow", "large", (0, 0), (0, 0, 10, 10)),
        SceneObject("circle", "red", "small", (0, 2), (40, 0, 50, 10)),
        SceneObject("square", "blue", "small", (2, 1), (20, 40, 30, 50)),
    ),
)


def test_pairs_prefer_fewer_hallucinations_then_recall():
    records = scene_pairs(
        SCENE, WORLD, "train", random.Random(0), samples=["A star and a circle."], n_pairs=20
    )
    assert records
    for r in records:
        assert answer_quality(r.chosen, SCENE, WORLD) > answer_quality(r.rejected, SCENE, WORLD)
        assert r.meta["facts"] == scene_facts(SCENE, WORLD)
    assert answer_quality("A star, a circle.", SCENE, WORLD) > answer_quality(
        "A star, a circle, a heart.", SCENE, WORLD
    )
    with_blank = scene_pairs(SCENE, WORLD, "train", random.Random(0), samples=["", "  "], n_pairs=20)
    assert with_blank and all(r.chosen.strip() and r.rejected.strip() for r in with_blank)
    facts = scene_facts(SCENE, WORLD)
    assert len(facts) == 3 and set().union(*(mentioned_shapes(f, WORLD) for f in facts)) == SCENE.shapes


def test_mmhal_questions_cover_the_categories_and_are_rated_against_truth():
    questions = mmhal_questions([SCENE], WORLD)
    by_category = {q["category"]: q for q in questions}
    assert set(by_category) == {"attribute", "counting", "relation", "adversarial"}
    lure = by_category["adversarial"]
    assert lure["object"] not in SCENE.shapes and lure["answer"] == "no"
    assert rate_answer(lure, f"No, there is no {lure['object']} in the image.", SCENE, WORLD)["rating"] == 5
    assert rate_answer(lure, "Yes.", SCENE, WORLD)["rating"] == 1
    count = by_category["counting"]
    assert rate_answer(count, "1", SCENE, WORLD)["correct"]
    assert rate_answer(count, "one heart", SCENE, WORLD)["hallucinated"]
    assert rate_answer(count, "I cannot say.", SCENE, WORLD)["rating"] == 3
    assert parse_count("There are two stars.") == 2
    rated = [{**q, **rate_answer(q, "I cannot say.", SCENE, WORLD)} for q in questions]
    metrics = score_mmhal(rated)
    assert metrics["mmhal/average_score"] == 3 and metrics["mmhal/hallucination_rate"] == 0


def test_shaping_terms_are_off_by_default_and_signed_as_documented():
    import torch

    rm, ended, lengths = torch.tensor([0.5, -0.5]), torch.tensor([True, False]), torch.tensor([3.0, 10.0])
    correct = torch.tensor([1, -1])
    score, _ = sequence_scores(rm, ended, lengths, correct, RewardShaping())
    assert torch.equal(score, rm)
    shaping = RewardShaping(reward_scale=2.0, no_eos_penalty=1.0, correctness_bonus=0.5, length_bonus=-0.1)
    score, terms = sequence_scores(rm, ended, lengths, correct, shaping)
    torch.testing.assert_close(score, torch.tensor([1.0 + 0.5 - 0.3, -1.0 - 1.0 - 0.5 - 1.0]))
    assert answer_correctness("Yes, there is.", "yes", "yes_no") == 1
    assert answer_correctness("No.", "yes", "yes_no") == -1
    assert answer_correctness("The answer is B.", "B", "multiple_choice") == 1
    assert answer_correctness("Yes", None, "yes_no") == 0
