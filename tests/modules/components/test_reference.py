"""A frozen reference copy (full fine-tuning) is saved in checkpoints and restored as synced, not rebuilt."""

from __future__ import annotations

import torch

from lightning_csr.backbones import LlavaBackbone
from lightning_csr.modules import PreferenceModule
from tests.modules.helpers import adamw, first_batch, fit


def full_finetune(tiny_llava_dir) -> PreferenceModule:
    return PreferenceModule(LlavaBackbone(model_id=str(tiny_llava_dir)), reference="copy", optimizer=adamw)


def test_synced_copy_reference_survives_a_checkpoint(tmp_path, tiny_llava_dir, pairs_dir):
    module = full_finetune(tiny_llava_dir)
    trainer = fit(module, pairs_dir, max_steps=2)
    module.sync_reference()  # the reference is now the trained policy, as after a CSR iteration
    trainer.save_checkpoint(tmp_path / "synced.ckpt")

    restored = full_finetune(tiny_llava_dir)
    checkpoint = torch.load(tmp_path / "synced.ckpt", map_location="cpu", weights_only=False)
    restored.on_load_checkpoint(checkpoint)
    restored.load_state_dict(checkpoint["state_dict"], strict=False)

    batch = first_batch(module, pairs_dir)
    initial = full_finetune(tiny_llava_dir)
    initial.configure_model()
    synced, resumed, base = (m.reference_logps(batch) for m in (module, restored, initial))
    assert torch.equal(resumed, synced)
    assert not torch.allclose(resumed, base), "the test needs a reference that moved away from the base"
