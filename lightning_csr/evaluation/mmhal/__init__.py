"""MMHal-Bench: local data loading, the LLM-judge prompt and scoring."""

from lightning_csr.evaluation.mmhal.data import (
    MMHAL_NUM_ITEMS,
    MMHalData,
    MMHalItem,
    image_candidates,
    load_mmhal,
    missing_image_message,
)
from lightning_csr.evaluation.mmhal.evaluate import evaluate_mmhal, summarise_ratings
from lightning_csr.evaluation.mmhal.prompt import build_judge_prompt, parse_rating

__all__ = [
    "MMHAL_NUM_ITEMS",
    "MMHalData",
    "MMHalItem",
    "build_judge_prompt",
    "evaluate_mmhal",
    "image_candidates",
    "load_mmhal",
    "missing_image_message",
    "parse_rating",
    "summarise_ratings",
]
