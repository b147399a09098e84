"""CSR's schedule is sized from the pairs kept; configurations that cannot iterate are refused before any work."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.callbacks import LatestCheckpoint, PreferenceRegenerationCallback, ReferenceSyncCallback
from lightning_csr.data import PreferenceDataModule
from lightning_csr.generation.settings import SearchSettings
from lightning_csr.modules.components.schedules import WarmupCosine
from lightning_csr.modules.csr import CSRModule
from lightning_csr.rewards.calibrated import RewardSettings
from tests.conftest import write_prompts
from tests.trainer import quiet_trainer

SEARCH = SearchSettings(num_candidates=3, max_sentence_tokens=6, max_sentences=2, max_new_tokens=12, seed=3)


class LearningRates(L.Callback):
    def __init__(self):
        self.rates, self.totals = [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append((trainer.current_epoch, trainer.optimizers[0].param_groups[0]["lr"]))
        self.totals.append(trainer.lr_scheduler_configs[0].scheduler.total_steps)


def csr_module(tiny_llava_dir, tiny_clip_dir, reference="ref_adapter") -> CSRModule:
    L.seed_everything(0)
    return CSRModule(
        LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8)),
        search=SEARCH,
        reward=RewardSettings(lam=0.9),
        clip_model=str(tiny_clip_dir),
        reference=reference,
        optimizer=lambda p: torch.optim.AdamW(p, lr=5e-3),
        scheduler=lambda optimizer, total: WarmupCosine(optimizer, total, warmup_ratio=0.0),
    )


def trainer(tmp_path, callbacks, **kwargs) -> L.Trainer:
    options = dict(max_epochs=2, reload_dataloaders_every_n_epochs=1, default_root_dir=str(tmp_path / "run"))
    return quiet_trainer(**(options | kwargs), callbacks=callbacks)


def test_each_iteration_schedule_spans_the_pairs_it_kept(
    tmp_path, tiny_llava_dir, tiny_clip_dir, monkeypatch
):
    prompts = write_prompts(tmp_path / "data", n=6)
    original = CSRModule.generate_pairs

    def keeps_one_pair_per_shard(self, *args):
        curation = original(self, *args)
        curation.records = curation.records[:1]  # as if the others were dropped (identical, zero margin)
        return curation

    monkeypatch.setattr(CSRModule, "generate_pairs", keeps_one_pair_per_shard)
    rates = LearningRates()
    callbacks = [PreferenceRegenerationCallback(str(prompts), batch_size=2), ReferenceSyncCallback(), rates]
    trainer(tmp_path, callbacks).fit(
        csr_module(tiny_llava_dir, tiny_clip_dir), PreferenceDataModule(batch_size=2)
    )
    # 3 pairs kept of 6 prompts, batch 2: 2 steps per iteration (sized from the prompts it would be 3)
    assert rates.totals == [2, 2, 2, 2]
    assert [lr for _, lr in rates.rates] == pytest.approx([5e-3, 2.5e-3, 5e-3, 2.5e-3])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_epochs": None, "max_steps": 4}, "max_epochs"),
        ({"reload_dataloaders_every_n_epochs": 0}, "reload_dataloaders_every_n_epochs"),
        ({"without_sync": True}, "ReferenceSyncCallback"),
        ({"reference": "adapter_off"}, "reference: ref_adapter"),
        ({"plain_checkpoint": True}, "LatestCheckpoint"),
    ],
)
def test_settings_that_cannot_iterate_are_refused_before_any_work(
    tmp_path, tiny_llava_dir, tiny_clip_dir, monkeypatch, change, message
):
    prompts = write_prompts(tmp_path / "data", n=4)
    monkeypatch.setattr(CSRModule, "generate_pairs", lambda *args: pytest.fail("generated before the check"))
    change = dict(change)
    callbacks = [PreferenceRegenerationCallback(str(prompts), batch_size=2)]
    if not change.pop("without_sync", False):
        callbacks.append(ReferenceSyncCallback())
    if change.pop("plain_checkpoint", False):
        callbacks.append(ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last=True))
        change["enable_checkpointing"] = True
    module = csr_module(tiny_llava_dir, tiny_clip_dir, reference=change.pop("reference", "ref_adapter"))
    with pytest.raises(ValueError, match=message):
        trainer(tmp_path, callbacks, **change).fit(module, PreferenceDataModule(batch_size=2))


def test_latest_checkpoint_is_accepted(tmp_path, tiny_llava_dir, tiny_clip_dir):
    prompts = write_prompts(tmp_path / "data", n=2)
    checkpoint = LatestCheckpoint(dirpath=str(tmp_path / "ckpt"))
    callbacks = [
        PreferenceRegenerationCallback(str(prompts), batch_size=2),
        ReferenceSyncCallback(),
        checkpoint,
    ]
    fit = trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=True)
    fit.fit(csr_module(tiny_llava_dir, tiny_clip_dir), PreferenceDataModule(batch_size=2))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["last.ckpt"]


def test_pairs_of_other_settings_are_refused(tmp_path, tiny_llava_dir, tiny_clip_dir):
    from lightning_csr.data.provenance import ProducerMismatchError

    prompts = write_prompts(tmp_path / "data", n=2)

    def run(seed: int) -> None:
        module = csr_module(tiny_llava_dir, tiny_clip_dir)
        module.search.seed = seed
        callbacks = [PreferenceRegenerationCallback(str(prompts), batch_size=2), ReferenceSyncCallback()]
        trainer(tmp_path, callbacks, max_epochs=1).fit(module, PreferenceDataModule(batch_size=2))

    run(seed=3)
    run(seed=3)  # the same settings reuse the pairs
    with pytest.raises(ProducerMismatchError, match="iterations/1: holds CSR pairs made by other settings"):
        run(seed=4)


def test_bad_prompts_are_skipped_on_request_and_listed(tmp_path, tiny_llava_dir, tiny_clip_dir):
    import json

    prompts = write_prompts(tmp_path / "data", n=3)
    lines = prompts.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "image": "images/missing.png"})
    prompts.write_text("\n".join(lines) + "\n")
    callbacks = [
        PreferenceRegenerationCallback(str(prompts), batch_size=2, on_bad_record="skip"),
        ReferenceSyncCallback(),
        LatestCheckpoint(dirpath=str(tmp_path / "ckpt")),
    ]
    regeneration = callbacks[0]
    fit = trainer(tmp_path, callbacks, max_epochs=1, enable_checkpointing=True)
    fit.fit(csr_module(tiny_llava_dir, tiny_clip_dir), PreferenceDataModule(batch_size=2))
    kept = [prompt.id for prompt in regeneration.prompts]
    dropped = json.loads(lines[1])["id"]
    assert len(kept) == 2 and dropped not in kept
    (rejects,) = (tmp_path / "run" / "rejects").iterdir()
    (reject,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["record_id"] == dropped and reject["field"] == "image" and "not found" in reject["reason"]
