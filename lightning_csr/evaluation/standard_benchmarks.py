"""The public benchmarks of `lightning-csr evaluate`: CHAIR, POPE and MMHal-Bench over a `CachedGenerator`."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_csr.evaluation.cached_generation import CachedGenerator, Request

CHAIR_NOT_COMPARABLE = (
    "CHAIR used our extended synonym list (--chair-vocabulary extended): not comparable with papers"
)
POPE_NOT_COMPARABLE = "POPE used our strict answer parser (--pope-parser strict): not comparable with papers"

MMHAL_OUR_WORDING = (
    "MMHal-Bench was judged with our own prompt wording and rating parser, not the released ones: scores are "
    "not comparable with papers (pass --mmhal-evaluator path/to/eval_gpt4.py from the MMHal-Bench download)"
)
MMHAL_RELEASED = "MMHal-Bench was judged with the prompt and rating rule read from {}"

if TYPE_CHECKING:
    from lightning_csr.evaluation.benchmarks import BenchmarkOptions


def run_chair(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """CHAIR on captions of a seeded subset of COCO val2014 images."""
    from lightning_csr.evaluation.coco import CHAIR_NUM_IMAGES, CHAIR_PROMPT, chair_images, evaluate_chair
    from lightning_csr.evaluation.coco.annotations import load_coco_ground_truth

    instances, images_dir = options.require("coco_instances", "images_dir")
    truth = load_coco_ground_truth(instances, options.coco_captions, options.chair_vocabulary)
    selection = chair_images(truth, images_dir, options.num_items or CHAIR_NUM_IMAGES, options.seed)
    requests = [
        Request(f"chair:{i}", CHAIR_PROMPT, path, options.budget) for i, path in selection.paths.items()
    ]
    answers = generate(requests, "CHAIR captions")
    result = evaluate_chair({i: answers[f"chair:{i}"] for i in selection.paths}, truth)
    per_image = result.pop("per_image")
    vocabulary = result.pop("vocabulary")
    for image_id, row in per_image.items():
        row["caption"] = answers[f"chair:{image_id}"]
    metrics = {k: v for k, v in result.items()}
    metrics["mean_words"] = mean_words(answers.values())
    return {
        "metrics": metrics,
        "details": {"per_image": per_image, "top_hallucinated": top_hallucinated(per_image.values())},
        "skipped": [f"image {i}: no file in {images_dir}" for i in selection.skipped],
        "notes": [] if vocabulary == "released" else [CHAIR_NOT_COMPARABLE],
    }


def run_pope(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """POPE accuracy, F1 and yes-ratio per split, from a question file or built from COCO annotations."""
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
        truth = load_coco_ground_truth(instances, options.coco_captions, options.chair_vocabulary)
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
        scored = evaluate_pope(
            present, {q.question_id: answers[key[q.question_id]] for q in present}, options.pope_parser
        )
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
    notes = [] if options.pope_parser == "released" else [POPE_NOT_COMPARABLE]
    return {"metrics": metrics, "details": details, "skipped": skipped, "notes": notes}


def run_mmhal(options: BenchmarkOptions, generate: CachedGenerator) -> dict[str, Any]:
    """MMHal-Bench answers, rated by an OpenAI-compatible judge when one is configured."""
    from lightning_csr.evaluation.judge import JudgeClient, JudgeSettings
    from lightning_csr.evaluation.mmhal import evaluate_mmhal, load_mmhal, missing_image_message
    from lightning_csr.evaluation.mmhal.released_evaluator import load_released_judge

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
        JudgeSettings(
            options.judge_base_url, options.judge_model, options.judge_key_env, cache_path=options.judge_cache
        )
    )
    released = load_released_judge(options.mmhal_evaluator) if options.mmhal_evaluator else None
    rated = evaluate_mmhal(items, judge, by_index, on_judge_error="zero", released=released)
    metrics = {f"mmhal/{k}": rated[k] for k in ("average_score", "hallucination_rate", "n_rated")}
    metrics.update({f"mmhal/type/{k}": v for k, v in rated["per_type"].items()})
    notes = [
        f"{len(rated[k])} {k.replace('_', ' ')}: {rated[k]}" for k in ("unparsed", "judge_failed") if rated[k]
    ]
    notes.append(MMHAL_RELEASED.format(released.source) if released else MMHAL_OUR_WORDING)
    details["ratings"] = rated["per_item"]
    return {"metrics": metrics, "details": details, "skipped": skipped, "notes": notes}


def mean_words(texts: Any) -> float:
    """Mean number of words per text."""
    texts = list(texts)
    return sum(len(t.split()) for t in texts) / max(len(texts), 1)


def top_hallucinated(rows: Any, count: int = 10) -> list[tuple[str, int]]:
    """The most often hallucinated objects over per-image/per-scene rows with a `hallucinated` list."""
    return Counter(name for row in rows for name in row["hallucinated"]).most_common(count)
