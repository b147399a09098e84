"""PreferenceModule: parameters that must change do, frozen ones and the reference do not, caches agree."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lightning_csr.backbones import LlavaBackbone, LoraSettings
from lightning_csr.data import PreferenceDataModule
from lightning_csr.modules import PreferenceModule
from tests.trainer import quiet_trainer


def adamw(params):
    return torch.optim.AdamW(params, lr=1e-2)


def make(tiny_llava_dir, pairs_dir, lora=True, **kwargs):
    backbone = LlavaBackbone(model_id=str(tiny_llava_dir), lora=LoraSettings(r=4, alpha=8) if lora else None)
    module = PreferenceModule(backbone, optimizer=adamw, **kwargs)
    data = PreferenceDataModule(data_dir=str(pairs_dir), batch_size=4, shuffle=False)
    return module, data


def fit(module, data, steps=3, callbacks=()):
    L.seed_everything(0)
    trainer = quiet_trainer(max_steps=steps, callbacks=list(callbacks))
    trainer.fit(module, data)
    return trainer


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def first_batch(module, data):
    data.connect(module.backbone)
    return next(iter(data.train_dataloader()))


@pytest.mark.parametrize("lora", [True, False])
def test_trainable_change_frozen_and_reference_do_not(tiny_llava_dir, pairs_dir, lora):
    module, data = make(tiny_llava_dir, pairs_dir, lora=lora)
    module.configure_model()
    batch = first_batch(module, data)
    before = snapshot(module.policy)
    ref_before = module.reference_logps(batch)
    fit(module, data)
    after = snapshot(module.policy)
    trainable = {n for n, p in module.policy.named_parameters() if p.requires_grad}
    assert trainable, "nothing was trainable"
    for name in before:
        changed = not torch.equal(before[name], after[name])
        if name in trainable:
            assert changed, f"trainable parameter did not change: {name}"
        else:
            assert not changed, f"frozen parameter changed: {name}"
    assert any("vision_tower" in n for n in before) and not any("vision_tower" in n for n in trainable)
    torch.testing.assert_close(module.reference_logps(batch), ref_before)


class LossRecorder(L.Callback):
    def __init__(self):
        self.losses = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


def test_cached_reference_gives_same_loss(tiny_llava_dir, pairs_dir):
    runs = []
    for cache in (False, True):
        module, data = make(tiny_llava_dir, pairs_dir, cache_reference=cache)
        recorder = LossRecorder()
        fit(module, data, steps=4, callbacks=[recorder])
        runs.append(recorder.losses)
    assert len(runs[0]) == 4
    torch.testing.assert_close(torch.tensor(runs[1]), torch.tensor(runs[0]), rtol=1e-5, atol=1e-6)
    assert list(pairs_dir.glob("ref_logps-*.pt")), "cache was not written beside the data"


def test_cached_reference_skips_reference_forward(tiny_llava_dir, pairs_dir, monkeypatch):
    module, data = make(tiny_llava_dir, pairs_dir, cache_reference=True)
    fit(module, data, steps=2)  # builds the cache
    module2, data2 = make(tiny_llava_dir, pairs_dir, cache_reference=True)
    calls = []
    original = PreferenceModule.reference_logps
    monkeypatch.setattr(
        PreferenceModule, "reference_logps", lambda self, b: calls.append(1) or original(self, b)
    )
    fit(module2, data2, steps=2)
    assert calls == []


def test_nan_loss_names_step_and_batch(tiny_llava_dir, pairs_dir, monkeypatch):
    module, data = make(tiny_llava_dir, pairs_dir)
    original = PreferenceModule.forward_logps

    def poisoned(self, model, batch, *args):
        out = original(self, model, batch, *args)
        return {**out, "logps": out["logps"] * float("nan")}

    monkeypatch.setattr(PreferenceModule, "forward_logps", poisoned)
    with pytest.raises(
        FloatingPointError,
        match=r"global step 0 \(batch ids \['p0', 'p1', 'p2', 'p3'\]\): lower the learning rate",
    ):
        fit(module, data, steps=1)


def test_ref_adapter_sync_makes_reference_equal_policy(tiny_llava_dir, pairs_dir):
    module, data = make(tiny_llava_dir, pairs_dir, reference="ref_adapter")
    module.configure_model()
    batch = first_batch(module, data)
    base = module.reference_logps(batch)
    fit(module, data, steps=3)
    module.eval()
    with torch.no_grad():
        policy = module.forward_logps(module.policy, batch)["logps"]
    torch.testing.assert_close(module.reference_logps(batch), base)  # still iteration-1 reference
    assert not torch.allclose(policy, base)
    module.sync_reference()
    torch.testing.assert_close(module.reference_logps(batch), policy)
    assert all(not p.requires_grad for n, p in module.policy.named_parameters() if ".ref." in n)
    assert any(p.requires_grad for n, p in module.policy.named_parameters() if ".default." in n)


def test_checkpoint_holds_only_trained_weights(tiny_llava_dir, pairs_dir, tmp_path):
    module, data = make(tiny_llava_dir, pairs_dir, reference="ref_adapter")
    trainer = fit(module, data, steps=1)
    trainer.save_checkpoint(tmp_path / "c.ckpt")
    state = torch.load(tmp_path / "c.ckpt", weights_only=False)["state_dict"]
    assert state and all("lora_" in k for k in state)
    assert any(".ref." in k for k in state) and any(".default." in k for k in state)


def test_shared_image_features_match_the_plain_forward(tiny_llava_dir, pairs_dir):
    module, data = make(tiny_llava_dir, pairs_dir)
    module.configure_model()
    batch = first_batch(module, data)
    features = module.image_features(module.policy, batch)
    assert features is not None and len(features.pooler_output) == batch["input_ids"].shape[0]
    with torch.no_grad():
        shared = module.forward_logps(module.policy, batch, features)["logps"]
        plain = module.forward_logps(module.policy, batch)["logps"]
    torch.testing.assert_close(shared, plain)
    torch.testing.assert_close(module.reference_logps(batch, features), module.reference_logps(batch))
