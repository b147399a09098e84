"""POPE: sampling rules per split, question files (write, read, bad lines) and scoring."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from PIL import Image

from lightning_csr.evaluation.answers import parse_pope_released
from lightning_csr.evaluation.coco import load_coco_ground_truth
from lightning_csr.evaluation.pope import (
    PopeQuestion,
    build_pope_questions,
    evaluate_pope,
    read_pope_questions,
    write_pope_questions,
)
from tests.evaluation.coco_fixture import IMAGE_OBJECTS, file_name, write_coco_fixture


@pytest.fixture
def truth(tmp_path):
    instances, captions, _ = write_coco_fixture(tmp_path)
    return load_coco_ground_truth(instances, captions)


def _by_image(questions: list[PopeQuestion]) -> dict[str, dict[bool, set[str]]]:
    grouped: dict[str, dict[bool, set[str]]] = defaultdict(lambda: {True: set(), False: set()})
    for question in questions:
        name = question.text.removeprefix("Is there a ").removesuffix(" in the image?")
        grouped[question.image][question.label].add(name)
    return grouped


@pytest.mark.parametrize("split", ["random", "popular", "adversarial"])
def test_three_present_and_three_absent_objects_per_image(truth, split: str) -> None:
    questions = build_pope_questions(truth, split, seed=0)
    grouped = _by_image(questions)
    eligible = {file_name(image) for image, objects in IMAGE_OBJECTS.items() if len(objects) >= 3}
    assert set(grouped) == eligible
    for image, labels in grouped.items():
        present = set(IMAGE_OBJECTS[int(image[-16:-4])])
        assert len(labels[True]) == 3 and labels[True] <= present
        assert len(labels[False]) == 3 and not labels[False] & present
    assert [q.question_id for q in questions] == list(range(1, len(questions) + 1))
    assert questions[0].text.startswith("Is there a ") and questions[0].text.endswith(" in the image?")
    assert questions == build_pope_questions(truth, split, seed=0)


def test_popular_negatives_are_the_most_frequent_absent_objects(truth) -> None:
    # frequencies: person, car, bicycle 4; dog, chair, cat, teddy bear 3; image 3 lacks person, car, bicycle
    negatives = _by_image(build_pope_questions(truth, "popular"))[file_name(3)][False]
    assert negatives == {"bicycle", "car", "person"}


def test_adversarial_negatives_are_the_most_co_occurring_absent_objects(truth) -> None:
    # with {cat, teddy bear, chair, dining table}: bicycle co-occurs 4 times, person 3, dog 3, car 1
    negatives = _by_image(build_pope_questions(truth, "adversarial"))[file_name(3)][False]
    assert negatives == {"bicycle", "person", "dog"}


def test_num_images_is_a_seeded_sample(truth) -> None:
    first = {q.image for q in build_pope_questions(truth, "random", num_images=3, seed=5)}
    assert len(first) == 3
    assert first == {q.image for q in build_pope_questions(truth, "adversarial", num_images=3, seed=5)}


def test_write_then_read_round_trip(truth, tmp_path) -> None:
    questions = build_pope_questions(truth, "adversarial")
    path = tmp_path / "coco_pope_adversarial.jsonl"
    write_pope_questions(questions, path)
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"question_id", "image", "text", "label"} and first["label"] in ("yes", "no")
    assert read_pope_questions(path) == questions


def test_bad_line_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "coco_pope_random.jsonl"
    good = {"question_id": 1, "image": "a.jpg", "text": "Is there a dog in the image?", "label": "yes"}
    path.write_text(json.dumps(good) + "\n\n" + "{not json\n")
    with pytest.raises(ValueError, match=r"coco_pope_random\.jsonl:3: not valid JSON"):
        read_pope_questions(path)
    path.write_text(json.dumps({**good, "label": "maybe"}) + "\n")
    with pytest.raises(ValueError, match=r"coco_pope_random\.jsonl:1: label"):
        read_pope_questions(path)
    path.write_text(json.dumps({"question_id": 1, "image": "a.jpg", "label": "no"}) + "\n")
    with pytest.raises(ValueError, match=r":1: missing key 'text'"):
        read_pope_questions(path)
    with pytest.raises(ValueError, match="split"):
        read_pope_questions(path.rename(tmp_path / "questions.jsonl"))


def test_evaluate_pope_scores_and_lists_missing_answers() -> None:
    questions = [
        PopeQuestion(1, "a.jpg", "Is there a dog in the image?", True, "popular"),
        PopeQuestion(2, "a.jpg", "Is there a cat in the image?", False, "popular"),
        PopeQuestion(3, "b.jpg", "Is there a car in the image?", True, "popular"),
        PopeQuestion(4, "b.jpg", "Is there a bus in the image?", False, "popular"),
        PopeQuestion(5, "b.jpg", "Is there a cup in the image?", False, "popular"),
    ]
    answers = {1: "Yes.", 2: "Yes, there is a cat.", 3: "No.", 4: "No, there is not."}
    result = evaluate_pope(questions, answers)
    # tp 1, fp 1, fn 1, tn 1
    assert result["popular/accuracy"] == pytest.approx(0.5)
    assert result["popular/precision"] == pytest.approx(0.5)
    assert result["popular/yes_ratio"] == pytest.approx(0.5)
    assert result["missing_ids"] == [5] and result["n_questions"] == 5
    with pytest.raises(ValueError, match="repeat"):
        evaluate_pope(questions + questions[:1], answers)


@pytest.mark.parametrize(
    ("text", "says_yes"),
    [
        ("Yes, there is a dog.", True),
        ("No, there is no dog.", False),
        ("There is not a dog in the image.", False),
        ("I am not sure.", False),  # "not" in the first sentence
        ("I cannot tell.", True),  # no No/no/not word: counted as yes, never unparsed
        ("Yes. There is no cat though.", True),  # only the first sentence counts
        ("No", False),
        ("NO", True),  # case matters
        ("no!", True),  # words are split on spaces only
        ("Yes,no", True),  # commas are dropped before splitting: one word "Yesno"
        ("Maybe, no", False),
    ],
)
def test_released_pope_rule(text: str, says_yes: bool) -> None:
    assert parse_pope_released(text) is says_yes


def test_evaluate_pope_released_parser_is_the_default_and_strict_is_an_option() -> None:
    questions = [
        PopeQuestion(1, "a.jpg", "Is there a dog in the image?", True, "random"),
        PopeQuestion(2, "a.jpg", "Is there a cat in the image?", False, "random"),
        PopeQuestion(3, "b.jpg", "Is there a car in the image?", True, "random"),
        PopeQuestion(4, "b.jpg", "Is there a bus in the image?", False, "random"),
    ]
    answers = {1: "I think so.", 2: "I cannot tell.", 3: "Yes.", 4: "It is not clear."}
    released = evaluate_pope(questions, answers)
    # released: 1 yes (tp), 2 yes (fp), 3 yes (tp), 4 "not" -> no (tn): accuracy 3/4, precision 2/3, recall 1,
    # f1 = 2 * (2/3) / (2/3 + 1) = 0.8, yes_ratio 3/4, nothing unparsed
    assert released["random/accuracy"] == pytest.approx(3 / 4)
    assert released["random/precision"] == pytest.approx(2 / 3)
    assert released["random/recall"] == pytest.approx(1.0)
    assert released["random/f1"] == pytest.approx(0.8)
    assert released["random/yes_ratio"] == pytest.approx(3 / 4)
    assert released["random/unparsed"] == 0
    strict = evaluate_pope(questions, answers, parser="strict")
    # strict: 1, 2 and 4 unparsed (counted wrong: fn, fp, fp), 3 tp: accuracy 1/4, unparsed 3/4
    assert strict["random/accuracy"] == pytest.approx(1 / 4)
    assert strict["random/unparsed"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="unknown POPE answer parser"):
        evaluate_pope(questions, answers, parser="lenient")


def test_pope_benchmark_scores_a_question_file_with_the_released_rule(tmp_path) -> None:
    from lightning_csr.evaluation.benchmarks import BenchmarkOptions, run_benchmark
    from tests.evaluation.test_chair_released import scripted

    questions = [
        PopeQuestion(1, "a.jpg", "Is there a dog in the image?", True, "random"),
        PopeQuestion(2, "a.jpg", "Is there a cat in the image?", False, "random"),
        PopeQuestion(3, "a.jpg", "Is there a car in the image?", True, "random"),
        PopeQuestion(4, "a.jpg", "Is there a bus in the image?", False, "random"),
    ]
    write_pope_questions(questions, tmp_path / "coco_pope_random.jsonl")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "a.jpg")
    replies = ["I think so.", "I cannot tell.", "Yes.", "It is not clear."]
    answers = {f"pope:a.jpg:{q.text}": reply for q, reply in zip(questions, replies, strict=True)}
    options = BenchmarkOptions(
        "pope", pope_file=str(tmp_path / "coco_pope_random.jsonl"), images_dir=str(tmp_path / "images")
    )
    metrics = run_benchmark(options, scripted(answers))["metrics"]
    # as in the test above: released rule -> accuracy 3/4, F1 0.8, yes-ratio 3/4
    assert metrics["pope/random/accuracy"] == pytest.approx(3 / 4)
    assert metrics["pope/random/f1"] == pytest.approx(0.8)
    assert metrics["pope/random/yes_ratio"] == pytest.approx(3 / 4)
