"""CHAIR on COCO: synonyms, plurals, multi-word objects, ground truth loading and hand-computed scores."""

from __future__ import annotations

import json

import pytest

from lightning_csr.evaluation.coco import (
    CHAIR_MAX_NEW_TOKENS,
    CHAIR_NUM_IMAGES,
    CHAIR_PROMPT,
    build_phrase_table,
    chair_images,
    evaluate_chair,
    extract_coco_objects,
    load_coco_ground_truth,
    load_synonyms,
    singularize,
)
from tests.evaluation.coco_fixture import NO_FILE, file_name, write_coco_fixture


def test_synonym_list_has_the_80_categories_and_multi_word_forms() -> None:
    synonyms = load_synonyms()
    assert len(synonyms) == 80
    for name in ("dining table", "hot dog", "teddy bear", "cell phone", "traffic light"):
        assert name in synonyms
    assert "puppy" in synonyms["dog"] and "kitten" in synonyms["cat"]
    assert "motorbike" in synonyms["motorcycle"]
    assert {"people", "man", "woman", "child"} <= set(synonyms["person"])


def test_duplicate_synonym_across_categories_is_rejected() -> None:
    with pytest.raises(ValueError, match="pup"):
        build_phrase_table({"dog": ["dog", "pup"], "seal": ["seal", "pup"]})


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("dogs", "dog"), ("people", "person"), ("men", "man"), ("women", "woman"), ("children", "child"),
        ("mice", "mouse"), ("knives", "knife"), ("geese", "goose"), ("buses", "bus"), ("sandwiches", "sandwich"),
        ("ponies", "pony"), ("glasses", "glass"), ("benches", "bench"), ("ties", "tie"), ("stoves", "stove"),
        ("policemen", "policeman"), ("scissors", "scissors"), ("bus", "bus"), ("grass", "grass"), ("sheep", "sheep"),
    ],
)  # fmt: skip
def test_singularize(plural: str, singular: str) -> None:
    assert singularize(plural) == singular


@pytest.mark.parametrize(
    ("text", "objects"),
    [
        ("A puppy naps.", {"dog"}),
        ("Two kittens and a motorbike.", {"cat", "motorcycle"}),
        ("Plates on the dining table.", {"dining table"}),
        ("A teddy bear on a bed.", {"teddy bear", "bed"}),
        ("Hot dogs on a grill.", {"hot dog"}),
        ("A bear and a dog.", {"bear", "dog"}),
        ("People, men, women and children.", {"person"}),
        ("Traffic lights and cell phones.", {"traffic light", "cell phone"}),
        ("A baby elephant near a passenger train.", {"elephant", "train"}),
        ("Wine glasses, knives and a toilet seat.", {"wine glass", "knife", "toilet"}),
        ("The girl's skis.", {"person", "skis"}),
        ("A sunny beach with sand.", set()),
    ],
)
def test_extract_coco_objects(text: str, objects: set[str]) -> None:
    assert extract_coco_objects(text) == objects


def test_ground_truth_from_instances_and_captions(tmp_path) -> None:
    instances, captions, _ = write_coco_fixture(tmp_path)
    truth = load_coco_ground_truth(instances, captions)
    assert truth.objects[2] == {"person", "car", "bicycle", "motorcycle"}  # motorbike from a caption
    assert truth.instance_objects[2] == {"person", "car", "bicycle"}
    assert truth.file_names[3] == file_name(3)
    assert "teddy bear" in truth.categories and len(truth.categories) == 10


def _answers() -> dict[int, str]:
    return {
        1: "A puppy sits under the dining table next to a cat and a hot dog.",
        2: "A person rides a bicycle past two cars and a motorbike.",
        3: "A teddy bear sits on a chair.",
    }


def test_evaluate_chair_hand_computed_with_captions(tmp_path) -> None:
    instances, captions, _ = write_coco_fixture(tmp_path)
    result = evaluate_chair(_answers(), load_coco_ground_truth(instances, captions))
    # mentions 4 + 4 + 2, hallucinated {cat, hot dog} in image 1 only; truth sizes 4 + 4 + 4, recalled 2 + 4 + 2
    assert result["chair_s"] == pytest.approx(1 / 3)
    assert result["chair_i"] == pytest.approx(2 / 10)
    assert result["recall"] == pytest.approx(8 / 12)
    assert result["n_captions"] == 3 and result["n_mentions"] == 10
    assert result["per_image"][1]["hallucinated"] == ["cat", "hot dog"]
    assert result["per_image"][3]["hallucinated"] == []
    json.dumps(result)


def test_evaluate_chair_instances_only(tmp_path) -> None:
    instances, _, _ = write_coco_fixture(tmp_path)
    result = evaluate_chair(_answers(), load_coco_ground_truth(instances))
    assert result["chair_s"] == pytest.approx(2 / 3)
    assert result["chair_i"] == pytest.approx(3 / 10)
    assert result["recall"] == pytest.approx(7 / 11)
    assert result["per_image"][2]["hallucinated"] == ["motorcycle"]


def test_answer_for_unknown_image_is_an_error(tmp_path) -> None:
    instances, _, _ = write_coco_fixture(tmp_path)
    with pytest.raises(ValueError, match="not in the annotations"):
        evaluate_chair({999: "A dog."}, load_coco_ground_truth(instances))


def test_chair_images_lists_missing_files_and_is_seeded(tmp_path) -> None:
    instances, _, images_dir = write_coco_fixture(tmp_path)
    truth = load_coco_ground_truth(instances)
    selection = chair_images(truth, images_dir)
    assert selection.skipped == [NO_FILE]
    assert sorted(selection.paths) == [1, 2, 3, 4, 5, 7, 8]
    assert (
        chair_images(truth, images_dir, num_images=3, seed=1).paths
        == chair_images(truth, images_dir, num_images=3, seed=1).paths
    )
    assert (CHAIR_NUM_IMAGES, CHAIR_PROMPT, CHAIR_MAX_NEW_TOKENS) == (
        500,
        "Please describe this image in detail.",
        512,
    )


def test_bad_annotation_files_name_the_file_and_key(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_coco_ground_truth(tmp_path / "missing.json")
    no_categories = tmp_path / "no_categories.json"
    no_categories.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(ValueError, match=r"no_categories\.json.*'categories'"):
        load_coco_ground_truth(no_categories)
    bad_entry = tmp_path / "bad_entry.json"
    bad_entry.write_text(
        json.dumps(
            {
                "images": [{"id": 1}],
                "categories": [{"id": 1, "name": "dog"}],
                "annotations": [{"image_id": 1}],
            }
        )
    )
    with pytest.raises(ValueError, match=r"bad_entry\.json.*annotations\[0\].*'category_id'"):
        load_coco_ground_truth(bad_entry)
    not_json = tmp_path / "captions.json"
    not_json.write_text("{oops")
    (tmp_path / "fixture").mkdir()
    instances, _, _ = write_coco_fixture(tmp_path / "fixture")
    with pytest.raises(ValueError, match=r"captions\.json: not valid JSON"):
        load_coco_ground_truth(instances, not_json)
