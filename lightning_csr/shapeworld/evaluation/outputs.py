"""ShapeWorld evaluation split into requests and scoring, so answers can come from a cache or a generator.

`evaluation.shapeworld.evaluate_shapeworld` generates the requests directly; the runner serves them from its
resumable answer cache. Both score through `score_shapeworld`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from lightning_csr.evaluation.answers import parse_yes_no
from lightning_csr.evaluation.cached_generation import Request
from lightning_csr.shapeworld import Scene, WorldSettings
from lightning_csr.shapeworld.evaluation.metrics import score_outputs, shapeworld_questions
from lightning_csr.shapeworld.world.parsing import mentioned_shapes, parse_attribute
from lightning_csr.shapeworld.world.tasks import DESCRIPTION_PROMPTS

ANSWER_TOKENS = 16


def describe_key(scene_id: str) -> str:
    return f"describe:{scene_id}"


def question_key(scene_id: str, question: str) -> str:
    return f"ask:{scene_id}:{question}"


def shapeworld_requests(
    world: WorldSettings,
    scenes: Sequence[Scene],
    images: Sequence[Image.Image],
    max_new_tokens: int = 64,
    answer_tokens: int = ANSWER_TOKENS,
    seed: int = 0,
    prompt: str = DESCRIPTION_PROMPTS[0],
    pope_per_scene: int = 3,
) -> tuple[list[Request], list[dict], list[dict]]:
    """One description per scene and each distinct POPE/attribute question once; plus the questions."""
    if len(images) != len(scenes):
        raise ValueError(f"{len(scenes)} scenes but {len(images)} images")
    image_of = {scene.id: image for scene, image in zip(scenes, images, strict=True)}
    pope, attributes = shapeworld_questions(world, scenes, seed, pope_per_scene)
    requests = [Request(describe_key(s.id), prompt, image_of[s.id], max_new_tokens) for s in scenes]
    asked = sorted({(q["scene_id"], q["question"]) for q in pope + attributes})
    requests += [Request(question_key(s, q), q, image_of[s], answer_tokens) for s, q in asked]
    return requests, pope, attributes


def score_shapeworld(
    world: WorldSettings,
    scenes: Sequence[Scene],
    answers: Mapping[str, str],
    pope: Sequence[dict],
    attributes: Sequence[dict],
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics (CHAIR, POPE per split, attribute error, mean description words) and per-scene outputs."""
    rows: dict[str, dict[str, Any]] = {}
    for scene in scenes:
        description = answers[describe_key(scene.id)]
        mentioned = sorted(mentioned_shapes(description, world))
        truth = sorted(scene.shapes)
        rows[scene.id] = {
            "id": scene.id,
            "description": description,
            "truth": truth,
            "mentioned": mentioned,
            "hallucinated": sorted(set(mentioned) - set(truth)),
            "pope": [],
            "attributes": [],
        }
    for q in pope:
        answer = answers[question_key(q["scene_id"], q["question"])]
        rows[q["scene_id"]]["pope"].append({**q, "answer": answer, "parsed": parse_yes_no(answer)})
    for q in attributes:
        reply = answers[question_key(q["scene_id"], q["question"])]
        parsed = parse_attribute(reply, q["attribute"], world)
        rows[q["scene_id"]]["attributes"].append({**q, "reply": reply, "parsed": parsed})
    outputs = list(rows.values())
    metrics = score_outputs(outputs)
    words = [len(row["description"].split()) for row in outputs]
    metrics["mean_words"] = sum(words) / max(len(words), 1)
    return metrics, outputs
