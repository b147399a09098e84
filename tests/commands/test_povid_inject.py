"""`lightning-csr povid inject` (answers + a vocabulary) and `shapeworld povid-pairs` (ShapeWorld ground truth)."""

from __future__ import annotations

import json

import pytest

from lightning_csr.cli import main
from lightning_csr.data.records import read_records
from lightning_csr.shapeworld import WorldSettings, generate_scenes


def test_shapeworld_pairs(tmp_path, capsys):
    world = WorldSettings()
    world.save(tmp_path / "world.json")
    scenes = generate_scenes(world, 12, seed=0, split="train")
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "train.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in scenes))
    (tmp_path / "prompts").mkdir()
    prompts = [
        {"id": s.id, "image": f"images/train/{s.id}.png", "prompt": "Describe the image."} for s in scenes
    ]
    (tmp_path / "prompts" / "train.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))
    out = tmp_path / "pairs.jsonl"
    command = ["shapeworld", "povid-pairs", "--data", str(tmp_path), "--out", str(out), "--num-edits", "1"]
    main(command)
    records = read_records(out).records
    assert len(records) == 12 and all(r.chosen != r.rejected for r in records)
    assert all(len(r.meta["edits"]) == 1 for r in records)
    first = out.read_text()
    main(command)
    assert out.read_text() == first  # deterministic
    assert "12 pairs from 12 answers (0 failed)" in capsys.readouterr().out


def test_answers_file_with_the_coco_vocabulary(tmp_path, capsys):
    answers = tmp_path / "answers.jsonl"
    rows = [
        {"id": "1", "image": "a.jpg", "prompt": "Describe.", "response": "A dog runs.", "objects": ["dog"]},
        {"id": "2", "image": "b.jpg", "prompt": "Describe.", "response": "Nothing here."},
    ]
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pairs.jsonl"
    main(["povid", "inject", "--input", str(answers), "--vocabulary", "coco", "--out", str(out),
          "--num-edits", "1", "--kinds", "object"])  # fmt: skip
    (record,) = read_records(out).records
    assert record.id == "1" and record.chosen == "A dog runs." and record.rejected != record.chosen
    assert "1 pairs from 2 answers (1 failed)" in capsys.readouterr().out


def test_rule_injector_without_a_vocabulary_is_a_clear_error(tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        json.dumps({"id": "1", "image": "a.jpg", "prompt": "Hi.", "response": "A dog."}) + "\n"
    )
    with pytest.raises(SystemExit, match="needs --vocabulary coco"):
        main(["povid", "inject", "--input", str(answers), "--out", str(tmp_path / "p.jsonl")])
