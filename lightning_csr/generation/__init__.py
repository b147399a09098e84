"""Sentence-level search with KV-cache reuse, and preference-pair curation from its trees."""

from lightning_csr.generation.pairs import Curation, curate_pairs, image_relevance
from lightning_csr.generation.search import ImageScorer, sentence_search, sentence_text
from lightning_csr.generation.settings import SearchSettings
from lightning_csr.generation.tree import SearchTree, SentenceNode

__all__ = [
    "Curation",
    "ImageScorer",
    "SearchSettings",
    "SearchTree",
    "SentenceNode",
    "curate_pairs",
    "image_relevance",
    "sentence_search",
    "sentence_text",
]
