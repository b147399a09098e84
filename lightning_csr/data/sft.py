"""Supervised fine-tuning data: JSONL records {id, image, prompt, response} and `SFTDataModule`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.length_grouping import LengthGroupedBatches
from lightning_csr.data.preference_dataset import load_image
from lightning_csr.data.records import RecordError, atomic_write_text

SFT_FIELDS = ("id", "image", "prompt", "response")


@dataclass
class SFTRecord:
    """One supervised sample: `image` is relative to the data root, `prompt` is the raw user question."""

    id: str
    image: str
    prompt: str
    response: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def read_sft_records(path: str | Path) -> list[SFTRecord]:
    """Read an SFT JSONL file; malformed lines, missing fields and duplicate ids are errors naming the line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SFT file not found: {path}")
    records, seen = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise RecordError(f"{where}: malformed JSON line ({err.msg})") from None
        missing = [name for name in SFT_FIELDS if not isinstance(obj.get(name), str) or not obj[name].strip()]
        if missing:
            raise RecordError(f"{where}: field(s) {missing} missing, empty or not a string")
        if obj["id"] in seen:
            raise RecordError(f"{where}: duplicate id {obj['id']!r}")
        seen.add(obj["id"])
        records.append(SFTRecord(*(obj[name] for name in SFT_FIELDS)))
    return records


def write_sft_records(path: str | Path, records: Iterable[SFTRecord]) -> None:
    """Write SFT records as JSONL atomically."""
    atomic_write_text(path, "".join(r.to_json() + "\n" for r in records))


class SFTDataset(Dataset):
    """SFT records plus their image root; decoded images are kept in memory after the first read."""

    def __init__(self, records: Sequence[SFTRecord], image_root: str | Path) -> None:
        self.records = list(records)
        self.image_root = Path(image_root)
        self._images: dict[str, Image.Image] = {}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        if record.image not in self._images:
            self._images[record.image] = load_image(self.image_root, record.image, record.id)
        return {"record": record, "image": self._images[record.image]}


class SFTCollator:
    """Turns SFT items into a right-padded batch with a completion mask (via the backbone)."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        records = [item["record"] for item in items]
        ids = [r.id for r in records]
        batch = self.backbone.collate(
            [item["image"] for item in items], [r.prompt for r in records], [r.response for r in records], ids
        )
        self.backbone.check_image_tokens(batch, ids)
        batch["ids"] = ids
        return batch


class SFTDataModule(L.LightningDataModule):
    """Reads SFT records from `train_file` (and `val_file`, `test_file`); images are relative to `image_root`.

    Args:
        train_file: SFT JSONL with {id, image, prompt, response}.
        val_file: optional validation file in the same format.
        test_file: optional test file in the same format (`lightning-csr test`).
        image_root: directory image paths are relative to (default: the train file's parent's parent,
            i.e. `<data>/` for `<data>/sft/train.jsonl`).
        batch_size: samples per batch.
        shuffle: shuffle the training samples each epoch.
        group_by_length: train on shuffled batches of similar length (`LengthGroupedBatches`): less padding.
        seed: seed of the length-grouped batch order.
    """

    def __init__(
        self,
        train_file: str,
        val_file: str | None = None,
        test_file: str | None = None,
        image_root: str | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        shuffle: bool = True,
        group_by_length: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.train_file = train_file
        self.val_file, self.test_file = val_file, test_file
        self.image_root = Path(image_root) if image_root else Path(train_file).parent.parent
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.shuffle = shuffle
        self.group_by_length = group_by_length
        self.seed = seed
        self.backbone: Backbone | None = None
        self._datasets: dict[str, SFTDataset] = {}

    def connect(self, backbone: Backbone) -> None:
        """Receive the backbone whose processor turns records into batches."""
        self.backbone = backbone

    def dataset(self, path: str) -> SFTDataset:
        """The dataset of one SFT file (read once)."""
        if path not in self._datasets:
            self._datasets[path] = SFTDataset(read_sft_records(path), self.image_root)
        return self._datasets[path]

    def _loader(self, path: str, shuffle: bool) -> DataLoader:
        if self.backbone is None:
            raise RuntimeError("SFTDataModule.connect(backbone) must run before dataloaders are built")
        dataset = self.dataset(path)
        if len(dataset) == 0:
            raise ValueError(f"{path}: no SFT records")
        collate = SFTCollator(self.backbone)
        if shuffle and self.group_by_length:
            lengths = [len(r.prompt) + len(r.response) for r in dataset.records]
            batches = LengthGroupedBatches(lengths, self.batch_size, seed=self.seed)
            return DataLoader(
                dataset, batch_sampler=batches, num_workers=self.num_workers, collate_fn=collate
            )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_file, self.shuffle)

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.val_file is None else self._loader(self.val_file, False)

    def test_dataloader(self) -> DataLoader:
        if self.test_file is None:
            raise ValueError("SFTDataModule: set data.test_file to test (same format as train_file)")
        return self._loader(self.test_file, False)
