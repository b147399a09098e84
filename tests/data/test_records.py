"""Preference file readers: our JSONL, TRL's format, LLaVA-style JSON, and every bad input."""

from __future__ import annotations

import json

import pytest

from lightning_csr.data.records import PreferenceRecord, RecordError, read_records, write_records


def test_native_jsonl_round_trip(tmp_path):
    records = [PreferenceRecord("a", "x.png", "Describe.", "good", "bad", {"score": 1.0})]
    write_records(tmp_path / "p.jsonl", records)
    assert read_records(tmp_path / "p.jsonl").records == records


def test_trl_format(tmp_path):
    row = {
        "images": ["img.png"],
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]}],
        "chosen": [{"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}],
        "rejected": [{"role": "assistant", "content": "A dog."}],
    }
    (tmp_path / "t.jsonl").write_text(json.dumps(row) + "\n")
    (record,) = read_records(tmp_path / "t.jsonl").records
    assert (record.image, record.prompt, record.chosen, record.rejected) == (
        "img.png",
        "What?",
        "A cat.",
        "A dog.",
    )


def _llava_row(record_id: str, human: str, chosen: str, rejected: str) -> dict:
    return {
        "id": record_id,
        "image": f"COCO_train2014_{record_id}.jpg",
        "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": chosen}],
        "rejected_conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": rejected}],
    }


def test_llava_style_json(tmp_path):
    rows = [_llava_row("123", "<image>\nDescribe this image in detail.", "A cat.", "A dog.")]
    (tmp_path / "l.json").write_text(json.dumps(rows))
    (record,) = read_records(tmp_path / "l.json").records
    assert record.prompt == "Describe this image in detail."
    assert (record.chosen, record.rejected, record.image) == ("A cat.", "A dog.", "COCO_train2014_123.jpg")


VICUNA_V1 = (
    "A chat between a curious {who} and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the {who}'s questions."
)


def test_csr_released_pairs_keep_only_the_question(tmp_path):
    """CSR's construct.py writes the whole templated prompt as the human turn and answers after a space."""
    human = VICUNA_V1.format(who="human") + " USER: <image>\nDescribe the following image. ASSISTANT:"
    no_newline = VICUNA_V1.format(who="user") + " USER: <image>What is on the\ntable? ASSISTANT:"
    rows = [
        _llava_row("1", human, " The image shows a cat on a mat.", " The image shows a dog."),
        _llava_row("2", no_newline, " A cup.", " Two cups and a plate."),
    ]
    (tmp_path / "csr.json").write_text(json.dumps(rows, indent=1))
    first, second = read_records(tmp_path / "csr.json").records
    assert first.prompt == "Describe the following image."
    assert (first.chosen, first.rejected) == ("The image shows a cat on a mat.", "The image shows a dog.")
    assert second.prompt == "What is on the\ntable?"
    assert (second.chosen, second.rejected) == ("A cup.", "Two cups and a plate.")


def test_sampled_ids_survive_write_and_read(tmp_path):
    meta = {"chosen_ids": [319, 298, 3156, 2], "rejected_ids": [319, 2654], "tokenizer_fingerprint": "ab12"}
    write_records(tmp_path / "p.jsonl", [PreferenceRecord("a", "x.png", "q", "A hello", "A red", meta)])
    assert read_records(tmp_path / "p.jsonl").records[0].meta == meta


def _write(tmp_path, *lines):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"id": "1", "image": "a.png", "prompt": "q", "chosen": "x", "rejected": "y"})


def test_malformed_line_names_file_and_line(tmp_path):
    path = _write(tmp_path, GOOD, "{not json")
    with pytest.raises(RecordError, match=r"bad.jsonl:2: malformed JSON"):
        read_records(path)


def test_missing_field_named(tmp_path):
    path = _write(tmp_path, json.dumps({"id": "1", "image": "a.png", "prompt": "q", "chosen": "x"}))
    with pytest.raises(RecordError, match=r"bad.jsonl:1: missing field 'rejected'"):
        read_records(path)


def test_empty_response_named(tmp_path):
    path = _write(
        tmp_path, json.dumps({"id": "1", "image": "a.png", "prompt": "q", "chosen": " ", "rejected": "y"})
    )
    with pytest.raises(RecordError, match=r"bad.jsonl:1: field 'chosen' is empty"):
        read_records(path)


def test_identical_pairs_dropped_and_counted(tmp_path):
    same = json.dumps({"id": "2", "image": "a.png", "prompt": "q", "chosen": "same", "rejected": "same"})
    path = _write(tmp_path, GOOD, same)
    with pytest.warns(UserWarning, match="dropped 1 pairs"):
        report = read_records(path)
    assert [r.id for r in report.records] == ["1"] and report.dropped_identical == ["2"]


def test_duplicate_ids_rejected(tmp_path):
    with pytest.raises(RecordError, match="duplicate id"):
        read_records(_write(tmp_path, GOOD, GOOD))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="preference file not found"):
        read_records("/nonexistent/pairs.jsonl")
