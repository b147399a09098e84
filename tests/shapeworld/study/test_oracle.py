"""The exact-count oracle ranks answers by truth, and `curate_pairs` uses a ranker in place of the reward."""

from __future__ import annotations

import json

from lightning_csr.shapeworld.study.oracle import ExactCountRanker
from lightning_csr.shapeworld.world.scene import Scene, SceneObject
from lightning_csr.shapeworld.world.settings import WorldSettings


def write_world(root, *scenes: Scene) -> None:
    (root / "scenes").mkdir(parents=True)
    WorldSettings().save(root / "world.json")
    (root / "scenes" / "train.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in scenes))


def test_fewer_hallucinations_first_then_coverage(tmp_path) -> None:
    objects = tuple(
        SceneObject(s, "red", "small", (0, i), (0, 0, 1, 1)) for i, s in enumerate(("star", "ring"))
    )
    write_world(tmp_path, Scene("s1", objects))
    ranker = ExactCountRanker(str(tmp_path))
    answers = ["A star.", "A star and a ring.", "A star, a ring and a circle.", "A circle."]
    scores = ranker("s1", answers)
    assert sorted(range(4), key=lambda i: -scores[i]) == [1, 0, 2, 3]
    assert scores[1] > scores[0] > scores[2] > scores[3]  # one absent shape outweighs any number of misses
    assert ranker.identity()["ranker"] == "exact_counts"
