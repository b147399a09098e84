"""SFT samples for the base VLM: a description, POPE-style yes/no answers and attribute answers per scene."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lightning_csr.data.sft import SFTRecord
from lightning_csr.data.shapeworld import Scene, WorldConfig
from lightning_csr.data.shapeworld.tasks import (
    DESCRIPTION_PROMPTS,
    NO_TEMPLATE,
    POPE_TEMPLATE,
    YES_TEMPLATE,
    attribute_questions,
    describe,
)


def image_path(split: str, scene_id: str) -> str:
    """Where a scene's image lives, relative to the data root."""
    return f"images/{split}/{scene_id}.png"


def sft_records(
    scenes: Sequence[Scene],
    world: WorldConfig,
    split: str,
    seed: int = 0,
    yes_no_per_scene: int = 2,
    attributes_per_scene: int = 1,
) -> list[SFTRecord]:
    """One description, `yes_no_per_scene` existence answers (half yes) and some attribute answers per scene."""
    rng = random.Random(f"sft:{seed}:{split}")
    records = []
    for scene in scenes:
        image = image_path(split, scene.id)
        records.append(
            SFTRecord(
                f"{scene.id}-describe", image, rng.choice(DESCRIPTION_PROMPTS), describe(scene, rng, world)
            )
        )
        present = sorted(scene.shapes)
        absent = [s for s in world.shapes if s not in scene.shapes]
        for index in range(yes_no_per_scene):
            answer_yes = index % 2 == 0 or not absent
            shape = rng.choice(present if answer_yes else absent)
            template = YES_TEMPLATE if answer_yes else NO_TEMPLATE
            question = POPE_TEMPLATE.format(shape=shape)
            records.append(
                SFTRecord(f"{scene.id}-exists-{index}", image, question, template.format(shape=shape))
            )
        questions = attribute_questions(scene, rng)
        for index, item in enumerate(rng.sample(questions, min(attributes_per_scene, len(questions)))):
            answer = item["answer"].capitalize() + "."
            records.append(SFTRecord(f"{scene.id}-attribute-{index}", image, item["question"], answer))
    return records
