"""AMBER on hand-written files in AMBER's released layout, with expected values computed by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from lightning_csr.evaluation.amber import (
    AmberAnnotation,
    extract_nouns,
    load_amber,
    normalise_answer,
    score_description,
)
from lightning_csr.evaluation.amber.generative import vocabulary
from lightning_csr.evaluation.benchmarks import BenchmarkOptions, run_benchmark
from tests.evaluation.test_chair_released import scripted

RELATION = {
    "dog": ["puppy"], "person": ["man", "woman", "people"], "man": ["person", "people"], "grass": ["ground"],
    "cat": [], "frisbee": [], "car": ["vehicle"], "tree": ["forest"], "forest": ["tree"], "sky": [],
    "bench": ["chair"], "light": [], "can": [],
}  # fmt: skip
ANNOTATIONS = [
    {"id": 1, "type": "generative", "truth": ["dog", "grass", "person"], "hallu": ["cat", "frisbee", "car"]},
    {"id": 2, "type": "generative", "truth": ["tree", "sky"], "hallu": ["bench", "dog"]},
    {"id": 3, "type": "discriminative-hallucination", "truth": "yes"},
    {"id": 4, "type": "discriminative-hallucination", "truth": "no"},
    {"id": 5, "type": "discriminative-attribute-state", "truth": "no"},
    {"id": 6, "type": "discriminative-attribute-number", "truth": "yes"},
    {"id": 7, "type": "discriminative-relation", "truth": "no"},
    {"id": 8, "type": "relation", "truth": "yes"},
]
ANSWERS = {
    1: "A man plays with two dogs on the grass. Cats can be seen near the light, and a puppy.",
    2: "Trees and a forest, a car by the bench.",
    3: "Yes, there is.",
    4: "No.",
    5: "Yes",
    6: "I am not sure",
    7: "no, they are apart",
    8: "No",
}


def write_amber(root: Path) -> tuple[Path, Path]:
    """AMBER's data/ folder (query/, annotations.json, relation.json, safe_words.txt) and an image folder."""
    data, images = root / "data", root / "image"
    (data / "query").mkdir(parents=True)
    images.mkdir()
    queries = [
        {"id": a["id"], "image": f"AMBER_{a['id']}.jpg", "query": "Describe this image."}
        if a["type"] == "generative"
        else {"id": a["id"], "image": "AMBER_1.jpg", "query": f"Is this question {a['id']}?"}
        for a in ANNOTATIONS
    ]
    (data / "query" / "query_all.json").write_text(json.dumps(queries))
    (data / "query" / "query_generative.json").write_text(json.dumps(queries[:2]))
    (data / "annotations.json").write_text(json.dumps(ANNOTATIONS))
    (data / "relation.json").write_text(json.dumps(RELATION))
    (data / "safe_words.txt").write_text("light\nsign")
    for name in ("AMBER_1.jpg", "AMBER_2.jpg"):
        Image.new("RGB", (4, 4)).save(images / name)
    return data, images


def test_nouns_keep_case_and_skip_the_modal_can() -> None:
    words = vocabulary(RELATION)
    # "Cats" stays capitalised (not in the vocabulary), "can" is the modal verb, "plays" is no vocabulary word
    assert extract_nouns(ANSWERS[1], words) == ["man", "dog", "grass", "light", "puppy"]
    assert extract_nouns("Two cans and the people.", words) == ["can", "people"]


def test_generative_scores_hand_computed(tmp_path: Path) -> None:
    data = load_amber(write_amber(tmp_path)[0])
    first = score_description(ANSWERS[1], data.annotations[1], data.associations, data.safe_words)
    # man covers person (first candidate: an association of person), dog and puppy cover dog, grass covers
    # grass, light is a safe word: 5 nouns, nothing hallucinated, cover 3/3, cog 0/3
    assert first["hallucinated"] == [] and first["covered"] == ["dog", "grass", "person"]
    assert (len(first["nouns"]), first["n_cognitive"]) == (5, 0)
    second = score_description(ANSWERS[2], data.annotations[2], data.associations, data.safe_words)
    # forest covers tree (an association); car (not annotated) and bench (hallucination-prone) are
    # hallucinations; bench is also the one hallucination-prone object mentioned: cover 1/2, cog 1/2
    assert second["hallucinated"] == ["car", "bench"]
    assert second["covered"] == ["tree"] and second["cognitive"] == ["bench"]


def test_similarity_plugs_in_like_the_released_word_vectors(tmp_path: Path) -> None:
    data = load_amber(write_amber(tmp_path)[0])
    similar = lambda noun, word: {noun, word} == {"car", "sky"}  # noqa: E731 (a toy stand-in for spaCy)
    second = score_description(ANSWERS[2], data.annotations[2], data.associations, data.safe_words, similar)
    assert second["hallucinated"] == ["bench"] and second["covered"] == ["sky", "tree"]


def test_amber_benchmark_reproduces_the_hand_computed_values(tmp_path: Path) -> None:
    data, images = write_amber(tmp_path)
    options = BenchmarkOptions("amber", amber_dir=str(data), images_dir=str(images))
    result = run_benchmark(options, scripted({f"amber:{i}": text for i, text in ANSWERS.items()}))
    metrics = result["metrics"]
    # generative: nouns 5 + 3, hallucinated 0 + 2 -> CHAIR 2/8; cover (3+1)/(3+2); Hal 1/2; Cog (0+1)/(3+2)
    assert metrics["amber/chair"] == pytest.approx(2 / 8)
    assert metrics["amber/cover"] == pytest.approx(4 / 5)
    assert metrics["amber/hal"] == pytest.approx(1 / 2)
    assert metrics["amber/cog"] == pytest.approx(1 / 5)
    # discriminative ("No" positive), first words: 3 Yes ✓, 4 No ✓ (tp), 5 Yes ✗ (fn), 6 neither (truth yes:
    # wrong, not a "No"), 7 No ✓ (tp), 8 No ✗ (fp): accuracy 3/6, precision 2/3, recall 2/3, F1 2/3
    assert metrics["amber/discriminative/accuracy"] == pytest.approx(1 / 2)
    assert metrics["amber/discriminative/precision"] == pytest.approx(2 / 3)
    assert metrics["amber/discriminative/recall"] == pytest.approx(2 / 3)
    assert metrics["amber/discriminative/f1"] == pytest.approx(2 / 3)
    assert metrics["amber/discriminative/unparsed"] == pytest.approx(1 / 6)
    # existence (3, 4): all right; attribute (5, 6): both wrong, no "No" said; relation (7, 8): 1/2, P 1/2, R 1
    assert (metrics["amber/existence/accuracy"], metrics["amber/existence/f1"]) == (1.0, 1.0)
    assert (metrics["amber/attribute/accuracy"], metrics["amber/attribute/f1"]) == (0.0, 0.0)
    assert metrics["amber/state/n"] == 1 and metrics["amber/number/unparsed"] == 1.0
    assert metrics["amber/relation/precision"] == pytest.approx(1 / 2)
    assert metrics["amber/relation/f1"] == pytest.approx(2 / 3)
    assert "noun matcher" in result["notes"][0]

    exact = run_benchmark(
        replace(options, amber_parser="exact"), scripted({f"amber:{i}": t for i, t in ANSWERS.items()})
    )["metrics"]
    # AMBER's literal comparison: only 5 ("Yes", wrong) and 8 ("No", fp) are Yes/No: accuracy 0, precision 0
    assert exact["amber/discriminative/accuracy"] == 0.0 and exact["amber/discriminative/precision"] == 0.0


def test_split_and_subset(tmp_path: Path) -> None:
    data, images = write_amber(tmp_path)
    generative = load_amber(data, "generative")
    assert [q.id for q in generative.queries] == [1, 2]
    options = BenchmarkOptions("amber", amber_dir=str(data), images_dir=str(images), num_items=1, seed=0)
    result = run_benchmark(options, scripted({f"amber:{i}": text for i, text in ANSWERS.items()}))
    assert result["metrics"]["amber/n_generative"] == 1 and result["metrics"]["amber/discriminative/n"] == 1


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    data, _ = write_amber(tmp_path)
    broken = [
        *ANNOTATIONS[:1],
        {"id": 2, "type": "generative", "truth": ["unicorn"], "hallu": []},
        *ANNOTATIONS[2:],
    ]
    (data / "annotations.json").write_text(json.dumps(broken))
    with pytest.raises(
        ValueError, match=r"annotations.json: id 2: object 'unicorn' is not a key of .*relation"
    ):
        load_amber(data)
    (data / "annotations.json").write_text(json.dumps([{"id": 1, "type": "generative"}]))
    with pytest.raises(ValueError, match=r"annotations.json: entry \[0\] is missing field 'truth'"):
        load_amber(data)
    with pytest.raises(FileNotFoundError, match="--amber-dir"):
        load_amber(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown AMBER split"):
        load_amber(data, "everything")
    assert normalise_answer("YES! It is.") == "Yes" and normalise_answer("Nope") == "Nope"


def test_a_noun_covers_the_first_object_it_is_associated_with() -> None:
    # as in the released scorer: every object's associated words are tried before the objects themselves,
    # so "person" (an association of "man") covers "man", and "man" (an association of "person") covers "person"
    annotation = AmberAnnotation(9, "generative", ("man", "person"), ())
    assert score_description("A person.", annotation, RELATION)["covered"] == ["man"]
    assert score_description("A man.", annotation, RELATION)["covered"] == ["person"]


def test_relation_values_must_be_lists(tmp_path: Path) -> None:
    data, _ = write_amber(tmp_path)
    (data / "relation.json").write_text(json.dumps({**RELATION, "dog": "puppy"}))
    with pytest.raises(ValueError, match=r"relation.json: the value of 'dog' must be a list"):
        load_amber(data)
