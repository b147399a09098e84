"""The corrupted view: clamped to valid pixels, deterministic per (seed, record, epoch), one per record."""

from __future__ import annotations

import torch

from lightning_csr.modules.components.image_corruption import CorruptionSettings, ImageCorruptor
from lightning_csr.modules.tpo import TPOModule
from tests.modules.helpers import backbone, first_batch


def pixels01(pixel_values, image_processor):
    mean = torch.tensor(image_processor.image_mean).view(3, 1, 1)
    std = torch.tensor(image_processor.image_std).view(3, 1, 1)
    return pixel_values * std + mean


def test_clamped_deterministic_and_one_draw_per_record(tiny_llava_dir, pairs_dir):
    module = TPOModule(backbone(tiny_llava_dir))
    batch = first_batch(module, pairs_dir)
    processor = module.backbone.processor.image_processor
    corruptor = ImageCorruptor(CorruptionSettings(step=900))  # strong noise: many values hit the clamp
    noisy = corruptor.corrupt_batch(batch, processor, epoch=0)["pixel_values"]
    values = pixels01(noisy, processor)
    assert values.min() >= -1e-5 and values.max() <= 1 + 1e-5
    assert ((values < 1e-4) | (values > 1 - 1e-4)).float().mean() > 0.05
    assert not torch.equal(noisy, batch["pixel_values"])
    n = len(batch["ids"])
    assert torch.equal(noisy[:n], noisy[n:]), "chosen and rejected rows of a record share one noisy image"
    assert not torch.equal(noisy[0], noisy[1])
    again = ImageCorruptor(CorruptionSettings(step=900)).corrupt_batch(batch, processor, epoch=0)
    assert torch.equal(again["pixel_values"], noisy)
    assert not torch.equal(corruptor.corrupt_batch(batch, processor, epoch=1)["pixel_values"], noisy)
    other_seed = ImageCorruptor(CorruptionSettings(step=900, seed=1)).corrupt_batch(batch, processor, epoch=0)
    assert not torch.equal(other_seed["pixel_values"], noisy)


def test_policy_and_reference_see_the_same_corrupted_images(tiny_llava_dir, pairs_dir, monkeypatch):
    import lightning_csr.modules.tpo as tpo

    module = TPOModule(backbone(tiny_llava_dir))
    module.configure_model()
    batch = first_batch(module, pairs_dir)
    seen = []
    original = tpo.next_token_logits

    def spy(model, backbone_, view):
        seen.append(view["pixel_values"])
        return original(model, backbone_, view)

    monkeypatch.setattr(tpo, "next_token_logits", spy)
    module.model_step(batch, "train")
    # policy clean, policy corrupted, reference clean, reference corrupted
    assert len(seen) == 4
    assert torch.equal(seen[0], batch["pixel_values"]) and torch.equal(seen[2], batch["pixel_values"])
    assert seen[1] is seen[3] and not torch.equal(seen[1], batch["pixel_values"])
