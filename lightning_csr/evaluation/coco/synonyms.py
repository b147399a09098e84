"""The COCO-80 synonym list (package data) and its phrase lookup table."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

from lightning_csr.evaluation.coco.singular import singularize

SYNONYMS_FILE = "coco_synonyms.json"
_WORD = re.compile(r"[a-z0-9]+")

# Animal categories: "baby elephant" is an elephant, not a person plus an elephant.
ANIMAL_CATEGORIES: frozenset[str] = frozenset(
    {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}
)
# Person words that, placed before an animal, only describe it.
ANIMAL_MODIFIERS: frozenset[str] = frozenset({"baby", "adult", "mother", "male", "female", "young"})
VEHICLE_CATEGORIES: frozenset[str] = frozenset({"airplane", "bus", "train", "car", "boat"})
VEHICLE_MODIFIERS: frozenset[str] = frozenset({"passenger"})


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens with possessive 's removed and every token singularised."""
    lowered = re.sub(r"['’]s\b", "", text.lower())
    return [singularize(word) for word in _WORD.findall(lowered)]


def load_synonyms() -> dict[str, list[str]]:
    """Read the category → synonyms mapping shipped with the package."""
    source = resources.files("lightning_csr.evaluation.coco").joinpath(SYNONYMS_FILE)
    return json.loads(source.read_text(encoding="utf-8"))


def build_phrase_table(synonyms: Mapping[str, list[str]]) -> dict[tuple[str, ...], str]:
    """Map each synonym (as a tuple of singular tokens) to its category; compound phrases included."""
    table: dict[tuple[str, ...], str] = {}
    for category, words in synonyms.items():
        for word in [category, *words]:
            key = tuple(tokenize(word))
            if table.get(key, category) != category:
                raise ValueError(f"synonym {word!r} is listed under both {table[key]!r} and {category!r}")
            table[key] = category
    _add_modified(table, ANIMAL_CATEGORIES, ANIMAL_MODIFIERS)
    _add_modified(table, VEHICLE_CATEGORIES, VEHICLE_MODIFIERS)
    return table


def _add_modified(
    table: dict[tuple[str, ...], str], heads: frozenset[str], modifiers: frozenset[str]
) -> None:
    """Add "<modifier> <head synonym>" phrases that resolve to the head's category only."""
    for key, category in list(table.items()):
        if category in heads:
            for modifier in modifiers:
                table.setdefault((modifier, *key), category)


@lru_cache(maxsize=1)
def default_phrase_table() -> dict[tuple[str, ...], str]:
    """The phrase table built from the packaged synonym list (cached)."""
    return build_phrase_table(load_synonyms())
