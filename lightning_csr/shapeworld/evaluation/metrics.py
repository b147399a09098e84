"""Evaluate any VLM on ShapeWorld scenes: CHAIR on descriptions, POPE per split, attribute error."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.distributed import map_by_batches
from lightning_csr.evaluation.metrics import AttributeErrorMetric, CHAIRMetric, POPEMetric
from lightning_csr.generation.greedy import Progress, generate_answers
from lightning_csr.shapeworld import Scene, WorldSettings
from lightning_csr.shapeworld.world.render import render_scene
from lightning_csr.shapeworld.world.tasks import (
    DESCRIPTION_PROMPTS,
    POPE_SPLITS,
    attribute_questions,
    pope_questions,
)


def shapeworld_questions(
    world: WorldSettings, scenes: Sequence[Scene], seed: int = 0, pope_per_scene: int = 3
) -> tuple[list[dict], list[dict]]:
    """The POPE questions (all splits) and the attribute questions asked of these scenes."""
    rng = random.Random(f"attributes:{seed}")
    attributes = [q for scene in scenes for q in attribute_questions(scene, rng)]
    return pope_questions(scenes, world, seed=seed, n_per_scene=pope_per_scene), attributes


def evaluate_shapeworld(
    model: torch.nn.Module,
    backbone: Backbone,
    world: WorldSettings,
    scenes: Sequence[Scene],
    batch_size: int = 32,
    max_new_tokens: int = 64,
    images: Sequence[Image.Image] | None = None,
    answer_tokens: int = 16,
    pope_per_scene: int = 3,
    seed: int = 0,
    prompt: str = DESCRIPTION_PROMPTS[0],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Describe each scene and answer its POPE and attribute questions greedily; score all three.

    Returns {"metrics": {name: float}, "scenes": [per-scene outputs]}. `images` default to rendering the
    scenes; `progress` is called with the number of generations finished after each batch.
    """
    from lightning_csr.shapeworld.evaluation.outputs import score_shapeworld, shapeworld_requests

    images = list(images) if images is not None else [render_scene(s, world) for s in scenes]
    requests, pope, attributes = shapeworld_requests(
        world, scenes, images, max_new_tokens, answer_tokens, seed, prompt, pope_per_scene
    )
    answers: dict[str, str] = {}
    # descriptions first, then each distinct question once (a POPE question recurs across splits)
    for budget in (max_new_tokens, answer_tokens):
        group = [r for r in requests if r.max_new_tokens == budget and r.key not in answers]

        def answer(positions: list[int], group=group, budget=budget) -> list[str]:
            batch = [group[i] for i in positions]
            images, prompts = [r.image for r in batch], [r.prompt for r in batch]
            return generate_answers(model, backbone, images, prompts, batch_size, budget, progress)

        replies = map_by_batches(answer, len(group), batch_size)  # on several ranks: a slice each
        answers.update((r.key, reply) for r, reply in zip(group, replies, strict=True))
    metrics, outputs = score_shapeworld(world, scenes, answers, pope, attributes)
    return {"metrics": metrics, "scenes": outputs}


def score_outputs(outputs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """CHAIR, POPE (per split and all) and attribute metrics over per-scene outputs."""
    chair, pope, attribute = CHAIRMetric(), POPEMetric(splits=POPE_SPLITS), AttributeErrorMetric()
    chair.update([set(o["mentioned"]) for o in outputs], [set(o["truth"]) for o in outputs])
    questions = [q for o in outputs for q in o["pope"]]
    if questions:
        pope.update(
            [q["parsed"] for q in questions], [q["label"] for q in questions], [q["split"] for q in questions]
        )
    answers = [q for o in outputs for q in o["attributes"]]
    if answers:
        attribute.update([q["parsed"] for q in answers], [q["answer"] for q in answers])
    metrics = {**chair.compute(), **{f"pope/{k}": v for k, v in pope.compute().items()}}
    metrics.update({f"attribute/{k}": v for k, v in attribute.compute().items()} if answers else {})
    return {name: float(value) for name, value in metrics.items()}
