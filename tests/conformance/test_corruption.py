"""TPO/POVID's corrupted view on the real image layouts: Qwen2-VL's flattened patches, Idefics3's padded tiles."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.modules.components.image_corruption import CorruptionSettings, ImageCorruptor
from tests.conformance.conftest import images, real_backbone

PROMPTS = ["What is it?", "Describe it."]


def _batch(backbone, pictures):
    """Rows of records a, b (repeated as chosen and rejected rows are)."""
    n = len(pictures)
    responses = ["A square.", "A circle."] * (n // 2)
    batch = backbone.collate(pictures, PROMPTS * (n // 2), responses, ids=["a", "b"] * (n // 2))
    return batch | {"ids": ["a", "b"]}


@pytest.fixture
def corruptor() -> ImageCorruptor:
    return ImageCorruptor(CorruptionSettings(step=900))


def test_qwen_patches_are_noised_as_images(real_checkpoint, corruptor):
    backbone = real_backbone(("qwen2_vl", real_checkpoint("qwen2_vl")))
    processor = backbone.processor.image_processor
    pictures = images(2, (56, 84))
    batch = _batch(backbone, pictures + pictures)  # chosen rows, then rejected rows of the same records
    noisy = corruptor.corrupt_batch(batch, processor, epoch=0)["pixel_values"]
    assert noisy.shape == batch["pixel_values"].shape and not torch.equal(noisy, batch["pixel_values"])
    half = noisy.shape[0] // 2
    assert torch.equal(noisy[:half], noisy[half:]), "a record's copies share one noisy image"
    frames = noisy.view(noisy.shape[0], 3, processor.temporal_patch_size, -1)
    assert torch.equal(frames[:, :, 0], frames[:, :, 1]), "the two frames of a still image stay copies"
    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    pixels01 = frames * std + mean
    assert pixels01.min() >= -1e-5 and pixels01.max() <= 1 + 1e-5


def test_idefics3_padding_tiles_stay_padding(real_checkpoint, corruptor):
    backbone = real_backbone(("idefics3", real_checkpoint("idefics3")))
    batch = _batch(backbone, [images(1, (640, 480))[0], images(1, (1000, 200))[0]])
    tiles = (batch["pixel_values"] != 0).flatten(2).any(dim=2).sum(dim=1)
    assert tiles.tolist() == [13, 5]  # the second row is padded with 8 zero tiles
    view = corruptor.corrupt_batch(batch, backbone.processor.image_processor, epoch=0)
    assert not torch.equal(view["pixel_values"], batch["pixel_values"])
    backbone.check_image_tokens(view, ["a", "b"])  # padding tiles did not turn into images
