"""The two CHAIR object vocabularies by name: "released" (the protocol papers report) and "extended" (ours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lightning_csr.evaluation.coco.matcher import find_coco_mentions
from lightning_csr.evaluation.coco.released import released_matcher
from lightning_csr.evaluation.coco.synonyms import default_phrase_table, tokenize

CHAIR_VOCABULARIES: tuple[str, ...] = ("released", "extended")
DEFAULT_CHAIR_VOCABULARY = "released"


class ChairVocabulary(Protocol):
    """Finds COCO objects in text and maps category names onto its node words."""

    @property
    def categories(self) -> list[str]: ...

    def words(self, text: str) -> list[str]: ...

    def mentions(self, text: str) -> list[tuple[str, str]]: ...

    def node(self, category: str) -> str: ...


@dataclass(frozen=True)
class ExtendedMatcher:
    """Our longer synonym list (`coco_synonyms.json`), longest phrase first; not comparable with papers."""

    @property
    def categories(self) -> list[str]:
        return sorted(set(default_phrase_table().values()))

    def words(self, text: str) -> list[str]:
        return tokenize(text)

    def mentions(self, text: str) -> list[tuple[str, str]]:
        return find_coco_mentions(text)

    def node(self, category: str) -> str:
        return default_phrase_table().get(tuple(tokenize(category)), category)


def chair_vocabulary(name: str = DEFAULT_CHAIR_VOCABULARY) -> ChairVocabulary:
    """The named vocabulary: "released" (default, comparable with papers) or "extended"."""
    if name == "released":
        return released_matcher()
    if name == "extended":
        return ExtendedMatcher()
    raise ValueError(f"unknown CHAIR vocabulary {name!r}; expected one of {', '.join(CHAIR_VOCABULARIES)}")
