"""Pairs out as a Hugging Face dataset: images embedded as their original bytes, read back into the same records,
and taken as they are by TRL's vision DPO collator and trainer."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_csr.data.hf_export import write_pairs_dataset
from lightning_csr.data.preference_dataset import load_image
from lightning_csr.data.records import read_records

datasets = pytest.importorskip("datasets")


@pytest.fixture
def exported(pairs_dir, tmp_path):
    records = read_records(pairs_dir / "pairs.jsonl").records
    records[1].meta = {"margin": 0.25, "chosen_ids": [5, 6]}
    return records, write_pairs_dataset(records, pairs_dir, tmp_path / "out" / "pairs_dataset")


def test_export_embeds_the_image_bytes_and_reads_back_into_the_same_records(pairs_dir, exported):
    records, out = exported
    table = datasets.load_from_disk(str(out))
    assert table.column_names == ["id", "prompt", "chosen", "rejected", "images", "meta"]
    raw = table.cast_column("images", [datasets.Image(decode=False)])[2]["images"][0]
    assert raw["bytes"] == (pairs_dir / records[2].image).read_bytes() and raw["path"] is None
    back = read_records(out).records
    assert [(r.id, r.prompt, r.chosen, r.rejected, r.meta) for r in back] == [
        (r.id, r.prompt, r.chosen, r.rejected, r.meta) for r in records
    ]
    again = write_pairs_dataset(back, pairs_dir / "unused", out)  # a dataset's pairs export again, in place
    image = load_image(pairs_dir, read_records(again).records[5].image, "p5")
    assert np.array_equal(np.asarray(image), np.asarray(load_image(pairs_dir, records[5].image, "p5")))


def test_missing_image_is_named_and_leaves_no_directory(pairs_dir, tmp_path):
    records = read_records(pairs_dir / "pairs.jsonl").records
    (pairs_dir / records[3].image).unlink()
    with pytest.raises(FileNotFoundError, match=r"record 'p3': image file not found"):
        write_pairs_dataset(records, pairs_dir, tmp_path / "pairs_dataset")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"], "a half-written dataset was left behind"


def test_trl_vision_collator_and_dpo_trainer_take_the_export_as_it_is(tiny_llava_dir, exported, tmp_path):
    pytest.importorskip("trl")
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

    records, out = exported
    table = datasets.load_from_disk(str(out))
    processor = AutoProcessor.from_pretrained(tiny_llava_dir)
    batch = DataCollatorForVisionPreference(processor)([table[0], table[1]])
    assert batch["pixel_values"].shape[0] == 4
    completion = batch["input_ids"][1][batch["completion_mask"][1].bool()]
    assert processor.tokenizer.decode(completion) == f" {records[1].chosen}</s>"
    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=2,
        max_steps=1,
        report_to=[],
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        max_length=None,
        disable_tqdm=True,
        logging_steps=1,
    )
    model = AutoModelForImageTextToText.from_pretrained(tiny_llava_dir)
    trainer = DPOTrainer(model=model, args=args, train_dataset=table, processing_class=processor)
    trainer.train()
    logged = trainer.state.log_history[0]
    assert np.isfinite(logged["loss"]) and logged["logps/chosen"] < 0
