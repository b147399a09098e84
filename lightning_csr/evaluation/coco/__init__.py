"""CHAIR on COCO: the released synonym list and rules (default) or our extended list, ground truth, scoring."""

from lightning_csr.evaluation.coco.annotations import (
    CocoGroundTruth,
    ImageSelection,
    load_coco_ground_truth,
    locate_images,
    sample_image_ids,
)
from lightning_csr.evaluation.coco.chair import (
    CHAIR_MAX_NEW_TOKENS,
    CHAIR_NUM_IMAGES,
    CHAIR_PROMPT,
    CHAIR_SEED,
    chair_images,
    evaluate_chair,
)
from lightning_csr.evaluation.coco.matcher import extract_coco_objects, find_coco_mentions
from lightning_csr.evaluation.coco.released import ReleasedMatcher, released_matcher
from lightning_csr.evaluation.coco.singular import singularize
from lightning_csr.evaluation.coco.synonyms import build_phrase_table, load_synonyms
from lightning_csr.evaluation.coco.vocabularies import CHAIR_VOCABULARIES, chair_vocabulary

__all__ = [
    "CHAIR_MAX_NEW_TOKENS",
    "CHAIR_NUM_IMAGES",
    "CHAIR_PROMPT",
    "CHAIR_SEED",
    "CHAIR_VOCABULARIES",
    "CocoGroundTruth",
    "ImageSelection",
    "ReleasedMatcher",
    "build_phrase_table",
    "chair_images",
    "chair_vocabulary",
    "evaluate_chair",
    "extract_coco_objects",
    "find_coco_mentions",
    "load_coco_ground_truth",
    "load_synonyms",
    "locate_images",
    "released_matcher",
    "sample_image_ids",
    "singularize",
]
