"""Shared pieces of the TPO and POVID module tests: build, batch, fit and compare on the tiny LLaVA."""

from __future__ import annotations

import lightning as L
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings, QuantizationSettings
from lightning_csr.data import PreferenceDataModule


def adamw(params):
    return torch.optim.AdamW(params, lr=1e-2)


def backbone(model_dir, four_bit: bool = False) -> LlavaBackbone:
    quantization = QuantizationSettings(bits=4, compute_dtype="float32") if four_bit else None
    return LlavaBackbone(model_id=str(model_dir), quantization=quantization, lora=LoraSettings(r=4, alpha=8))


def datamodule(pairs_dir, batch_size: int = 4) -> PreferenceDataModule:
    return PreferenceDataModule(data_dir=str(pairs_dir), batch_size=batch_size, shuffle=False)


def first_batch(module, pairs_dir, batch_size: int = 4) -> dict:
    data = datamodule(pairs_dir, batch_size)
    data.connect(module.backbone)
    return next(iter(data.train_dataloader()))


def fit(module, pairs_dir, max_steps: int = -1, max_epochs: int = 1) -> L.Trainer:
    L.seed_everything(0)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule(pairs_dir))
    return trainer


def trainable_snapshot(module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.policy.named_parameters() if p.requires_grad}


def assert_all_changed(before: dict[str, torch.Tensor], module) -> None:
    params = dict(module.policy.named_parameters())
    assert before, "nothing was trainable"
    unchanged = [n for n, p in before.items() if torch.equal(p, params[n].detach())]
    assert not unchanged, f"trainable parameters did not change: {unchanged[:3]}"
