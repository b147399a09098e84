"""The CSR loop: generation before each iteration's training, a 2-iteration run end to end (resume: test_resume)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.callbacks import PreferenceRegenerationCallback, ReferenceSyncCallback
from lightning_csr.data import PreferenceDataModule, read_records
from lightning_csr.generation.settings import SearchSettings
from lightning_csr.modules.csr import CSRModule
from lightning_csr.rewards.calibrated import RewardSettings
from tests.conftest import write_prompts
from tests.trainer import quiet_trainer

SEARCH = SearchSettings(num_candidates=3, max_sentence_tokens=6, max_sentences=2, max_new_tokens=12, seed=3)


class Events(L.Callback):
    """Records generation and training events in order."""

    def __init__(self):
        self.events = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        source = Path(trainer.datamodule.train_file).parent.name
        self.events.append(("train", trainer.current_epoch, source))


def make(tmp_path, tiny_llava_dir, tiny_clip_dir, run="run", max_epochs=2, extra=()):
    prompts = tmp_path / "data" / "prompts.jsonl"
    if not prompts.exists():
        write_prompts(tmp_path / "data", n=6)
    L.seed_everything(0)
    backbone = LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8))
    module = CSRModule(
        backbone,
        search=SEARCH,
        reward=RewardSettings(lam=0.9),
        clip_model=str(tiny_clip_dir),
        optimizer=lambda p: torch.optim.AdamW(p, lr=5e-3),
    )
    callbacks = [PreferenceRegenerationCallback(str(prompts), batch_size=2), ReferenceSyncCallback(), *extra]
    trainer = quiet_trainer(
        max_epochs=max_epochs,
        reload_dataloaders_every_n_epochs=1,
        default_root_dir=str(tmp_path / run),
        callbacks=callbacks,
    )
    return module, PreferenceDataModule(batch_size=2), trainer


@pytest.mark.slow
def test_two_iterations_train_on_freshly_generated_pairs(
    tmp_path, tiny_llava_dir, tiny_clip_dir, monkeypatch
):
    events = Events()
    module, data, trainer = make(tmp_path, tiny_llava_dir, tiny_clip_dir, extra=[events])
    original = CSRModule.generate_pairs

    def recorded(self, images, prompts, ids, refs, iteration):
        events.events.append(("generate", iteration, self.trainer.current_epoch))
        return original(self, images, prompts, ids, refs, iteration)

    monkeypatch.setattr(CSRModule, "generate_pairs", recorded)
    trainer.fit(module, data)
    kinds = [(e[0], e[1]) for e in events.events]
    # iteration 1 is generated before any training, iteration 2 after epoch 0 and before epoch 1
    first_train_1 = kinds.index(("train", 1))
    assert kinds[0] == ("generate", 1)
    assert max(i for i, k in enumerate(kinds) if k == ("generate", 2)) < first_train_1
    assert min(i for i, k in enumerate(kinds) if k == ("generate", 2)) > max(
        i for i, k in enumerate(kinds) if k == ("train", 0)
    )
    assert {e[2] for e in events.events if e[0] == "train" and e[1] == 0} == {"1"}
    assert {e[2] for e in events.events if e[0] == "train" and e[1] == 1} == {"2"}
    for iteration in (1, 2):
        directory = tmp_path / "run" / "iterations" / str(iteration)
        records = read_records(directory / "pairs.jsonl").records
        stats = json.loads((directory / "stats.json").read_text())
        assert stats["pairs"] == len(records) > 0
        for record in records:
            assert record.chosen != record.rejected
            assert record.meta["chosen_sentences"] and "tree" in record.meta
            assert record.meta["question"] == "Describe the image."
