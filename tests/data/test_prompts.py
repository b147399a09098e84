"""Prompt files: our JSONL and the released CSR prompt JSON; bad lines name file and line."""

from __future__ import annotations

import json

import pytest

from lightning_csr.data.prompts import read_prompts
from lightning_csr.data.records import RecordError


def test_released_csr_prompt_file(tmp_path):
    rows = [
        {
            "id": 9,
            "image": "COCO_train2014_000000000009.jpg",
            "input": "<image>\nDescribe the following image.",
        }
    ]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    (prompt,) = read_prompts(tmp_path / "p.json")
    assert (prompt.id, prompt.image, prompt.prompt) == (
        "9",
        rows[0]["image"],
        "Describe the following image.",
    )


def test_jsonl_limit_and_errors(tmp_path):
    good = [json.dumps({"id": f"{i}", "image": "a.png", "prompt": "q"}) for i in range(3)]
    (tmp_path / "p.jsonl").write_text("\n".join(good))
    assert len(read_prompts(tmp_path / "p.jsonl", limit=2)) == 2
    (tmp_path / "bad.jsonl").write_text(good[0] + "\n" + json.dumps({"id": "x", "image": "a.png"}))
    with pytest.raises(RecordError, match=r"bad.jsonl:2: missing or empty field 'prompt'"):
        read_prompts(tmp_path / "bad.jsonl")
    (tmp_path / "dup.jsonl").write_text(good[0] + "\n" + good[0])
    with pytest.raises(RecordError, match=r"dup.jsonl:2: duplicate id"):
        read_prompts(tmp_path / "dup.jsonl")
