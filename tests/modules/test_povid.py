"""POVIDModule: stage 1 is DPO, stage 2 scores one set of noise-triggered ids under both models, fits in fp32/4-bit."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.modules import PreferenceModule
from lightning_csr.modules.povid import POVIDModule
from tests.modules.helpers import (
    adamw,
    assert_all_changed,
    backbone,
    first_batch,
    fit,
    hand_dpo,
    hand_logps,
    perturb_adapter,
    step_with_metrics,
    trainable_snapshot,
)


def test_stage_one_equals_dpo(tiny_llava_dir, pairs_dir):
    povid = POVIDModule(backbone(tiny_llava_dir), noise_start_epoch=1)
    dpo = PreferenceModule(backbone(tiny_llava_dir))
    povid.configure_model()
    dpo.configure_model()
    perturb_adapter(povid)  # at init (LoRA B = 0) every loss is ln 2 whatever the log-probs
    dpo.load_state_dict(povid.state_dict())
    batch = first_batch(povid, pairs_dir)
    assert povid.stage == 1
    policy = hand_logps(povid.policy, povid.backbone, batch)
    with povid.policy.disable_adapter():
        reference = hand_logps(povid.policy, povid.backbone, batch)
    assert (policy - reference).abs().min() > 0.01  # far above the 1e-6 the comparisons below resolve
    expected = hand_dpo(policy, reference, beta=povid.loss_config.beta)
    for module in (povid, dpo):
        logged = step_with_metrics(module, batch)
        for key, value in expected.items():
            assert logged[key] == pytest.approx(value, rel=1e-4, abs=1e-4), (type(module).__name__, key)


def test_noise_triggered_ids_computed_once_and_shared(tiny_llava_dir, pairs_dir, monkeypatch):
    module = POVIDModule(backbone(tiny_llava_dir), noise_start_epoch=0, noise_source="reference")
    module.configure_model()
    batch = first_batch(module, pairs_dir)
    n = len(batch["ids"])
    picks, scored = [], []
    pick, score = module.noise_triggered_ids, POVIDModule.score_tokens

    def spy_pick(*args):
        picks.append(pick(*args))
        return picks[-1]

    def spy_score(log_probs, ids, mask):
        scored.append(ids)
        return score(log_probs, ids, mask)

    monkeypatch.setattr(module, "noise_triggered_ids", spy_pick)
    monkeypatch.setattr(module, "score_tokens", spy_score)
    module.model_step(batch, "train")
    assert len(picks) == 1
    # policy: own completions, noise ids; reference: own completions, noise ids
    assert len(scored) == 4 and scored[1] is picks[0] and scored[3] is picks[0]
    ids, mask = picks[0], batch["completion_mask"][:n, 1:].bool()
    assert ids.shape == mask.shape and torch.all(ids[~mask] == -100) and torch.all(ids[mask] >= 0)


def test_noise_ids_are_corrupted_image_argmax(tiny_llava_dir, pairs_dir):
    module = POVIDModule(backbone(tiny_llava_dir), noise_start_epoch=0)
    module.configure_model()
    batch = first_batch(module, pairs_dir)
    n = len(batch["ids"])
    ids = module.noise_triggered_ids(batch, n)
    view = module.corruptor.corrupt_batch(batch, module.backbone.processor.image_processor, 0)
    with torch.no_grad():
        logits = module.policy(**module.backbone.model_inputs(view)).logits[:n, :-1]
    mask = batch["completion_mask"][:n, 1:].bool()
    assert torch.equal(ids[mask], logits.argmax(-1)[mask])


@pytest.mark.parametrize("four_bit", [False, True], ids=["fp32", "qlora4"])
def test_povid_fit_both_stages(tmp_path, tiny_llava_dir, pairs_dir, four_bit):
    if four_bit:
        pytest.importorskip("bitsandbytes")
        from tests.tiny_models import tiny_llava

        tiny_llava_dir = tiny_llava(tmp_path / "llava")
    module = POVIDModule(
        backbone(tiny_llava_dir, four_bit),
        noise_start_epoch=1,
        reference="ref_adapter",
        reference_from_stage1=True,
        optimizer=adamw,
    )
    module.configure_model()
    if four_bit:  # bitsandbytes repacks 4-bit weights on the first forward: run one before snapshotting
        with torch.no_grad():
            module.model_step(first_batch(module, pairs_dir), "val")
    before = trainable_snapshot(module)
    trainer = fit(module, pairs_dir, max_epochs=2)  # 8 pairs, batch 4: 2 steps per stage
    assert_all_changed(before, module)
    metrics = trainer.callback_metrics
    assert metrics["povid/stage"] == 2 and torch.isfinite(metrics["loss/noise"])
    assert module.reference_synced
