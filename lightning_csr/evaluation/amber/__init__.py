"""AMBER (Wang et al. 2023): an LLM-free hallucination benchmark, generative and discriminative, scored offline."""

from lightning_csr.evaluation.amber.data import AmberAnnotation, AmberData, AmberQuery, load_amber
from lightning_csr.evaluation.amber.discriminative import normalise_answer, score_discriminative
from lightning_csr.evaluation.amber.generative import extract_nouns, score_description, summarise_generative

__all__ = [
    "AmberAnnotation",
    "AmberData",
    "AmberQuery",
    "extract_nouns",
    "load_amber",
    "normalise_answer",
    "score_description",
    "score_discriminative",
    "summarise_generative",
]
