"""Image inputs as rows: Qwen2-VL patches follow image_grid_thw, tile stacks are zero-padded when merged."""

from __future__ import annotations

import torch

from lightning_csr.backbones.image_rows import concat_image_rows, select_image_rows


def test_qwen_patches_are_selected_by_their_grid():
    grid = torch.tensor([[1, 2, 2], [1, 2, 4], [1, 4, 2]])  # 4, 8 and 8 patches
    patches = torch.arange(20).repeat_interleave(3).view(20, 3).float()
    picked = select_image_rows({"pixel_values": patches, "image_grid_thw": grid}, torch.tensor([2, 0]))
    assert picked["image_grid_thw"].tolist() == [[1, 4, 2], [1, 2, 2]]
    assert picked["pixel_values"][:, 0].tolist() == list(range(12, 20)) + list(range(4))
    merged = concat_image_rows([picked, {"pixel_values": patches[:4], "image_grid_thw": grid[:1]}])
    assert merged["pixel_values"].shape == (16, 3) and merged["image_grid_thw"].shape == (3, 3)


def test_tile_stacks_are_padded_with_zero_tiles():
    five = {
        "pixel_values": torch.ones(2, 5, 3, 4, 4),
        "pixel_attention_mask": torch.ones(2, 5, 4, 4, dtype=torch.bool),
    }
    three = {
        "pixel_values": torch.ones(1, 3, 3, 4, 4),
        "pixel_attention_mask": torch.ones(1, 3, 4, 4, dtype=torch.bool),
    }
    merged = concat_image_rows([five, three])
    assert merged["pixel_values"].shape == (3, 5, 3, 4, 4)
    assert merged["pixel_values"][2, 3:].abs().sum() == 0 and merged["pixel_values"][2, :3].min() == 1
    assert not merged["pixel_attention_mask"][2, 3:].any()
    llava = concat_image_rows(
        [{"pixel_values": torch.ones(2, 3, 4, 4)}, {"pixel_values": torch.ones(1, 3, 4, 4)}]
    )
    assert llava["pixel_values"].shape == (3, 3, 4, 4)
