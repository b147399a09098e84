"""Dataset and collator for preference pairs, driven by a backbone adapter."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.hf_datasets import is_embedded_image, load_embedded_image
from lightning_csr.data.records import PreferenceRecord, tokenizer_fingerprint


def load_image(root: Path, relative: str, record_id: str) -> Image.Image:
    """Open an image under `root` (or inside a dataset); missing or corrupt files raise errors naming the record."""
    if is_embedded_image(relative):
        return load_embedded_image(relative, record_id)
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


def sampled_response_ids(record: PreferenceRecord, side: str, tokenizer) -> list[int] | None:
    """The `chosen`/`rejected` token ids as sampled (`meta[side + "_ids"]`), or None to tokenise the text.

    Stored ids are used only when they were made by this tokenizer (same `tokenizer_fingerprint` in the meta) and
    still decode to the record's text (a record whose text was edited later trains on its text).
    """
    token_ids = record.meta.get(f"{side}_ids")
    if token_ids is None or record.meta.get("tokenizer_fingerprint") != tokenizer_fingerprint(tokenizer):
        return None
    size = len(tokenizer)
    if not isinstance(token_ids, list) or not all(isinstance(t, int) and 0 <= t < size for t in token_ids):
        raise ValueError(
            f"record {record.id!r}: meta field '{side}_ids' must be a list of token ids below {size}; "
            "fix or remove it to train on the text"
        )
    if tokenizer.decode(token_ids, skip_special_tokens=True).strip() != getattr(record, side):
        warnings.warn(
            "stored token ids that no longer decode to their record's text: training on the text",
            stacklevel=2,
        )
        return None
    return token_ids


class PreferenceCollator:
    """Concatenates chosen and rejected of a batch into one [2B, T] batch with images repeated.

    Responses are the token ids the policy sampled when the record holds them for this tokenizer (CSR's pairs),
    otherwise their tokenised text.
    """

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        records = [item["record"] for item in items]
        images = [item["image"] for item in items]
        ids = [r.id for r in records]
        tokenizer = self.backbone.tokenizer
        batch = self.backbone.collate(
            images * 2,
            [r.prompt for r in records] * 2,
            [r.chosen for r in records] + [r.rejected for r in records],
            ids=ids + ids,
            response_token_ids=[
                sampled_response_ids(r, side, tokenizer) for side in ("chosen", "rejected") for r in records
            ],
        )
        self.backbone.check_image_tokens(batch, ids + ids)
        batch["ids"] = ids
        return batch
