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
from lightning_csr.data.preflight_datamodule import PreflightedData
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


def parse_sft_record(obj: Any, where: str, index: int = 0) -> SFTRecord:
    """One SFT record of a JSON object; a missing or empty field is an error naming `where` and the field."""
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for name in SFT_FIELDS:
        if not isinstance(obj.get(name), str) or not obj[name].strip():
            raise RecordError(f"{where}: field {name!r} missing, empty or not a string")
    return SFTRecord(*(obj[name] for name in SFT_FIELDS))


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
        record = parse_sft_record(obj, where)
        if record.id in seen:
            raise RecordError(f"{where}: duplicate id {record.id!r}")
        seen.add(record.id)
        records.append(record)
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


class SFTDataModule(PreflightedData, L.LightningDataModule):
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
        on_bad_record: `error` (stop before the first step, listing every bad record) or `skip` (drop them).
        check_pixels: decode every image in the pre-flight check (default: headers only).
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
        on_bad_record: str = "error",
        check_pixels: bool = False,
    ) -> None:
        super().__init__()
        self.init_preflight(on_bad_record, check_pixels)
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
        """Receive the backbone whose processor turns records into batches; check this stage's files."""
        self.backbone = backbone
        self.check_files()

    def dataset(self, path: str) -> SFTDataset:
        """The checked dataset of one SFT file (read once)."""
        if path not in self._datasets:
            collate = SFTCollator(self.backbone) if self.backbone is not None else None
            checked = self.preflight(path, parse_sft_record, self.image_root, collate=collate)
            self._datasets[path] = SFTDataset([record for _, record in checked.records], self.image_root)
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
