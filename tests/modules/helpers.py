"""Shared pieces of the TPO and POVID module tests: build, batch, fit and compare on the tiny LLaVA."""

from __future__ import annotations

import lightning as L
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings, QuantizationSettings
from lightning_csr.data import PreferenceDataModule
from tests.trainer import quiet_trainer


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
    trainer = quiet_trainer(max_steps=max_steps, max_epochs=max_epochs)
    trainer.fit(module, datamodule(pairs_dir))
    return trainer


def trainable_snapshot(module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.policy.named_parameters() if p.requires_grad}


def assert_all_changed(before: dict[str, torch.Tensor], module) -> None:
    params = dict(module.policy.named_parameters())
    assert before, "nothing was trainable"
    unchanged = [n for n, p in before.items() if torch.equal(p, params[n].detach())]
    assert not unchanged, f"trainable parameters did not change: {unchanged[:3]}"


def perturb_adapter(module, seed: int = 0, scale: float = 1.0) -> None:
    """Seeded random LoRA A and B (B is zero at init, where policy = base and every loss is exactly ln 2)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(module.policy.named_parameters()):
            if "lora_A" in name or "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)


def hand_logps(model, backbone, batch: dict) -> torch.Tensor:
    """Summed completion log-probs [2B] read off the raw logits token by token (independent of the package)."""
    with torch.no_grad():
        logits = model(**backbone.model_inputs(batch), use_cache=False).logits.double()
    ids, mask = batch["input_ids"], batch["completion_mask"]
    sums = []
    for row in range(ids.shape[0]):
        positions = [t for t in range(1, ids.shape[1]) if mask[row, t]]
        sums.append(sum(logits[row, t - 1].log_softmax(-1)[ids[row, t]] for t in positions))
    return torch.stack(sums)


def hand_dpo(policy: torch.Tensor, reference: torch.Tensor, beta: float) -> dict[str, float]:
    """Sigmoid DPO loss and TRL metrics from [chosen..., rejected...] summed log-probs."""
    n = policy.shape[0] // 2
    logits = (policy[:n] - reference[:n]) - (policy[n:] - reference[n:])
    return {
        "loss": float(-torch.nn.functional.logsigmoid(beta * logits).mean()),
        "logps/chosen": float(policy[:n].mean()),
        "logps/rejected": float(policy[n:].mean()),
        "rewards/margins": float(beta * logits.mean()),
    }


def step_with_metrics(module, batch: dict, stage: str = "val") -> dict[str, float]:
    """Run `model_step` and return its loss with the metrics it logs (TRL names)."""
    logged: dict[str, float] = {}

    def log_step(loss, metrics, stage, batch_size):
        logged.update({k: float(v) for k, v in metrics.items()}, loss=float(loss.detach()))

    module.log_step = log_step
    try:
        module.model_step(batch, stage)
    finally:
        del module.log_step
    return logged
