"""`PreferenceDataModule`: preference pairs whose source can be swapped between epochs."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from lightning_csr.backbones.base import Backbone
from lightning_csr.data.hf_datasets import is_dataset_source, source_digest
from lightning_csr.data.preference_dataset import PreferenceCollator, PreferenceDataset
from lightning_csr.data.preflight import CheckedFile
from lightning_csr.data.preflight_datamodule import PreflightedData
from lightning_csr.data.rank_sampler import rank_batched
from lightning_csr.data.records import PreferenceRecord, RecordError, pair_problems, parse_record
from lightning_csr.data.sampling import EpochShuffle, serving_epoch

log = logging.getLogger(__name__)

PAIRS_FILE = "pairs.jsonl"


class PreferenceDataModule(PreflightedData, L.LightningDataModule):
    """Reads pairs from `train_file` (or `<data_dir>/pairs.jsonl`); callbacks may point it elsewhere.

    Args:
        train_file: a preference file (.jsonl ours/TRL, .json LLaVA-style) or a Hugging Face dataset (a
            `save_to_disk` directory or parquet files, TRL or RLAIF-V layout; see `data/hf_datasets.py`).
        data_dir: a directory holding `pairs.jsonl` (versioned iteration directories use this).
        val_file: optional validation pairs.
        test_file: optional test pairs (`lightning-csr test`).
        image_root: directory image paths are relative to (default: the pairs file's directory).
        batch_size: pairs per batch (each pair is two sequences).
        max_length: longest allowed sequence in tokens, image tokens included; never truncated.
        on_too_long: `drop` (counted, logged) or `error`.
        on_bad_record: `error` (stop before the first step, listing every bad record) or `skip` (drop them,
            listed with their reasons in `<default_root_dir>/rejects/`).
        check_pixels: decode every image in the pre-flight check (default: headers and chunk checksums only).
        seed: the shuffle order is a function of (seed, epoch) only, so a resumed run sees the same order.
    """

    def __init__(
        self,
        train_file: str | None = None,
        data_dir: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        image_root: str | None = None,
        batch_size: int = 4,
        num_workers: int = 0,
        max_length: int | None = None,
        on_too_long: str = "drop",
        shuffle: bool = True,
        seed: int = 0,
        on_bad_record: str = "error",
        check_pixels: bool = False,
    ) -> None:
        super().__init__()
        self.init_preflight(on_bad_record, check_pixels)
        if on_too_long not in ("drop", "error"):
            raise ValueError(f"on_too_long: expected 'drop' or 'error', got {on_too_long!r}")
        self.train_file = train_file
        self.val_file, self.test_file = val_file, test_file
        self.image_root = image_root
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.max_length = max_length
        self.on_too_long = on_too_long
        self.shuffle = shuffle
        self.seed = seed
        self.backbone: Backbone | None = None
        self.dropped_too_long: list[str] = []
        self._cache: dict[str, tuple[str, PreferenceDataset]] = {}
        if data_dir is not None:
            self.set_data_dir(data_dir)

    # ------------------------------------------------------------ wiring
    def connect(self, backbone: Backbone) -> None:
        """Receive the backbone whose processor turns records into batches; check this stage's files."""
        self.backbone = backbone
        self.check_files()

    def set_data_dir(self, data_dir: str | Path) -> None:
        """Train on `<data_dir>/pairs.jsonl` from the next dataloader build on."""
        self.train_file = str(Path(data_dir) / PAIRS_FILE)

    @property
    def train_digest(self) -> str:
        return source_digest(self._require(self.train_file, "train_file"))

    def _require(self, path: str | None, name: str) -> str:
        if path is None:
            hint = "give train_file or data_dir" if name == "train_file" else f"give data.{name}"
            raise ValueError(f"PreferenceDataModule: `{name}` is not set ({hint})")
        return path

    # ----------------------------------------------------------- datasets
    def dataset(self, path: str) -> PreferenceDataset:
        """The checked, length-filtered pairs of a preference file or dataset (cached per content)."""
        if not Path(path).is_file() and not is_dataset_source(path):
            raise FileNotFoundError(
                f"preference file not found: {path} (data.init_args.train_file or data_dir)"
            )
        digest = source_digest(path)
        cached = self._cache.get(path)
        if cached and cached[0] == digest:
            return cached[1]
        if self.max_length is not None and self.backbone is None:
            raise RuntimeError("PreferenceDataModule.connect(backbone) must run before datasets are built")
        root = Path(self.image_root) if self.image_root else Path(path).parent
        collate = self.token_collator() if self.backbone is not None else None
        checked = self.preflight(path, parse_record, root, pair_problems, collate)
        records = self._filter_too_long(checked, path)
        dataset = PreferenceDataset(records, root)
        self._cache[path] = (digest, dataset)
        return dataset

    def token_collator(self):
        """What turns records into model inputs (the pre-flight check counts their tokens)."""
        return PreferenceCollator(self.backbone)

    def _filter_too_long(self, checked: CheckedFile, path: str) -> list[PreferenceRecord]:
        if self.max_length is None:
            return [record for _, record in checked.records]
        lengths = checked.verdict.lengths
        kept = [record for where, record in checked.records if lengths[where] <= self.max_length]
        too_long = [(where, record) for where, record in checked.records if lengths[where] > self.max_length]
        if too_long and self.on_too_long == "error":
            shown = " | ".join(f"{w}: record {r.id!r} needs {lengths[w]} tokens" for w, r in too_long[:3])
            raise RecordError(
                f"{path}: {len(too_long)} pair(s) over max_length={self.max_length}: {shown}; prompts and image "
                "tokens are never truncated: raise data.init_args.max_length or set on_too_long=drop"
            )
        self.dropped_too_long.extend(record.id for _, record in too_long)
        if too_long:
            log.warning("%s: dropped %d pairs longer than %d tokens", path, len(too_long), self.max_length)
        return kept

    def train_dataset(self) -> PreferenceDataset:
        return self.dataset(self._require(self.train_file, "train_file"))

    def _loader(self, dataset: PreferenceDataset, shuffle: bool) -> DataLoader:
        if self.backbone is None:
            raise RuntimeError("PreferenceDataModule.connect(backbone) must run before dataloaders are built")
        if len(dataset) == 0:
            raise ValueError("no preference pairs left to train on (all dropped or empty file)")
        sampler = EpochShuffle(len(dataset), self.seed, serving_epoch(self.trainer)) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=PreferenceCollator(self.backbone),
        )

    def train_dataloader(self) -> DataLoader:
        return rank_batched(
            self._loader(self.train_dataset(), self.shuffle), self.trainer, self.seed, self.shuffle
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.val_file is None:
            return []
        return self._loader(self.dataset(self.val_file), False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset(self._require(self.test_file, "test_file")), False)

    def reference_dataloader(self) -> DataLoader:
        """The training pairs in file order, for precomputing reference log-probs."""
        return self._loader(self.train_dataset(), False)
