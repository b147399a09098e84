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


def test_llava_style_json(tmp_path):
    rows = [
        {
            "id": "123",
            "image": "COCO_train2014_000000000123.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\nDescribe it."},
                {"from": "gpt", "value": "A cat."},
            ],
            "rejected_conversations": [
                {"from": "human", "value": "<image>\nDescribe it."},
                {"from": "gpt", "value": "A dog."},
            ],
        }
    ]
    (tmp_path / "l.json").write_text(json.dumps(rows))
    (record,) = read_records(tmp_path / "l.json").records
    assert record.prompt == "Describe it." and record.chosen == "A cat." and record.rejected == "A dog."


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
