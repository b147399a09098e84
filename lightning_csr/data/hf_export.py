"""Preference pairs written as a Hugging Face `datasets` directory with the images embedded, in TRL's vision layout.

Columns: `id`, `prompt` (a user message), `chosen` and `rejected` (an assistant message each), `images` (a list
with the pair's image, its original encoded bytes) and `meta` (the record's meta as JSON). TRL's `DPOTrainer` reads
it as it is (`load_from_disk`); `PreferenceDataModule` reads it back into the same records.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning_csr.data.hf_datasets import embedded_image_bytes, is_embedded_image, require_datasets
from lightning_csr.data.records import PreferenceRecord

DATASET_DIR = "pairs_dataset"


def pairs_features():
    """The `datasets.Features` of an exported pairs dataset."""
    datasets = require_datasets()
    message = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "prompt": message,
            "chosen": message,
            "rejected": message,
            "images": [datasets.Image()],
            "meta": datasets.Value("string"),
        }
    )


def image_bytes(image_root: Path, record: PreferenceRecord) -> bytes:
    """The record's image as stored (a file's bytes or a dataset's embedded bytes), never re-encoded."""
    if is_embedded_image(record.image):
        return embedded_image_bytes(record.image, record.id)
    path = image_root / record.image
    if not path.is_file():
        raise FileNotFoundError(f"record {record.id!r}: image file not found: {path}")
    return path.read_bytes()


def pair_row(record: PreferenceRecord, image_root: Path) -> dict[str, Any]:
    """One dataset row of a record."""
    return {
        "id": record.id,
        "prompt": [{"role": "user", "content": record.prompt}],
        "chosen": [{"role": "assistant", "content": record.chosen}],
        "rejected": [{"role": "assistant", "content": record.rejected}],
        "images": [{"bytes": image_bytes(image_root, record), "path": None}],
        "meta": json.dumps(record.meta, ensure_ascii=False),
    }


def _rows(records: Sequence[PreferenceRecord], image_root: str) -> Iterator[dict[str, Any]]:
    for record in records:
        yield pair_row(record, Path(image_root))


@contextmanager
def quiet_datasets(datasets: Any) -> Iterator[None]:
    """`datasets` without its progress bars (building a few hundred rows is instant; bars would bury errors)."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def write_pairs_dataset(records: Sequence[PreferenceRecord], image_root: str | Path, out: str | Path) -> Path:
    """Write `records` (images relative to `image_root`) to the directory `out`, replacing it atomically."""
    datasets = require_datasets()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        quiet_datasets(datasets),
        tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as scratch,
    ):
        try:
            dataset = datasets.Dataset.from_generator(
                _rows,
                features=pairs_features(),
                gen_kwargs={"records": list(records), "image_root": str(image_root)},
                cache_dir=str(Path(scratch) / "cache"),
            )
        except datasets.exceptions.DatasetGenerationError as err:  # the record's own error, not the wrapper
            raise (err.__cause__ or err) from None
        staged = Path(scratch) / "dataset"
        dataset.save_to_disk(str(staged))
        del dataset  # its cache files live in `scratch`
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    return out
