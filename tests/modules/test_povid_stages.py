"""POVID's stage 2 starts its own warm-up and cosine at the full learning rate (as the released second job)."""

from __future__ import annotations

import lightning as L
import pytest

from lightning_csr.modules.components.schedules import WarmupCosine
from lightning_csr.modules.povid import POVIDModule
from tests.modules.helpers import adamw, backbone, datamodule
from tests.trainer import quiet_trainer

PEAK = 1e-2  # helpers.adamw


class LearningRates(L.Callback):
    def __init__(self):
        self.rates = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append((trainer.current_epoch, trainer.optimizers[0].param_groups[0]["lr"]))


def stage_rates(tiny_llava_dir, pairs_dir, stage_schedules: bool) -> list[tuple[int, float]]:
    module = POVIDModule(
        backbone(tiny_llava_dir),
        noise_start_epoch=2,
        stage_schedules=stage_schedules,
        optimizer=adamw,
        scheduler=lambda optimizer, total: WarmupCosine(optimizer, total, warmup_ratio=0.25),
    )
    rates = LearningRates()
    L.seed_everything(0)
    trainer = quiet_trainer(max_epochs=3, callbacks=[rates])
    trainer.fit(module, datamodule(pairs_dir, batch_size=2))  # 8 pairs: 4 steps per epoch
    return rates.rates


def test_stage_two_starts_its_own_schedule(tiny_llava_dir, pairs_dir):
    rates = stage_rates(tiny_llava_dir, pairs_dir, stage_schedules=True)
    stage_one = [lr for epoch, lr in rates if epoch < 2]
    stage_two = [lr for epoch, lr in rates if epoch == 2]
    # stage 1: 8 steps, warm-up 2 (1/3, 2/3 of the peak), cosine down; stage 2: 4 steps, warm-up 1 (1/2)
    assert stage_one[:3] == pytest.approx([PEAK / 3, 2 * PEAK / 3, PEAK])
    assert stage_two == pytest.approx([PEAK / 2, PEAK, PEAK * 0.75, PEAK * 0.25])


def test_one_schedule_over_both_stages_leaves_stage_two_in_the_tail(tiny_llava_dir, pairs_dir):
    rates = stage_rates(tiny_llava_dir, pairs_dir, stage_schedules=False)
    stage_two = [lr for epoch, lr in rates if epoch == 2]
    assert max(stage_two) < 0.5 * PEAK
