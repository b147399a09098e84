"""A batch's image inputs taken as rows (one image per row), whatever the family's layout.

LLaVA stacks one image per row, LLaVA-NeXT and Idefics3 a stack of tiles per row (zero tiles pad the shorter
stacks, as their processors do), Qwen2-VL concatenates every image's flattened patches and says how many belong
to each image in `image_grid_thw`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

GRID = "image_grid_thw"


def select_image_rows(images: dict[str, Tensor], rows: Tensor) -> dict[str, Tensor]:
    """The image inputs of `rows`, in that order."""
    picked = {k: v[rows] for k, v in images.items() if not (k == "pixel_values" and GRID in images)}
    if GRID in images:
        counts = images[GRID].prod(dim=-1)
        starts = (counts.cumsum(0) - counts)[rows].tolist()
        pieces = [
            images["pixel_values"][s : s + c] for s, c in zip(starts, counts[rows].tolist(), strict=True)
        ]
        picked["pixel_values"] = torch.cat(pieces)
    return picked


def concat_image_rows(parts: Sequence[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Concatenate row-aligned image inputs; tile stacks are zero-padded to the most tiles of any row."""
    merged: dict[str, Tensor] = {}
    for key in parts[0]:
        values = [part[key] for part in parts]
        if values[0].dim() >= 4 and len({v.shape[1] for v in values}) > 1:  # [rows, tiles, ...]
            tiles = max(v.shape[1] for v in values)
            values = [
                torch.cat([v, v.new_zeros(v.shape[0], tiles - v.shape[1], *v.shape[2:])], 1) for v in values
            ]
        merged[key] = torch.cat(values)
    return merged
