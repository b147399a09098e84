"""`lightning-csr povid inject` with the rule-based injector on a hand-made ShapeWorld directory."""

from __future__ import annotations

import json

from lightning_csr.commands.povid_inject import main
from lightning_csr.data.records import read_records
from lightning_csr.shapeworld import WorldConfig, generate_scenes


def test_shapeworld_pairs(tmp_path, capsys):
    world = WorldConfig()
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
    main(["inject", "--shapeworld", str(tmp_path), "--out", str(out), "--num-edits", "1"])
    records = read_records(out).records
    assert len(records) == 12 and all(r.chosen != r.rejected for r in records)
    assert all(len(r.meta["edits"]) == 1 for r in records)
    first = out.read_text()
    main(["inject", "--shapeworld", str(tmp_path), "--out", str(out), "--num-edits", "1"])
    assert out.read_text() == first  # deterministic
    assert "12 pairs from 12 answers (0 failed)" in capsys.readouterr().out
