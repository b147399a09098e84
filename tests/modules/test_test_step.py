"""`test` runs each module's one `model_step`: the same numbers as `validate`, logged under `test/`."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.data import PreferenceDataModule
from lightning_csr.data.rlhf import RewardPairDataModule
from lightning_csr.data.sft import SFTDataModule, SFTRecord, write_sft_records
from lightning_csr.modules import (
    CSRModule,
    POVIDModule,
    PreferenceModule,
    RewardModelModule,
    SFTModule,
    TPOModule,
)
from lightning_csr.rewards.calibrated import RewardSettings
from tests.trainer import quiet_trainer

MODULES = {
    "dpo": lambda backbone: PreferenceModule(backbone),
    "tpo": lambda backbone: TPOModule(backbone),
    "povid": lambda backbone: POVIDModule(backbone),
    "csr": lambda backbone: CSRModule(backbone, reward=RewardSettings(lam=0.0)),
    "reward_model": lambda backbone: RewardModelModule(backbone),
    "sft": lambda backbone: SFTModule(backbone),
}


def datamodule(name: str, pairs_dir) -> L.LightningDataModule:
    """Validation data of the module's kind (the training file doubles as validation and test file)."""
    pairs = str(pairs_dir / "pairs.jsonl")
    if name == "reward_model":
        return RewardPairDataModule(
            train_file=pairs, val_file=pairs, test_file=pairs, batch_size=4, shuffle=False
        )
    if name == "sft":
        sft = pairs_dir / "sft.jsonl"
        records = [
            SFTRecord(f"s{i}", f"images/{i}.png", "What is in the image?", f"a red square {i}")
            for i in range(6)
        ]
        write_sft_records(sft, records)
        return SFTDataModule(
            str(sft),
            val_file=str(sft),
            test_file=str(sft),
            image_root=str(pairs_dir),
            batch_size=4,
            shuffle=False,
        )
    return PreferenceDataModule(
        train_file=pairs, val_file=pairs, test_file=pairs, batch_size=4, shuffle=False
    )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_test_logs_what_validate_logs(name, tiny_llava_dir, pairs_dir):
    torch.manual_seed(0)
    module = MODULES[name](LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)))
    data = datamodule(name, pairs_dir)
    trainer = quiet_trainer()
    validated = trainer.validate(module, datamodule=data)[0]
    tested = trainer.test(module, datamodule=data)[0]
    assert "val/loss" in validated and len(validated) >= (1 if name == "sft" else 5)
    assert sorted(tested) == sorted("test/" + key.removeprefix("val/") for key in validated)
    for key, value in validated.items():
        assert tested["test/" + key.removeprefix("val/")] == pytest.approx(value, rel=1e-6, abs=1e-7), key


@pytest.mark.parametrize("kind", ["preference", "sft"])
def test_test_without_test_file_names_the_field(kind, tiny_llava_dir, pairs_dir):
    data = datamodule("dpo" if kind == "preference" else "sft", pairs_dir)
    data.test_file = None
    with pytest.raises(ValueError, match="test_file"):
        data.test_dataloader()
