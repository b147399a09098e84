"""AMBER's generative metrics (CHAIR, Cover, Hal, Cog) from descriptions, judge-free and offline.

The released scorer (`inference.py`) extracts nouns with NLTK (POS tags NN*, WordNet noun lemmas, case kept),
keeps those in AMBER's vocabulary (the keys and values of `relation.json`), and for every noun in turn (with
repetition): a safe word (`safe_words.txt`) is skipped; a noun equal to an image object or to one of its
associated words covers that object (the first match in the order: associations of each object, then the
objects) and is not a hallucination; otherwise a noun matching a hallucination-prone object (same order) marks
that object, then spaCy word vectors (similarity > 0.8) may still match a hallucination-prone or an image object;
a noun that matched no image object is a hallucination.
CHAIR = hallucinated nouns / nouns; Cover = covered objects / objects; Hal = share of descriptions with a
hallucination; Cog = hallucination-prone objects mentioned / hallucination-prone objects.

Where this may differ (NLTK's tagger and WordNet, and spaCy's `en_core_web_lg`, cannot be had here):
- nouns: the CHAIR matcher's tokeniser and rule-based singular (`coco/released.py`, case kept as AMBER keeps it)
  without a POS tagger: a vocabulary word used as a verb or adjective (`watch`, `drink`, `support`) counts as a
  noun here; only `can` and `hot`, almost never nouns in descriptions, are left out in that form.
- near-synonyms: no word vectors, so only exact words and the listed associations match unless `similar`
  (e.g. a spaCy similarity > 0.8) is given: without it a near-synonym the original accepts (`puppy` for `dog`)
  counts as a hallucination here, so CHAIR and Hal can be higher and Cover and Cog lower.
- the released scorer starts each denominator at 0.001 (no division by zero); here an empty count gives 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightning_csr.evaluation.amber.data import AmberAnnotation
from lightning_csr.evaluation.coco.released import lemmatize_noun, tokenize_caption

NON_NOUN_READINGS: frozenset[str] = frozenset({"can", "hot"})  # a modal verb and an adjective in descriptions

Similar = Callable[[str, str], bool]


def vocabulary(associations: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """Every word AMBER scores: the objects of `relation.json` and their associated words."""
    return frozenset(associations).union(*associations.values())


def extract_nouns(text: str, words: frozenset[str]) -> list[str]:
    """The description's vocabulary words in reading order, with repetition, as noun lemmas (case kept)."""
    tokens = [token for token in tokenize_caption(text, lower=False) if token not in NON_NOUN_READINGS]
    return [lemma for lemma in map(lemmatize_noun, tokens) if lemma in words]


def _candidates(objects: Sequence[str], associations: Mapping[str, Sequence[str]]) -> list[tuple[str, int]]:
    """(word, object index): each object's associated words first, then the objects themselves."""
    related = [(word, index) for index, name in enumerate(objects) for word in associations[name]]
    return related + [(name, index) for index, name in enumerate(objects)]


def _first(noun: str, candidates: list[tuple[str, int]], similar: Similar | None = None) -> int | None:
    """Index of the object behind the first candidate equal (or, with `similar`, similar) to the noun."""
    for word, index in candidates:
        if similar(noun, word) if similar else noun == word:
            return index
    return None


def score_description(
    text: str,
    annotation: AmberAnnotation,
    associations: Mapping[str, Sequence[str]],
    safe_words: frozenset[str] = frozenset(),
    similar: Similar | None = None,
) -> dict[str, Any]:
    """Nouns, hallucinated nouns, covered image objects and mentioned hallucination-prone objects of one text."""
    nouns = extract_nouns(text, vocabulary(associations))
    safe, prone = _candidates(annotation.truth, associations), _candidates(annotation.hallu, associations)
    covered, mentioned, hallucinated = set(), set(), []
    for noun in nouns:
        if noun in safe_words:
            continue
        index = _first(noun, safe)
        if index is not None:
            covered.add(index)
            continue
        index = _first(noun, prone)
        if index is not None:
            mentioned.add(index)
        if similar is not None:
            index = _first(noun, prone, similar)
            if index is not None:
                mentioned.add(index)
            index = _first(noun, safe, similar)
            if index is not None:
                covered.add(index)
                continue
        hallucinated.append(noun)
    return {
        "nouns": nouns,
        "hallucinated": hallucinated,
        "covered": sorted(annotation.truth[i] for i in covered),
        "cognitive": sorted(annotation.hallu[i] for i in mentioned),
        "n_truth": len(annotation.truth),
        "n_hallu": len(annotation.hallu),
        "n_covered": len(covered),
        "n_cognitive": len(mentioned),
    }


def summarise_generative(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """CHAIR, Cover, Hal and Cog (fractions, not AMBER's percentages) over scored descriptions."""

    def ratio(numerator: float, denominator: float) -> float:
        return numerator / denominator if denominator else 0.0

    return {
        "chair": ratio(sum(len(r["hallucinated"]) for r in rows), sum(len(r["nouns"]) for r in rows)),
        "cover": ratio(sum(r["n_covered"] for r in rows), sum(r["n_truth"] for r in rows)),
        "hal": ratio(sum(bool(r["hallucinated"]) for r in rows), len(rows)),
        "cog": ratio(sum(r["n_cognitive"] for r in rows), sum(r["n_hallu"] for r in rows)),
        "n_generative": len(rows),
    }
