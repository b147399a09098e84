"""PreferenceDataModule: batches through the backbone, swappable data, bad images, over-long pairs."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import ImageTokenMismatchError, LlavaBackbone
from lightning_csr.data import PreferenceDataModule
from lightning_csr.data.preflight_report import DataError
from tests.conftest import write_pairs


@pytest.fixture
def backbone(tiny_llava_dir):
    return LlavaBackbone(model_id=str(tiny_llava_dir))


def test_batch_concatenates_chosen_then_rejected(backbone, pairs_dir):
    dm = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=3, shuffle=False)
    dm.connect(backbone)
    batch = next(iter(dm.train_dataloader()))
    assert batch["ids"] == ["p0", "p1", "p2"]
    assert batch["input_ids"].shape[0] == 6 and batch["pixel_values"].shape[0] == 6
    tok = backbone.tokenizer
    chosen = tok.decode(batch["input_ids"][0][batch["completion_mask"][0].bool()])
    rejected = tok.decode(batch["input_ids"][3][batch["completion_mask"][3].bool()])
    assert chosen == "a red square 0</s>" and rejected == "a blue circle and a star</s>"
    # the prompt keeps every image token
    assert int((batch["input_ids"][0] == backbone.image_token_id).sum()) == 4


def test_set_data_dir_switches_source(backbone, tmp_path):
    write_pairs(tmp_path / "v1", n=2)
    write_pairs(tmp_path / "v2", n=5)
    dm = PreferenceDataModule(data_dir=str(tmp_path / "v1"), batch_size=8)
    dm.connect(backbone)
    assert len(dm.train_dataloader().dataset) == 2
    dm.set_data_dir(tmp_path / "v2")
    assert len(dm.train_dataloader().dataset) == 5


def test_missing_image_names_record(backbone, pairs_dir):
    (pairs_dir / "images" / "1.png").unlink()
    dm = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=8, shuffle=False)
    dm.connect(backbone)
    with pytest.raises(DataError, match=r"pairs.jsonl:2: record 'p1': field 'image': image file not found"):
        dm.train_dataloader()


def test_corrupt_image_names_record(backbone, pairs_dir):
    (pairs_dir / "images" / "2.png").write_bytes(b"not a png")
    dm = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=8, shuffle=False)
    dm.connect(backbone)
    with pytest.raises(DataError, match=r"pairs.jsonl:3: record 'p2': field 'image': not an image file"):
        dm.train_dataloader()


def test_too_long_pairs_dropped_or_error(backbone, pairs_dir):
    import json

    long = {"id": "long", "image": "images/0.png", "prompt": "q", "chosen": "x" * 200, "rejected": "y"}
    with open(pairs_dir / "pairs.jsonl", "a") as handle:
        handle.write(json.dumps(long) + "\n")
    dm = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=16, max_length=120)
    dm.connect(backbone)
    assert len(dm.train_dataloader().dataset) == 8
    assert dm.dropped_too_long == ["long"]
    strict = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=16, max_length=120, on_too_long="error")
    strict.connect(backbone)
    with pytest.raises(
        ValueError, match=r"over max_length=120: .*pairs.jsonl:9: record .long. needs \d+ tokens"
    ):
        strict.train_dataloader()


def test_response_with_image_token_is_rejected(backbone):
    from PIL import Image

    with pytest.raises(ImageTokenMismatchError, match="sample x"):
        backbone.collate([Image.new("RGB", (8, 8))], ["q"], ["see <image> here"], ids=["x"])


def test_image_token_count_check(backbone):
    from PIL import Image

    batch = backbone.collate([Image.new("RGB", (8, 8))], ["q"], ["answer"], ids=["x"])
    batch["input_ids"][0, batch["input_ids"][0] == backbone.image_token_id] = 5
    with pytest.raises(ImageTokenMismatchError, match=r"\['x'\]"):
        backbone.check_image_tokens(batch, ["x"])
    assert torch.is_tensor(batch["pixel_values"])
