"""ShapeWorld for POVID injection: ground-truth descriptions as the answers, the world's words as the vocabulary."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from lightning_csr.data.injection import AnswerRecord, InjectionVocabulary
from lightning_csr.data.injection.vocabulary import symmetric
from lightning_csr.data.prompts import read_prompts
from lightning_csr.shapeworld import Scene, WorldSettings, describe
from lightning_csr.shapeworld.world.files import read_scenes
from lightning_csr.shapeworld.world.tasks import _POSITIONS, co_occurrence_counts, shape_counts

# the phrases that place an object relative to the one before it, and what each means
RELATIVE_PHRASES: dict[str, str] = {
    "below it": "below", "above it": "above", "to its right": "right", "to the right of it": "right",
    "to its left": "left", "to the left of it": "left",
}  # fmt: skip


def world_vocabulary(world: WorldSettings, scenes: Sequence[Scene] = ()) -> InjectionVocabulary:
    """Shapes, colours and sizes, the 9 position phrases and the relative ones of a world.

    Co-occurrence and frequency are counted over `scenes` when given, else taken from the world's priors.
    """
    if scenes:
        pairs = co_occurrence_counts(scenes)
        co = symmetric({(a, b): float(n) for (a, b), n in pairs.items()})
        frequency = {k: float(v) for k, v in shape_counts(scenes).items()}
    else:
        co = symmetric({(a, b): p for a, row in world.co_occurrence.items() for b, p in row.items()})
        frequency = {s: world.shape_weight(s) for s in world.shapes}
    positions = {phrase: phrase for row in _POSITIONS for phrase in row}
    return InjectionVocabulary(
        objects={shape: [shape] for shape in world.shapes},
        attributes={
            "colour": {c: c for c in world.colours},
            "size": {s: s for s in world.sizes},
        },
        relations={"position": positions, "relative": dict(RELATIVE_PHRASES)},
        co_occurrence=co,
        frequency=frequency,
        attribute_priors={k: dict(v) for k, v in world.colour_preferences.items()},
    )


def shapeworld_answers(data_dir: str | Path, split: str = "train", seed: int = 0) -> list[AnswerRecord]:
    """The ShapeWorld preference prompts (`prompts/<split>.jsonl`) with ground-truth descriptions as answers."""
    root = Path(data_dir)
    world = WorldSettings.load(root / "world.json")
    scenes = {scene.id: scene for scene in read_scenes(root, split)}
    records = []
    for prompt in read_prompts(root / "prompts" / f"{split}.jsonl"):
        scene = scenes[prompt.id]
        answer = describe(scene, random.Random(f"ground-truth:{seed}:{scene.id}"), world)
        records.append(AnswerRecord(prompt.id, prompt.image, prompt.prompt, answer, sorted(scene.shapes)))
    return records
