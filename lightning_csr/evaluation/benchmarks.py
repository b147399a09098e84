"""The runner's benchmarks (chair, pope, mmhal, shapeworld) over a `CachedGenerator`, with one result shape."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.cached_generation import CachedGenerator, Request

BENCHMARKS = ("chair", "pope", "mmhal", "shapeworld")
DEFAULT_MAX_NEW_TOKENS = {"chair": 512, "pope": 32, "mmhal": 512, "shapeworld": 64}
RELEVANT_OPTIONS = {
    "chair": ("coco_instances", "coco_captions", "images_dir"),
    "pope": ("coco_instances", "coco_captions", "images_dir", "pope_file", "pope_split"),
    "mmhal": ("mmhal_template", "images_dir", "judge_base_url", "judge_model", "judge_key_env"),
    "shapeworld": ("data", "split", "answer_tokens"),
}


@dataclass
class BenchmarkOptions:
    """What to evaluate on. Paths are the user's local benchmark files; `num_items` takes a seeded subset.

    Args:
        benchmark: chair, pope, mmhal or shapeworld.
        coco_instances / coco_captions: COCO `instances_val2014.json` / `captions_val2014.json` (chair, pope).
        images_dir: COCO val2014 images (chair, pope) or MMHal-Bench images (mmhal).
        pope_file: an existing POPE question file (JSONL); otherwise questions are built from `coco_instances`.
        pope_split: random, popular, adversarial, or all (three split files built from the annotations).
        mmhal_template: MMHal-Bench `response_template.json`.
        judge_base_url / judge_model / judge_key_env: OpenAI-compatible judge; the key is read from the env var.
        data / split: a prepared ShapeWorld directory and the split evaluated.
        num_items: images (chair, pope), items (mmhal) or scenes (shapeworld); None = the benchmark's default.
        max_new_tokens: None = the benchmark's default (chair 512, pope 32, mmhal 512, shapeworld 64).
        answer_tokens: budget of ShapeWorld's short answers (POPE and attribute questions).
    """

    benchmark: str = "shapeworld"
    coco_instances: str | None = None
    coco_captions: str | None = None
    images_dir: str | None = None
    pope_file: str | None = None
    pope_split: str = "all"
    mmhal_template: str | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_key_env: str | None = "OPENAI_API_KEY"
    judge_cache: str | None = None
    data: str = "data/shapeworld"
    split: str = "test"
    num_items: int | None = None
    batch_size: int = 16
    max_new_tokens: int | None = None
    answer_tokens: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
        if self.num_items is not None and self.num_items < 1:
            raise ValueError(f"num_items must be >= 1, got {self.num_items}")

    @property
    def budget(self) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[self.benchmark]

    def require(self, *names: str) -> list[Path]:
        """The named path options as Paths; a missing one is an error naming its command-line flag."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            flags = ", ".join("--" + name.replace("_", "-") for name in missing)
            raise ValueError(f"--benchmark {self.benchmark} needs {flags}")
        return [Path(getattr(self, name)) for name in names]


def run_benchmark(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """{"metrics": {name: number}, "details": ..., "skipped": [...], "notes": [...]} for one benchmark."""
    runner = {"chair": _chair, "pope": _pope, "mmhal": _mmhal, "shapeworld": _shapeworld}[options.benchmark]
    result = runner(options, generate)
    result.setdefault("skipped", [])
    result.setdefault("notes", [])
    relevant = set(RELEVANT_OPTIONS[options.benchmark]) | {"benchmark", "num_items", "batch_size", "seed"}
    result["options"] = {k: v for k, v in asdict(options).items() if v is not None and k in relevant}
    result["options"]["max_new_tokens"] = options.budget
    result["notes"] += unparsed_notes(result["metrics"])
    return result


def unparsed_notes(metrics: dict[str, Any], threshold: float = 0.2) -> list[str]:
    """Warn when many answers could not be parsed: their metrics then say little about the model."""
    return [
        f"{value:.0%} of the answers behind {key.rsplit('/', 1)[0]} could not be parsed (counted as wrong)"
        for key, value in metrics.items()
        if key.endswith("unparsed") and isinstance(value, float) and value > threshold
    ]


def _chair(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    from lightning_csr.evaluation.coco import CHAIR_NUM_IMAGES, CHAIR_PROMPT, chair_images, evaluate_chair
    from lightning_csr.evaluation.coco.annotations import load_coco_ground_truth

    instances, images_dir = options.require("coco_instances", "images_dir")
    truth = load_coco_ground_truth(instances, options.coco_captions)
    selection = chair_images(truth, images_dir, options.num_items or CHAIR_NUM_IMAGES, options.seed)
    requests = [
        Request(f"chair:{i}", CHAIR_PROMPT, path, options.budget) for i, path in selection.paths.items()
    ]
    answers = generate(requests, "CHAIR captions")
    result = evaluate_chair({i: answers[f"chair:{i}"] for i in selection.paths}, truth)
    per_image = result.pop("per_image")
    for image_id, row in per_image.items():
        row["caption"] = answers[f"chair:{image_id}"]
    metrics = {k: v for k, v in result.items()}
    metrics["mean_words"] = _mean_words(answers.values())
    return {
        "metrics": metrics,
        "details": {"per_image": per_image, "top_hallucinated": _top_hallucinated(per_image.values())},
        "skipped": [f"image {i}: no file in {images_dir}" for i in selection.skipped],
    }


def _pope(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    from lightning_csr.evaluation.coco.annotations import load_coco_ground_truth
    from lightning_csr.evaluation.pope import (
        POPE_NUM_IMAGES,
        POPE_SPLITS,
        build_pope_questions,
        evaluate_pope,
        read_pope_questions,
    )

    (images_dir,) = options.require("images_dir")
    splits = POPE_SPLITS if options.pope_split == "all" else (options.pope_split,)
    if options.pope_file:
        questions = read_pope_questions(
            options.pope_file, None if options.pope_split == "all" else options.pope_split
        )
        if options.num_items:
            images = sorted({q.image for q in questions})
            keep = set(random.Random(options.seed).sample(images, min(options.num_items, len(images))))
            questions = [q for q in questions if q.image in keep]
        by_split = {questions[0].split: questions} if questions else {}
    else:
        (instances,) = options.require("coco_instances")
        truth = load_coco_ground_truth(instances, options.coco_captions)
        count = options.num_items or POPE_NUM_IMAGES
        by_split = {s: build_pope_questions(truth, s, count, seed=options.seed) for s in splits}
    metrics: dict[str, Any] = {}
    details: dict[str, Any] = {}
    skipped: list[str] = []
    for split, questions in by_split.items():
        present = [q for q in questions if (Path(images_dir) / q.image).is_file()]
        skipped += [
            f"{split} question {q.question_id}: no image {q.image}" for q in questions if q not in present
        ]
        key = {q.question_id: f"pope:{q.image}:{q.text}" for q in present}
        answers = generate(
            [
                Request(key[q.question_id], q.text, Path(images_dir) / q.image, options.budget)
                for q in present
            ],
            f"POPE {split}",
        )
        scored = evaluate_pope(present, {q.question_id: answers[key[q.question_id]] for q in present})
        metrics.update({f"pope/{k}": v for k, v in scored.items() if k.startswith(f"{split}/")})
        details[split] = [
            {
                "question_id": q.question_id,
                "image": q.image,
                "question": q.text,
                "label": q.label,
                "answer": answers[key[q.question_id]],
            }
            for q in present
        ]
    return {"metrics": metrics, "details": details, "skipped": skipped}


def _mmhal(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    from lightning_csr.evaluation.judge import JudgeClient, JudgeConfig
    from lightning_csr.evaluation.mmhal import evaluate_mmhal, load_mmhal, missing_image_message

    template, images_dir = options.require("mmhal_template", "images_dir")
    data = load_mmhal(template, images_dir)
    items = [item for item in data.items if item.image_path is not None][: options.num_items]
    answers = generate(
        [Request(f"mmhal:{i.index}", i.question, i.image_path, options.budget) for i in items], "MMHal-Bench"
    )
    by_index = {item.index: answers[f"mmhal:{item.index}"] for item in items}
    skipped = [missing_image_message(data)] if data.skipped else []
    details: dict[str, Any] = {"answers": by_index}
    if not options.judge_base_url:
        note = "no judge configured (--judge-base-url, --judge-model): answers written, not rated"
        return {
            "metrics": {"n_answered": len(items)},
            "details": details,
            "skipped": skipped,
            "notes": [note],
        }
    options.require("judge_model")
    judge = JudgeClient(
        JudgeConfig(
            options.judge_base_url, options.judge_model, options.judge_key_env, cache_path=options.judge_cache
        )
    )
    rated = evaluate_mmhal(items, judge, by_index, on_judge_error="zero")
    metrics = {f"mmhal/{k}": rated[k] for k in ("average_score", "hallucination_rate", "n_rated")}
    metrics.update({f"mmhal/type/{k}": v for k, v in rated["per_type"].items()})
    notes = [
        f"{len(rated[k])} {k.replace('_', ' ')}: {rated[k]}" for k in ("unparsed", "judge_failed") if rated[k]
    ]
    details["ratings"] = rated["per_item"]
    return {"metrics": metrics, "details": details, "skipped": skipped, "notes": notes}


def _shapeworld(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    from lightning_csr.shapeworld import WorldConfig
    from lightning_csr.shapeworld.build.prepare import load_images, read_scenes
    from lightning_csr.shapeworld.evaluation.mmhal import mmhal_questions, rate_replies, score_mmhal
    from lightning_csr.shapeworld.evaluation.outputs import score_shapeworld, shapeworld_requests

    root = Path(options.data)
    if not (root / "world.json").is_file():
        raise FileNotFoundError(
            f"{root / 'world.json'} not found: run `lightning-csr shapeworld prepare --out {root}`"
        )
    world = WorldConfig.load(root / "world.json")
    scenes = read_scenes(root, options.split)[: options.num_items or 200]
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
    top = _top_hallucinated(outputs)
    return {"metrics": metrics, "details": {"per_scene": outputs, "mmhal": rated, "top_hallucinated": top}}


def _mean_words(texts: Any) -> float:
    texts = list(texts)
    return sum(len(t.split()) for t in texts) / max(len(texts), 1)


def _top_hallucinated(rows: Any, count: int = 10) -> list[tuple[str, int]]:
    """The most often hallucinated objects over per-image/per-scene rows with a `hallucinated` list."""
    return Counter(name for row in rows for name in row["hallucinated"]).most_common(count)
