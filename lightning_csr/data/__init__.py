"""Data: the preference record schema and readers, and the DataModules (preference pairs, SFT, Fact-RLHF)."""

from lightning_csr.data.datamodule import PreferenceDataModule
from lightning_csr.data.records import PreferenceRecord, RecordError, read_records, write_records
from lightning_csr.data.rlhf import RewardPairDataModule, RLPromptDataModule
from lightning_csr.data.sft import SFTDataModule

__all__ = [
    "PreferenceDataModule",
    "PreferenceRecord",
    "RLPromptDataModule",
    "RecordError",
    "RewardPairDataModule",
    "SFTDataModule",
    "read_records",
    "write_records",
]
