"""Find COCO objects mentioned in free text, longest phrase first."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from lightning_csr.evaluation.coco.synonyms import default_phrase_table, tokenize


def find_coco_mentions(
    text: str, table: Mapping[tuple[str, ...], str] | None = None
) -> list[tuple[str, str]]:
    """Return (matched phrase, COCO category) pairs in reading order."""
    table = default_phrase_table() if table is None else table
    longest = _default_longest() if table is default_phrase_table() else _compute_longest(table)
    tokens = tokenize(text)
    mentions: list[tuple[str, str]] = []
    start = 0
    while start < len(tokens):
        for length in range(min(longest, len(tokens) - start), 0, -1):
            phrase = tuple(tokens[start : start + length])
            if phrase in table:
                mentions.append((" ".join(phrase), table[phrase]))
                start += length
                break
        else:
            start += 1
    return mentions


def _compute_longest(table: Mapping[tuple[str, ...], str]) -> int:
    """Number of tokens in the longest phrase."""
    return max((len(key) for key in table), default=1)


@lru_cache(maxsize=1)
def _default_longest() -> int:
    """The longest phrase length of the cached default table."""
    return _compute_longest(default_phrase_table())


def extract_coco_objects(text: str, table: Mapping[tuple[str, ...], str] | None = None) -> set[str]:
    """Return the set of COCO category names mentioned in `text`."""
    return {category for _, category in find_coco_mentions(text, table)}
