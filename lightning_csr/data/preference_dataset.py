"""Dataset and collator for preference pairs, driven by a backbone adapter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.records import PreferenceRecord


def load_image(root: Path, relative: str, record_id: str) -> Image.Image:
    """Open an image under `root`; missing or corrupt files raise errors naming the record and path."""
    path = root / relative
    if not path.is_file():
        raise FileNotFoundError(f"record {record_id!r}: image file not found: {path}")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"record {record_id!r}: unreadable image {path}: {err}") from err


class PreferenceDataset(Dataset):
    """Records plus the directory their images are relative to."""

    def __init__(self, records: Sequence[PreferenceRecord], image_root: str | Path) -> None:
        self.records = list(records)
        self.image_root = Path(image_root)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        return {"record": record, "image": load_image(self.image_root, record.image, record.id)}


class PreferenceCollator:
    """Concatenates chosen and rejected of a batch into one [2B, T] batch with images repeated."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        records = [item["record"] for item in items]
        images = [item["image"] for item in items]
        ids = [r.id for r in records]
        batch = self.backbone.collate(
            images * 2,
            [r.prompt for r in records] * 2,
            [r.chosen for r in records] + [r.rejected for r in records],
            ids=ids + ids,
        )
        self.backbone.check_image_tokens(batch, ids + ids)
        batch["ids"] = ids
        return batch


def sequence_lengths(backbone: Backbone, dataset: PreferenceDataset, batch_size: int = 32) -> list[int]:
    """Longest of (prompt + chosen, prompt + rejected) in tokens, image tokens included, per record."""
    lengths: list[int] = []
    collate = PreferenceCollator(backbone)
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        mask = collate(items)["attention_mask"].sum(dim=1)
        n = len(items)
        lengths.extend(torch.maximum(mask[:n], mask[n:]).tolist())
    return lengths
