"""The `shapeworld` benchmark of `lightning-csr evaluate`: CHAIR, POPE, attributes and the MMHal stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning_csr.evaluation.benchmarks import Benchmark, BenchmarkOptions
from lightning_csr.evaluation.cached_generation import CachedGenerator, Request
from lightning_csr.evaluation.standard_benchmarks import top_hallucinated
from lightning_csr.shapeworld import WorldSettings
from lightning_csr.shapeworld.evaluation.mmhal import mmhal_questions, rate_replies, score_mmhal
from lightning_csr.shapeworld.evaluation.outputs import score_shapeworld, shapeworld_requests
from lightning_csr.shapeworld.world.files import load_images, read_scenes

DEFAULT_SCENES = 200


def run_shapeworld(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """Describe each held-out scene, answer its POPE, attribute and MMHal-style questions; score against truth."""
    root = Path(options.data)
    if not (root / "world.json").is_file():
        raise FileNotFoundError(
            f"{root / 'world.json'} not found: run `lightning-csr shapeworld prepare --out {root}`"
        )
    world = WorldSettings.load(root / "world.json")
    scenes = read_scenes(root, options.split)[: options.num_items or DEFAULT_SCENES]
    images = load_images(root, options.split, scenes)
    requests, pope, attributes = shapeworld_requests(
        world, scenes, images, options.budget, options.answer_tokens, seed=options.seed
    )
    # the judge-free MMHal-Bench stand-in: its questions are keyed apart from POPE's identical wording
    mmhal = mmhal_questions(scenes, world, options.seed)
    image_of = {scene.id: image for scene, image in zip(scenes, images, strict=True)}
    asked = sorted({(q["scene_id"], q["question"]) for q in mmhal})
    requests += [Request(f"mmhal:{i}:{q}", q, image_of[i], options.answer_tokens) for i, q in asked]
    answers = generate(requests, f"ShapeWorld {options.split}")
    metrics, outputs = score_shapeworld(world, scenes, answers, pope, attributes)
    replies = [answers[f"mmhal:{q['scene_id']}:{q['question']}"] for q in mmhal]
    rated = rate_replies(mmhal, replies, scenes, world)
    metrics.update(score_mmhal(rated))
    top = top_hallucinated(outputs)
    return {"metrics": metrics, "details": {"per_scene": outputs, "mmhal": rated, "top_hallucinated": top}}


SHAPEWORLD_BENCHMARK = Benchmark(
    run_shapeworld,
    max_new_tokens=64,
    options=("data", "split", "answer_tokens"),
    num_items_flag="--num-scenes",
)
