"""Evaluate any VLM on ShapeWorld scenes: CHAIR on descriptions, POPE per split, attribute error."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.evaluation.metrics import AttributeErrorMetric, CHAIRMetric, POPEMetric
from lightning_csr.shapeworld import Scene, WorldConfig
from lightning_csr.shapeworld.world.render import render_scene
from lightning_csr.shapeworld.world.tasks import (
    DESCRIPTION_PROMPTS,
    POPE_SPLITS,
    attribute_questions,
    pope_questions,
)

Progress = Callable[[int], None]


def suppressed_token_ids(model: torch.nn.Module, backbone: Backbone) -> list[int]:
    """Ids generation must never produce: special tokens except end-of-turn, the image token, unused rows."""
    tokenizer = backbone.tokenizer
    keep = {backbone.end_of_turn_id}
    ids = set(tokenizer.all_special_ids) | {backbone.image_token_id}
    if tokenizer.pad_token_id is not None:
        ids.add(tokenizer.pad_token_id)
    rows = model.get_output_embeddings().weight.shape[0]
    ids |= set(range(len(tokenizer), rows))
    return sorted(i for i in ids - keep if 0 <= i < rows)


@torch.no_grad()
def generate_answers(
    model: torch.nn.Module,
    backbone: Backbone,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    batch_size: int = 32,
    max_new_tokens: int = 64,
    progress: Progress | None = None,
) -> list[str]:
    """Greedy answers, one per (image, prompt), cut at the first end-of-turn id and decoded."""
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
    eos = backbone.end_of_turn_id
    suppress = suppressed_token_ids(model, backbone)
    pad = backbone.tokenizer.pad_token_id if backbone.tokenizer.pad_token_id is not None else eos
    device = next(model.parameters()).device
    answers: list[str] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(prompts), batch_size):
            inputs = backbone.prompt_batch(
                images[start : start + batch_size], prompts[start : start + batch_size]
            )
            inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            output = model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos,
                pad_token_id=pad,
                suppress_tokens=suppress,
            )
            for row in output[:, inputs["input_ids"].shape[1] :].tolist():
                row = row[: row.index(eos)] if eos in row else row
                answers.append(backbone.tokenizer.decode(row, skip_special_tokens=True).strip())
            if progress is not None:
                progress(len(inputs["input_ids"]))
    finally:
        model.train(was_training)
    return answers


def shapeworld_questions(
    world: WorldConfig, scenes: Sequence[Scene], seed: int = 0, pope_per_scene: int = 3
) -> tuple[list[dict], list[dict]]:
    """The POPE questions (all splits) and the attribute questions asked of these scenes."""
    rng = random.Random(f"attributes:{seed}")
    attributes = [q for scene in scenes for q in attribute_questions(scene, rng)]
    return pope_questions(scenes, world, seed=seed, n_per_scene=pope_per_scene), attributes


def evaluate_shapeworld(
    model: torch.nn.Module,
    backbone: Backbone,
    world: WorldConfig,
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
        replies = generate_answers(
            model, backbone, [r.image for r in group], [r.prompt for r in group], batch_size, budget, progress
        )
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
