"""PairExamplesLogger: the pairs a run trains on end up as a table in TensorBoard and in an (offline) W&B run."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from lightning_csr.callbacks import PairExamplesLogger
from lightning_csr.callbacks.pair_examples import markdown_table, pair_example
from lightning_csr.data.records import read_records
from tests.modules.test_preference import make
from tests.trainer import quiet_trainer

PNG = b"\x89PNG"


def fit(module, data, callback, logger) -> None:
    quiet_trainer(max_steps=1, callbacks=[callback], logger=logger).fit(module, data)


def _scored(pairs_dir):
    """The fixture pairs with CSR's reward fields on the first one."""
    path = pairs_dir / "pairs.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["meta"] = {"chosen_score": -1.25, "rejected_score": -3.5, "margin": 2.25}
    rows[1]["chosen"] = "a | b\nc"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_markdown_table_rows_escape_pipes_and_show_rewards(pairs_dir):
    _scored(pairs_dir)
    records = read_records(pairs_dir / "pairs.jsonl").records
    examples = [pair_example({"record": r, "image": Image.new("RGB", (16, 9))}, 2, 8) for r in records[:2]]
    assert examples[0].thumbnail.size == (8, 8)
    lines = markdown_table(examples).splitlines()
    assert (
        lines[0] == "| iteration | id | prompt | chosen | rejected | chosen_score | rejected_score | margin |"
    )
    assert (
        lines[2]
        == "| 2 | p0 | What is in the image? | a red square 0 | a blue circle and a star | -1.25 | -3.5 | 2.25 |"
    )
    assert "| a \\| b c |" in lines[3] and lines[3].endswith("|  |  |  |")


def test_tensorboard_gets_the_table_and_the_thumbnails(tiny_llava_dir, pairs_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _scored(pairs_dir)
    module, data = make(tiny_llava_dir, pairs_dir)
    logger = TensorBoardLogger(str(tmp_path), name="tensorboard", version="")
    fit(module, data, PairExamplesLogger(num_examples=3, thumbnail_size=12), logger)
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"tensors": 0, "images": 0})
    events.Reload()
    (text,) = events.Tensors("pairs/examples/text_summary")
    table = text.tensor_proto.string_val[0].decode()
    assert (
        text.step == 1
        and "| 1 | p0 | What is in the image? | a red square 0 |" in table
        and "| p3 |" not in table
    )
    (grid,) = events.Images("pairs/thumbnails")  # the three thumbnails side by side
    assert grid.step == 1 and (grid.width, grid.height) == (36, 12)


def test_offline_wandb_run_holds_the_table_with_images(tiny_llava_dir, pairs_dir, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    for name, value in {
        "MODE": "offline",
        "SILENT": "true",
        "DATA_DIR": "wandb_data",
        "CACHE_DIR": "wandb_cache",
    }.items():
        monkeypatch.setenv(f"WANDB_{name}", value if name in ("MODE", "SILENT") else str(tmp_path / value))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))
    _scored(pairs_dir)
    module, data = make(tiny_llava_dir, pairs_dir)
    logger = WandbLogger(save_dir=str(tmp_path), project="lightning_csr", offline=True)
    try:
        fit(module, data, PairExamplesLogger(num_examples=2, thumbnail_size=32), logger)
    finally:
        wandb.finish()
    (table_file,) = tmp_path.glob("wandb/offline-run-*/files/media/table/pairs/iteration_1_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"][:3] == ["iteration", "id", "image"] and len(table["data"]) == 2
    assert table["data"][0][1] == "p0" and table["data"][0][-3:] == [-1.25, -3.5, 2.25]
    # the images travel in the table's artifact, staged for `wandb sync`
    staged = [
        Image.open(f)
        for f in (tmp_path / "wandb_data").rglob("*")
        if f.is_file() and f.read_bytes()[:4] == PNG
    ]
    assert [image.size for image in staged] == [(32, 32)] * 2
