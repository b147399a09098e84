"""CHAIR (Rohrbach et al. 2018) on COCO val2014 captions produced by a model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.coco.annotations import (
    CocoGroundTruth,
    ImageSelection,
    locate_images,
    sample_image_ids,
)
from lightning_csr.evaluation.coco.vocabularies import DEFAULT_CHAIR_VOCABULARY, chair_vocabulary
from lightning_csr.evaluation.metrics import CHAIRMetric

CHAIR_NUM_IMAGES = 500
CHAIR_PROMPT = "Please describe this image in detail."
CHAIR_MAX_NEW_TOKENS = 512
CHAIR_SEED = 0


def chair_images(
    truth: CocoGroundTruth,
    images_dir: str | Path,
    num_images: int = CHAIR_NUM_IMAGES,
    seed: int = CHAIR_SEED,
) -> ImageSelection:
    """The seeded CHAIR image sample; the sample does not depend on which files exist locally."""
    return locate_images(truth, sample_image_ids(truth.objects.keys(), num_images, seed), images_dir)


def evaluate_chair(
    answers: Mapping[int, str],
    annotations: CocoGroundTruth | Mapping[int, set[str]],
    vocabulary: str | None = None,
) -> dict[str, Any]:
    """CHAIR_S, CHAIR_I (mentions with repetition), recall and `len` (mean words per caption after the
    two-word pass) over `answers` (image id → caption), with per-image details.

    `vocabulary`: the CHAIR vocabulary; by default the one the ground truth was built with ("released").
    """
    if isinstance(annotations, CocoGroundTruth):
        truth, vocabulary = annotations.objects, vocabulary or annotations.vocabulary
    else:
        truth = annotations
    matcher = chair_vocabulary(vocabulary or DEFAULT_CHAIR_VOCABULARY)
    unknown = [image_id for image_id in answers if image_id not in truth]
    if unknown:
        raise ValueError(
            f"{len(unknown)} answer image ids are not in the annotations (first: {unknown[:5]}); "
            "are these the right annotation files?"
        )
    image_ids = list(answers)
    mentioned = [[node for _, node in matcher.mentions(answers[image_id])] for image_id in image_ids]
    expected = [set(truth[image_id]) for image_id in image_ids]
    metric = CHAIRMetric()
    if image_ids:
        metric.update(mentioned, expected)
    result: dict[str, Any] = {key: _plain(value) for key, value in metric.compute().items()}
    words = [len(matcher.words(answers[image_id])) for image_id in image_ids]
    result["len"] = sum(words) / len(words) if words else 0.0
    result["vocabulary"] = vocabulary or DEFAULT_CHAIR_VOCABULARY
    result["per_image"] = {
        image_id: {
            "mentioned": found,
            "hallucinated": [name for name in found if name not in gold],
            "truth": sorted(gold),
        }
        for image_id, found, gold in zip(image_ids, mentioned, expected, strict=True)
    }
    return result


def _plain(value: Any) -> Any:
    """Turn 0-d tensors into Python numbers so results serialise to JSON."""
    return value.item() if hasattr(value, "item") else value
