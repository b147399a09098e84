"""What a rule-based injector may edit: objects, attribute values and relation phrases, with their statistics."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import permutations
from pathlib import Path
from typing import Any

COCO_COLOURS: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "black", "white", "brown", "orange", "pink", "purple", "gray", "grey",
)  # fmt: skip
COCO_SIZES: tuple[str, ...] = ("small", "large", "big", "tiny", "little")
# phrase -> meaning; a relation edit always changes the meaning
COCO_RELATIONS: dict[str, str] = {
    "on top of": "above", "above": "above", "below": "below", "under": "below", "underneath": "below",
    "to the left of": "left", "to the right of": "right", "in front of": "front", "behind": "behind",
    "next to": "beside", "beside": "beside", "inside": "inside", "far from": "far",
}  # fmt: skip


@dataclass
class InjectionVocabulary:
    """Editable words of a domain and the statistics that make an edit plausible.

    Attributes:
        objects: canonical object -> surface forms (the first is written when the object is inserted).
        attributes: attribute kind -> {surface: canonical value}.
        relations: relation group -> {phrase: meaning}; phrases are only swapped within a group.
        co_occurrence: object -> {partner: strength}, symmetric (scene counts or prior probabilities).
        frequency: object -> how common it is (tie-break when nothing co-occurs).
        attribute_priors: object -> {value: probability} (e.g. hearts tend to be red).
    """

    objects: dict[str, list[str]]
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    relations: dict[str, dict[str, str]] = field(default_factory=dict)
    co_occurrence: dict[str, dict[str, float]] = field(default_factory=dict)
    frequency: dict[str, float] = field(default_factory=dict)
    attribute_priors: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.objects) < 2:
            raise ValueError("InjectionVocabulary.objects: needs at least two objects to swap between")
        for name, surfaces in self.objects.items():
            if not surfaces:
                raise ValueError(f"InjectionVocabulary.objects[{name!r}]: no surface form")

    def partners(self, obj: str) -> dict[str, float]:
        """How strongly each other object co-occurs with `obj`."""
        return self.co_occurrence.get(obj, {})

    # ---------------------------------------------------------------- builders
    @classmethod
    def coco(cls, object_sets: Iterable[Iterable[str]] = ()) -> InjectionVocabulary:
        """COCO-80 category names, common colours/sizes and spatial relations; stats from per-image object sets."""
        from lightning_csr.evaluation.coco.synonyms import load_synonyms

        sets = [set(s) for s in object_sets]
        pairs = Counter((a, b) for s in sets for a, b in permutations(sorted(s), 2))
        return cls(
            objects={name: [name] for name in load_synonyms()},
            attributes={
                "colour": {c: ("gray" if c == "grey" else c) for c in COCO_COLOURS},
                "size": {
                    s: {"big": "large", "tiny": "small", "little": "small"}.get(s, s) for s in COCO_SIZES
                },
            },
            relations={"spatial": dict(COCO_RELATIONS)},
            co_occurrence=symmetric({k: float(v) for k, v in pairs.items()}),
            frequency={k: float(v) for k, v in Counter(o for s in sets for o in s).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> InjectionVocabulary:
        """Read a vocabulary written by `save`."""
        return cls(**json.loads(Path(path).read_text()))


def symmetric(strengths: dict[tuple[str, str], float]) -> dict[str, dict[str, float]]:
    """{a: {b: s(a, b) + s(b, a)}} from directed pair strengths."""
    table: dict[str, dict[str, float]] = {}
    for (a, b), value in strengths.items():
        if a == b:
            continue
        table.setdefault(a, {}).setdefault(b, 0.0)
        table.setdefault(b, {}).setdefault(a, 0.0)
        table[a][b] += value
        table[b][a] += value
    return table
