"""The exact-reward oracle: CSR's answers ranked by ShapeWorld's truth, what self-rewarding would be with a
perfect judge. Fewer absent shapes named is better; among equals, fewer present shapes missed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning_csr.data.records import file_digest
from lightning_csr.shapeworld.study.pair_truth import answer_errors
from lightning_csr.shapeworld.world.files import read_scenes
from lightning_csr.shapeworld.world.settings import WorldSettings


class ExactCountRanker:
    """An `AnswerRanker` for `CSRModule(ranker=...)`: score = -(hallucinated × (shapes + 1) + missed).

    Args:
        data: the prepared ShapeWorld directory (its `world.json` and the scenes the prompts come from).
        split: the scene split the prompts' ids belong to.
    """

    def __init__(self, data: str, split: str = "train") -> None:
        self.data, self.split = Path(data), split
        self.world = WorldSettings.load(self.data / "world.json")
        self.scenes = {scene.id: scene for scene in read_scenes(self.data, split)}

    def __call__(self, record_id: str, answers: Sequence[str]) -> Sequence[float]:
        scene = self.scenes.get(record_id)
        if scene is None:
            raise ValueError(
                f"ExactCountRanker: prompt id {record_id!r} is not a {self.split} scene of {self.data}"
            )
        weight = len(self.world.shapes) + 1
        scores = []
        for answer in answers:
            hallucinated, missed = answer_errors(answer, scene, self.world)
            scores.append(-float(hallucinated * weight + missed))
        return scores

    def identity(self) -> dict[str, Any]:
        scenes = self.data / "scenes" / f"{self.split}.jsonl"
        return {"ranker": "exact_counts", "world": self.world.to_dict(), "scenes": file_digest(scenes)}
