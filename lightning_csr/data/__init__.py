"""Preference data: the record schema, readers, dataset/collator and the DataModule."""

from lightning_csr.data.datamodule import PreferenceDataModule
from lightning_csr.data.records import PreferenceRecord, RecordError, read_records, write_records

__all__ = ["PreferenceDataModule", "PreferenceRecord", "RecordError", "read_records", "write_records"]
