"""`RuleBasedInjector`: exactly `num_edits` fact edits (objects, attributes, relations) guided by statistics."""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lightning_csr.data.injection.base import Edit, HallucinationInjector, Injection, InjectionError
from lightning_csr.data.injection.vocabulary import InjectionVocabulary

EDIT_KINDS = ("object", "attribute", "relation")


@dataclass(frozen=True)
class Mention:
    """A span of the answer naming something editable: its kind, group (attribute kind / relation group)
    and canonical meaning."""

    kind: str
    group: str
    meaning: str
    start: int
    end: int
    surface: str
    plural: str = ""


def _pluralise(noun: str) -> str:
    """English plural of a simple noun ("cross" -> "crosses", "star" -> "stars")."""
    return noun + ("es" if noun.endswith(("s", "x", "z", "ch", "sh")) else "s")


def _match_case(template: str, text: str) -> str:
    """`text` with the first letter upper-cased when `template` starts with one."""
    return text[:1].upper() + text[1:] if template[:1].isupper() else text


class RuleBasedInjector(HallucinationInjector):
    """Edits exactly `num_edits` distinct facts of an answer; every edit changes the fact's meaning.

    * object: a mentioned object becomes the absent object (not in the answer, not in `present`) that
      co-occurs with it most (then with the other present objects, then the most frequent) — POVID's
      co-occurrence hallucination, exact on ShapeWorld.
    * attribute: a colour or size becomes another value, preferring the next object's prior colour.
    * relation: a position or relation phrase becomes one with another meaning from its group.

    Edits are drawn from a generator seeded by (seed, key), so a record always gets the same edits.
    """

    def __init__(
        self,
        vocabulary: InjectionVocabulary,
        num_edits: int = 2,
        kinds: Sequence[str] = EDIT_KINDS,
        seed: int = 0,
    ) -> None:
        if num_edits < 1:
            raise ValueError(f"num_edits must be >= 1, got {num_edits}")
        unknown = [k for k in kinds if k not in EDIT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {EDIT_KINDS}, got {list(kinds)}")
        self.vocabulary = vocabulary
        self.num_edits = num_edits
        self.kinds = tuple(kinds)
        self.seed = seed
        self._pattern, self._lookup = self._compile()

    def _compile(self) -> tuple[re.Pattern[str], dict[str, tuple[str, str, str]]]:
        """One regex over every editable phrase (longest first) and phrase -> (kind, group, meaning)."""
        lookup: dict[str, tuple[str, str, str]] = {}
        for obj, surfaces in self.vocabulary.objects.items():
            for surface in surfaces:
                lookup[surface.lower()] = ("object", "object", obj)
        for group, table in self.vocabulary.attributes.items():
            for surface, value in table.items():
                lookup.setdefault(surface.lower(), ("attribute", group, value))
        for group, table in self.vocabulary.relations.items():
            for phrase, meaning in table.items():
                lookup.setdefault(phrase.lower(), ("relation", group, meaning))
        phrases = sorted(lookup, key=len, reverse=True)
        alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)
        return re.compile(rf"\b({alternatives})(es|s)?\b", re.IGNORECASE), lookup

    def mentions(self, text: str) -> list[Mention]:
        """Editable spans of `text` in order (plural endings only count after object names)."""
        found = []
        for match in self._pattern.finditer(text):
            phrase = " ".join(match.group(1).lower().split())
            kind, group, meaning = self._lookup[phrase]
            plural = match.group(2) or ""
            if plural and kind != "object":
                continue
            found.append(Mention(kind, group, meaning, match.start(), match.end(), match.group(0), plural))
        return found

    # --------------------------------------------------------------- replacements
    def _object_replacement(self, mention: Mention, excluded: set[str], context: set[str]) -> str | None:
        """The absent object co-occurring most with the mentioned one, or None when every object is taken."""
        vocab = self.vocabulary
        candidates = [o for o in vocab.objects if o not in excluded]
        if not candidates:
            return None

        def rank(obj: str) -> tuple:
            together = sum(vocab.partners(p).get(obj, 0.0) for p in context)
            return (
                -vocab.partners(mention.meaning).get(obj, 0.0),
                -together,
                -vocab.frequency.get(obj, 0.0),
                obj,
            )

        return min(candidates, key=rank)

    def _attribute_replacement(self, mention: Mention, following: str | None, rng: random.Random) -> str:
        table = self.vocabulary.attributes[mention.group]
        values = sorted({v for v in table.values() if v != mention.meaning})
        priors = self.vocabulary.attribute_priors.get(following or "", {})
        preferred = [v for v in sorted(priors, key=lambda v: -priors[v]) if v in values]
        value = preferred[0] if preferred and mention.group == "colour" else rng.choice(values)
        return next(s for s, v in table.items() if v == value)

    def _relation_replacement(self, mention: Mention, rng: random.Random) -> str:
        table = self.vocabulary.relations[mention.group]
        options = sorted(p for p, m in table.items() if m != mention.meaning)
        return rng.choice(options)

    # -------------------------------------------------------------------- inject
    def inject(
        self, answer: str, key: str = "", prompt: str = "", present: Collection[str] = ()
    ) -> Injection:
        """`answer` with exactly `num_edits` facts changed; InjectionError when it has too few editable facts."""
        rng = random.Random(f"{self.seed}|{key}|{answer}")
        mentions = self.mentions(answer)
        pool = {k: [m for m in mentions if m.kind == k] for k in self.kinds}
        mentioned = {m.meaning for m in mentions if m.kind == "object"}
        excluded = set(present) | mentioned
        chosen: list[tuple[Mention, str]] = []
        while len(chosen) < self.num_edits:
            kinds = [k for k in self.kinds if pool[k]]
            if not kinds:
                raise InjectionError(
                    f"{key or 'answer'}: only {len(chosen)} editable facts of kinds {list(self.kinds)}, "
                    f"{self.num_edits} requested: {answer!r}"
                )
            kind = rng.choice(kinds)
            mention = pool[kind].pop(rng.randrange(len(pool[kind])))
            if kind == "object":
                replacement = self._object_replacement(mention, excluded, set(present) | mentioned)
                if replacement is None:
                    continue
                excluded.add(replacement)
                after = (
                    _pluralise(self.vocabulary.objects[replacement][0])
                    if mention.plural
                    else (self.vocabulary.objects[replacement][0])
                )
            elif kind == "attribute":
                following = next(
                    (m.meaning for m in mentions if m.kind == "object" and m.start > mention.start), None
                )
                after = self._attribute_replacement(mention, following, rng)
            else:
                after = self._relation_replacement(mention, rng)
            chosen.append((mention, _match_case(mention.surface, after)))
        text, edits = answer, []
        for mention, after in sorted(chosen, key=lambda item: -item[0].start):
            text = text[: mention.start] + after + text[mention.end :]
            edits.append(Edit(mention.kind, mention.surface, after, mention.start))
        if text == answer:  # unreachable: every edit changes a disjoint span's meaning
            raise InjectionError(f"{key or 'answer'}: the edits left the answer unchanged")
        return Injection(text, sorted(edits, key=lambda e: e.start))
