"""SFT samples for the base VLM: a description, POPE-style yes/no answers and attribute answers per scene."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lightning_csr.data.sft import SFTRecord
from lightning_csr.shapeworld import Scene, WorldSettings
from lightning_csr.shapeworld.world.sampling import sample_colour
from lightning_csr.shapeworld.world.scene import SceneObject
from lightning_csr.shapeworld.world.tasks import (
    DESCRIPTION_PROMPTS,
    NO_TEMPLATE,
    POPE_TEMPLATE,
    PRIOR_TEMPLATE,
    YES_TEMPLATE,
    attribute_questions,
    describe_sentences,
    prior_sentence,
)


def image_path(split: str, scene_id: str) -> str:
    """Where a scene's image lives, relative to the data root."""
    return f"images/{split}/{scene_id}.png"


def prior_additions(
    scene: Scene, world: WorldSettings, rng: random.Random, rate: float
) -> list[tuple[int, SceneObject]]:
    """What a noisy caption adds: for each object whose co-occurrence partner is missing from the image, with
    probability `rate`, (the object's index, the partner in a free cell, coloured by the colour prior).

    Real VLMs learn their language priors from captions that name what usually goes with what is shown;
    this puts the world's co-occurrence statistics into the base model's captions the same way.
    """
    taken = {obj.cell for obj in scene.objects}
    free = [(r, c) for r in range(world.grid) for c in range(world.grid) if (r, c) not in taken]
    added: list[tuple[int, SceneObject]] = []
    named = set(scene.shapes)
    for index, obj in enumerate(scene.objects):
        for partner in world.co_occurrence.get(obj.shape, {}):
            if partner not in named and free and rng.random() < rate:
                named.add(partner)
                cell = free.pop(rng.randrange(len(free)))
                colour = sample_colour(world, partner, rng)
                added.append(
                    (index, SceneObject(partner, colour, rng.choice(world.sizes), cell, (0, 0, 0, 0)))
                )
    return added


def noisy_description(
    scene: Scene, world: WorldSettings, rng: random.Random, rate: float, template: str = PRIOR_TEMPLATE
) -> str:
    """The reference description with each `prior_additions` object named, in `template`, right after the
    object that suggests it (as a caption that co-mentions what usually goes together)."""
    sentences = describe_sentences(scene, rng, world)
    for index, obj in reversed(prior_additions(scene, world, rng, rate) if rate else []):
        sentences.insert(index + 1, prior_sentence(obj, world, template))
    return " ".join(sentences)


def sft_records(
    scenes: Sequence[Scene],
    world: WorldSettings,
    split: str,
    seed: int = 0,
    yes_no_per_scene: int = 2,
    attributes_per_scene: int = 1,
    caption_prior_noise: float = 0.0,
    prior_template: str = PRIOR_TEMPLATE,
) -> list[SFTRecord]:
    """One description, `yes_no_per_scene` existence answers (half yes) and some attribute answers per scene.

    Descriptions name absent co-occurrence partners at rate `caption_prior_noise` (`noisy_description`).
    """
    rng = random.Random(f"sft:{seed}:{split}")
    records = []
    for scene in scenes:
        image = image_path(split, scene.id)
        prompt = rng.choice(DESCRIPTION_PROMPTS)
        text = noisy_description(scene, world, rng, caption_prior_noise, prior_template)
        records.append(SFTRecord(f"{scene.id}-describe", image, prompt, text))
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
