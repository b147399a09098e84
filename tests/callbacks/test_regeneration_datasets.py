"""CSR with Hugging Face datasets: prompts read from a dataset, each iteration's pairs also written as one that TRL's
vision collator takes, the images carried over as their stored bytes."""

from __future__ import annotations

import json

import pytest

from lightning_csr.callbacks import PreferenceRegenerationCallback
from lightning_csr.data import read_records
from tests.callbacks.test_regeneration import make
from tests.conftest import write_prompts

datasets = pytest.importorskip("datasets")


def prompts_dataset(root):
    """The conftest prompts as a `save_to_disk` dataset in RLAIF-V's layout (question, image bytes)."""
    rows = [json.loads(line) for line in write_prompts(root, n=6).read_text().splitlines()]
    table = datasets.Dataset.from_dict(
        {
            "id": [r["id"] for r in rows],
            "question": [r["prompt"] for r in rows],
            "image": [{"bytes": (root / r["image"]).read_bytes(), "path": None} for r in rows],
        },
        features=datasets.Features(
            {"id": datasets.Value("string"), "question": datasets.Value("string"), "image": datasets.Image()}
        ),
    )
    table.save_to_disk(str(root / "prompts_dataset"))
    return root / "prompts_dataset", rows


def test_csr_iteration_from_dataset_prompts_writes_a_pairs_dataset_trl_takes(
    tmp_path, tiny_llava_dir, tiny_clip_dir
):
    source, rows = prompts_dataset(tmp_path / "data")
    module, data, trainer = make(tmp_path, tiny_llava_dir, tiny_clip_dir, max_epochs=1)
    index = next(i for i, c in enumerate(trainer.callbacks) if isinstance(c, PreferenceRegenerationCallback))
    trainer.callbacks[index] = PreferenceRegenerationCallback(str(source), batch_size=3, pairs_dataset=True)
    trainer.fit(module, data)
    directory = tmp_path / "run" / "iterations" / "1"
    records = read_records(directory / "pairs.jsonl").records
    assert records and all(r.image.startswith("datasets:") for r in records)
    exported = datasets.load_from_disk(str(directory / "pairs_dataset"))
    assert exported["id"] == [r.id for r in records]
    raw = exported.cast_column("images", [datasets.Image(decode=False)])
    by_id = {r["id"]: r for r in rows}
    for row in raw:
        assert row["images"][0]["bytes"] == (tmp_path / "data" / by_id[row["id"]]["image"]).read_bytes()
    pytest.importorskip("trl")
    from transformers import AutoProcessor
    from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

    batch = DataCollatorForVisionPreference(AutoProcessor.from_pretrained(tiny_llava_dir))(list(exported))
    assert batch["input_ids"].shape[0] == 2 * len(records)
