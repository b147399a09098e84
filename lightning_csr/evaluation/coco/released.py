"""CHAIR's released object matcher: the released synonym list, its two-word rules, and a word lemmatiser.

The protocol papers report (Rohrbach et al. 2018, as run by OPERA, LURE, CSR, POVID): lower-case the caption,
tokenise it (NLTK `word_tokenize`), lemmatise every token with WordNet using its POS tag (nouns by default), join
the listed two-word phrases left to right, drop `seat` when `toilet` also occurs, keep the words that are in the
released list and map each to its line's first word (the node word). Mentions count with repetition.

The list is read as released, quirks included: `iPhone` never matches a lower-cased caption, and ` motor bike` /
` cheesecake` (a stray double space in the file) never match either.

Where this differs from the original (no NLTK data here, so no POS tagger and no WordNet):
- tokens: runs of letters and digits (joined by `-`, `.`, `/`), clitics (`'s`, `n't`) and single punctuation
  marks; NLTK's Punkt/Treebank tokeniser agrees on ordinary captions but may split odd punctuation differently
  (only `len` sees punctuation tokens).
- lemmas: every word is singularised by rule (`singular.py`, irregular plurals listed), whatever its part of
  speech. WordNet keeps a plural it does not know (e.g. a rare synonym such as `firetrucks`) and lemmatises a
  verb as a verb; of the verb forms whose lemma is a listed word, only the common ones in `VERB_LEMMAS` are
  mapped (`skiing` -> `ski`, `seated` -> `seat`), always, where the original follows the tagger (a `skiing`
  tagged as a noun stays `skiing` there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lightning_csr.evaluation.coco.singular import singularize

RELEASED_SYNONYMS_FILE = "chair_synonyms.txt"

# two-word phrases the protocol joins before lookup; each maps to itself unless listed in PAIR_REPLACEMENTS
DOUBLE_WORDS: tuple[str, ...] = (
    "motor bike", "motor cycle", "air plane", "traffic light", "street light", "traffic signal", "stop light",
    "fire hydrant", "stop sign", "parking meter", "suit case", "sports ball", "baseball bat", "baseball glove",
    "tennis racket", "wine glass", "hot dog", "cell phone", "mobile phone", "teddy bear", "hair drier",
    "potted plant", "bow tie", "laptop computer", "stove top oven", "home plate", "train track",
)  # fmt: skip
# "baby X" / "adult X" is the animal X, not a person
ANIMAL_WORDS: tuple[str, ...] = (
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "animal", "cub",
)  # fmt: skip
PASSENGER_VEHICLES: tuple[str, ...] = ("jet", "train")
PAIR_REPLACEMENTS: dict[str, str] = {"bow tie": "tie", "toilet seat": "toilet", "wine glas": "wine glass"}

# verb forms whose WordNet verb lemma is a listed word (the tagger's usual reading in captions)
VERB_LEMMAS: dict[str, str] = {
    "skiing": "ski", "skied": "ski", "skateboarding": "skateboard", "skateboarded": "skateboard",
    "snowboarding": "snowboard", "snowboarded": "snowboard", "biking": "bike", "biked": "bike",
    "seated": "seat", "tied": "tie", "tying": "tie",
}  # fmt: skip

# plurals WordNet keeps as they are (our singulariser maps them further)
WORDNET_KEEPS: frozenset[str] = frozenset({"people"})

_TOKEN = re.compile(r"n't|'[a-z]+|[a-z0-9]+(?:[-./][a-z0-9]+)*|[^\sa-z0-9]", re.IGNORECASE)


def tokenize_caption(text: str, lower: bool = True) -> list[str]:
    """Word, clitic and punctuation tokens, in the spirit of NLTK's `word_tokenize` (lower-cased by default)."""
    text = text.replace("’", "'")
    return _TOKEN.findall(text.lower() if lower else text)


def lemmatize_noun(token: str) -> str:
    """The token's noun lemma: the rule-based singular (WordNet's for `people`)."""
    return token if token in WORDNET_KEEPS else singularize(token)


def lemmatize(token: str) -> str:
    """The token's lemma: listed verb forms first, else its noun lemma."""
    return VERB_LEMMAS.get(token) or lemmatize_noun(token)


def load_released_synonyms() -> list[list[str]]:
    """The released list, one line per COCO category, split on ", " exactly as the protocol does."""
    source = resources.files("lightning_csr.evaluation.coco").joinpath(RELEASED_SYNONYMS_FILE)
    lines = source.read_text(encoding="utf-8").splitlines()
    return [line.strip().split(", ") for line in lines if line.strip()]


@dataclass(frozen=True)
class ReleasedMatcher:
    """Surface word -> node word (a later line wins, as in the original) and the two-word rules."""

    node_of: dict[str, str]
    pairs: dict[str, str]

    @property
    def categories(self) -> list[str]:
        """The 80 node words."""
        return sorted(set(self.node_of.values()))

    def words(self, text: str) -> list[str]:
        """The caption's lemmas after the two-word pass (the protocol's `Len` counts these)."""
        lemmas = [lemmatize(token) for token in tokenize_caption(text)]
        joined: list[str] = []
        index = 0
        while index < len(lemmas):
            pair = " ".join(lemmas[index : index + 2])
            if index + 1 < len(lemmas) and pair in self.pairs:
                joined.append(self.pairs[pair])
                index += 2
            else:
                joined.append(lemmas[index])
                index += 1
        return joined

    def mentions(self, text: str) -> list[tuple[str, str]]:
        """(surface word, node word) for every listed word in the caption, with repetition, in order."""
        words = self.words(text)
        if "toilet" in words and "seat" in words:
            words = [word for word in words if word != "seat"]
        return [(word, self.node_of[word]) for word in words if word in self.node_of]

    def node(self, category: str) -> str:
        """The node word of a COCO category name (instances file); unknown names are an error."""
        if category not in self.node_of:
            raise ValueError(
                f"COCO category {category!r} is not in the released CHAIR synonym list; "
                "is this a COCO 2014/2017 instances file?"
            )
        return self.node_of[category]


@lru_cache(maxsize=1)
def released_matcher() -> ReleasedMatcher:
    """The matcher built from the packaged released list (cached)."""
    node_of = {word: line[0] for line in load_released_synonyms() for word in line}
    pairs = {phrase: phrase for phrase in DOUBLE_WORDS}
    for animal in ANIMAL_WORDS:
        pairs[f"baby {animal}"] = pairs[f"adult {animal}"] = animal
    for vehicle in PASSENGER_VEHICLES:
        pairs[f"passenger {vehicle}"] = vehicle
    pairs.update(PAIR_REPLACEMENTS)
    return ReleasedMatcher(node_of, pairs)
