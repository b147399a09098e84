"""Every method through each real-processor family: a DPO fit, a TPO and a POVID step, a PPO iteration."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import LoraSettings
from lightning_csr.data import PreferenceDataModule
from lightning_csr.modules import PreferenceModule
from lightning_csr.modules.components.ppo_settings import PPOSettings
from lightning_csr.modules.povid import POVIDModule
from lightning_csr.modules.ppo import PPOModule
from lightning_csr.modules.tpo import TPOModule
from tests.conformance.conftest import real_backbone
from tests.conftest import write_pairs
from tests.modules.helpers import adamw, assert_all_changed, trainable_snapshot
from tests.modules.ppo_helpers import fit_ppo
from tests.trainer import quiet_trainer

LORA = LoraSettings(r=4, alpha=8)


@pytest.fixture(scope="module")
def real_pairs(tmp_path_factory):
    """Two preference records (one per step at batch size 1) with small images."""
    root = tmp_path_factory.mktemp("real_pairs")
    write_pairs(root, n=2)
    return root


def _fit(module, pairs, max_steps: int):
    torch.manual_seed(0)
    trainer = quiet_trainer(max_steps=max_steps)
    trainer.fit(module, PreferenceDataModule(data_dir=str(pairs), batch_size=1, shuffle=False))
    return trainer


def test_dpo_fit_trains_every_adapter_weight(family, real_pairs):
    backbone = real_backbone(family, training=True, lora=LORA, gradient_checkpointing=True)
    module = PreferenceModule(backbone, optimizer=adamw)
    module.configure_model()
    before = trainable_snapshot(module)
    trainer = _fit(module, real_pairs, max_steps=2)
    assert trainer.global_step == 2
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert_all_changed(before, module)


@pytest.mark.parametrize("method", ["tpo", "povid"])
def test_tpo_and_povid_step(family, real_pairs, method):
    backbone = real_backbone(family, training=True, lora=LORA)
    if method == "tpo":
        module = TPOModule(backbone, optimizer=adamw)
    else:  # stage 2 from the start: the noise-triggered responses on the corrupted image
        module = POVIDModule(backbone, noise_start_epoch=0, stage_schedules=False, optimizer=adamw)
    module.configure_model()
    before = trainable_snapshot(module)
    trainer = _fit(module, real_pairs, max_steps=1)
    assert trainer.global_step == 1 and torch.isfinite(trainer.callback_metrics["train/loss"])
    assert_all_changed(before, module)


def test_ppo_iteration(family, rl_prompts, tmp_path):
    backbone = real_backbone(family, training=True, lora=LORA)
    settings = PPOSettings(
        generation_batch_size=2, minibatch_size=2, max_new_tokens=4, ppo_epochs=1, value_head_init="reward"
    )
    module = PPOModule(
        backbone,
        ppo=settings,
        rollout_dir=str(tmp_path / "rollouts"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=5e-2),
    )
    trainer = fit_ppo(module, rl_prompts, tmp_path, iterations=1)
    assert module.iteration == 1
    for key in ("objective/kl", "objective/rm_score", "loss/policy_avg", "loss/value_avg"):
        assert torch.isfinite(trainer.callback_metrics[key]), key
