"""Reward accuracy by exact counts: hand-made pairs over hand-made scenes."""

from __future__ import annotations

import json

import pytest

from lightning_csr.shapeworld.study.pair_truth import answer_errors, pair_truth, pair_verdict
from lightning_csr.shapeworld.world.scene import Scene, SceneObject
from lightning_csr.shapeworld.world.settings import WorldSettings

WORLD = WorldSettings()


def scene(scene_id: str, *shapes: str) -> Scene:
    objects = tuple(SceneObject(s, "red", "small", (0, i), (0, 0, 1, 1)) for i, s in enumerate(shapes))
    return Scene(scene_id, objects)


def test_answer_errors_count_absent_named_and_present_missed() -> None:
    assert answer_errors(
        "A red star and a circle. There is also a square.", scene("a", "star", "ring"), WORLD
    ) == (2, 1)


def test_verdict_puts_hallucinations_before_coverage() -> None:
    assert pair_verdict((0, 2), (1, 0)) == 1  # fewer absent shapes wins even when it misses more
    assert pair_verdict((1, 0), (1, 1)) == 1
    assert pair_verdict((1, 1), (1, 1)) == 0
    assert pair_verdict((2, 0), (1, 3)) == -1


def test_pair_truth_shares(tmp_path) -> None:
    scenes = {"a": scene("a", "star"), "b": scene("b", "square", "triangle")}
    pairs = [
        {"id": "a", "chosen": "A star.", "rejected": "A star and a circle."},  # right (0,0) vs (1,0)
        {"id": "b", "chosen": "A square and a heart.", "rejected": "A square."},  # wrong (1,1) vs (0,1)
        {"id": "b", "chosen": "A square and a triangle.", "rejected": "A triangle."},  # right (0,0) vs (0,1)
        {"id": "a", "chosen": "A star.", "rejected": "A star."},  # tie
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    truth = pair_truth(path, scenes, WORLD)
    assert truth == {
        "pairs": 4,
        "right": 0.5,
        "wrong": 0.25,
        "tied": 0.25,
        "chosen_hallucinates_less": 0.25,
        "chosen_hallucinates_more": 0.25,
    }


def test_unknown_scene_names_the_line(tmp_path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": "zz", "chosen": "x", "rejected": "y"}) + "\n")
    with pytest.raises(ValueError, match=r"pairs.jsonl:1: id 'zz'"):
        pair_truth(path, {}, WORLD)
