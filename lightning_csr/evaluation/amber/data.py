"""Read AMBER's released `data/` folder: a query file, `annotations.json`, `relation.json`, `safe_words.txt`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_csr.evaluation.json_files import read_json

# --amber-split -> the released query file
QUERY_FILES: dict[str, str] = {
    "all": "query_all.json",
    "generative": "query_generative.json",
    "discriminative": "query_discriminative.json",
    "existence": "query_discriminative-existence.json",
    "attribute": "query_discriminative-attribute.json",
    "relation": "query_discriminative-relation.json",
}
# annotation type -> the dimension AMBER reports it under (any other discriminative type is a relation)
DIMENSIONS: dict[str, str] = {
    "discriminative-hallucination": "existence",
    "discriminative-attribute-state": "attribute",
    "discriminative-attribute-number": "attribute",
    "discriminative-attribute-action": "attribute",
}


@dataclass(frozen=True)
class AmberQuery:
    """One query: its id, image file name and prompt."""

    id: int
    image: str
    query: str


@dataclass(frozen=True)
class AmberAnnotation:
    """Generative: objects in the image (`truth`) and hallucination-prone ones (`hallu`); else a yes/no truth."""

    id: int
    type: str
    truth: tuple[str, ...] | str
    hallu: tuple[str, ...] = ()

    @property
    def generative(self) -> bool:
        return self.type == "generative"

    @property
    def dimension(self) -> str:
        """generative, existence, attribute or relation."""
        return "generative" if self.generative else DIMENSIONS.get(self.type, "relation")


@dataclass
class AmberData:
    """The queries of one split, every annotation by id, the word associations and the safe words."""

    queries: list[AmberQuery]
    annotations: dict[int, AmberAnnotation]
    associations: dict[str, tuple[str, ...]]
    safe_words: frozenset[str] = field(default_factory=frozenset)


def _json(path: Path, kind: type) -> Any:
    return read_json(path, "AMBER", kind, hint="point --amber-dir at AMBER's data/ folder")


def _entry(entry: Any, index: int, path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: entry [{index}] is not a JSON object")
    missing = [key for key in keys if key not in entry]
    if missing:
        raise ValueError(f"{path}: entry [{index}] is missing field {missing[0]!r}")
    return entry


def _annotation(entry: dict[str, Any], index: int, path: Path) -> AmberAnnotation:
    if entry["type"] == "generative":
        entry = _entry(entry, index, path, ("hallu",))
        for name in ("truth", "hallu"):
            if not isinstance(entry[name], list):
                raise ValueError(
                    f"{path}: entry [{index}] (id {entry['id']}): {name!r} must be a list of words"
                )
        return AmberAnnotation(entry["id"], "generative", tuple(entry["truth"]), tuple(entry["hallu"]))
    if entry["truth"] not in ("yes", "no"):
        raise ValueError(f"{path}: entry [{index}] (id {entry['id']}): 'truth' must be 'yes' or 'no'")
    return AmberAnnotation(entry["id"], entry["type"], entry["truth"])


def _associations(data: dict[str, Any], path: Path) -> dict[str, tuple[str, ...]]:
    """Object -> associated words; each value must be a list of words."""
    wrong = [word for word, related in data.items() if not isinstance(related, list)]
    if wrong:
        raise ValueError(f"{path}: the value of {wrong[0]!r} must be a list of associated words")
    return {word: tuple(related) for word, related in data.items()}


def load_amber(data_dir: str | Path, split: str = "all") -> AmberData:
    """The split's queries with their annotations; every generative object must have an association entry."""
    if split not in QUERY_FILES:
        raise ValueError(f"unknown AMBER split {split!r}; expected one of {', '.join(QUERY_FILES)}")
    data_dir = Path(data_dir)
    query_path = data_dir / "query" / QUERY_FILES[split]
    queries = [
        AmberQuery(int(e["id"]), str(e["image"]), str(e["query"]))
        for e in (
            _entry(e, i, query_path, ("id", "image", "query")) for i, e in enumerate(_json(query_path, list))
        )
    ]
    annotation_path = data_dir / "annotations.json"
    annotations: dict[int, AmberAnnotation] = {}
    for index, raw in enumerate(_json(annotation_path, list)):
        entry = _entry(raw, index, annotation_path, ("id", "type", "truth"))
        annotations[entry["id"]] = _annotation(entry, index, annotation_path)
    relation_path = data_dir / "relation.json"
    associations = _associations(_json(relation_path, dict), relation_path)
    safe_path = data_dir / "safe_words.txt"
    safe_words = (
        frozenset(safe_path.read_text(encoding="utf-8").split()) if safe_path.is_file() else frozenset()
    )
    for query in queries:
        annotation = annotations.get(query.id)
        if annotation is None:
            raise ValueError(f"{query_path}: query id {query.id} has no entry in {annotation_path}")
        if annotation.generative:
            unknown = [w for w in (*annotation.truth, *annotation.hallu) if w not in associations]
            if unknown:
                raise ValueError(
                    f"{annotation_path}: id {query.id}: object {unknown[0]!r} is not a key of {relation_path}"
                )
    return AmberData(queries, annotations, associations, safe_words)
