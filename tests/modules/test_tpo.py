"""TPOModule: equals DPO when s = 0, weights bounded and signed right, trains in fp32 and 4-bit QLoRA."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from lightning_csr.losses.masked import masked_sum
from lightning_csr.modules import PreferenceModule
from lightning_csr.modules.tpo import TPOModule, row_weights
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


def _perturbed_pair(tiny_llava_dir, scale: float = 1.0) -> tuple[TPOModule, PreferenceModule]:
    """A TPO and a DPO module with the same random (non-zero) LoRA weights."""
    tpo_module = TPOModule(backbone(tiny_llava_dir))
    dpo_module = PreferenceModule(backbone(tiny_llava_dir))
    tpo_module.configure_model()
    dpo_module.configure_model()
    perturb_adapter(tpo_module, scale=scale)
    dpo_module.load_state_dict(tpo_module.state_dict())
    return tpo_module, dpo_module


def test_tpo_equals_dpo_when_scores_are_zero(tiny_llava_dir, pairs_dir, monkeypatch):
    import lightning_csr.modules.tpo as tpo

    monkeypatch.setattr(tpo, "visual_anchor_scores", lambda clean, corrupted: torch.zeros_like(clean))
    tpo_module, dpo_module = _perturbed_pair(tiny_llava_dir)
    batch = first_batch(tpo_module, pairs_dir)
    policy = hand_logps(tpo_module.policy, tpo_module.backbone, batch)
    with tpo_module.policy.disable_adapter():
        reference = hand_logps(tpo_module.policy, tpo_module.backbone, batch)
    expected = hand_dpo(policy, reference, beta=0.1)
    assert (policy - reference).abs().min() > 0.01  # the adapter moved the policy off the reference
    assert abs(expected["loss"] - math.log(2)) > 1e-2
    for module in (tpo_module, dpo_module):
        logged = step_with_metrics(module, batch)
        for key, value in expected.items():
            assert logged[key] == pytest.approx(value, rel=1e-4, abs=1e-4), (type(module).__name__, key)


def _lora_gradients(loss: torch.Tensor, module) -> torch.Tensor:
    module.policy.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for n, p in module.policy.named_parameters() if "lora_" in n])


def _dpo_with_tpo_margin_gradients(tpo_module, dpo_module, batch) -> torch.Tensor:
    """Gradient of −log σ(β(Δ + m)): DPO's log-ratio Δ plus TPO's Σ log c (policy − reference) held constant."""
    n, mask = len(batch["ids"]), batch["completion_mask"][:, 1:]
    with torch.no_grad():
        corrupted = tpo_module.corrupted_view(batch)
        _, policy_scores = tpo_module.teacher_forced(tpo_module.policy, batch, corrupted, grad=False)
        with tpo_module.reference.model(tpo_module.policy) as ref:
            _, ref_scores = tpo_module.teacher_forced(ref, batch, corrupted, grad=False)
        log_c = [
            masked_sum(torch.log(row_weights(s, n, 0.5)), mask, dim=-1) for s in (policy_scores, ref_scores)
        ]
        extra = log_c[0] - log_c[1]
        margin = extra[:n] - extra[n:]
        reference = dpo_module.reference_logps(batch)
    policy = dpo_module.forward_logps(dpo_module.policy, batch)["logps"]
    ratio = (policy[:n] - reference[:n]) - (policy[n:] - reference[n:])
    loss = -torch.nn.functional.logsigmoid(0.1 * (ratio + margin)).mean()
    return _lora_gradients(loss, dpo_module)


def test_detached_tpo_is_dpo_with_a_margin_and_the_default_is_not(tiny_llava_dir, pairs_dir):
    """Detached, every gradient is DPO's (with a constant margin); the default (released TPO) adds log c's."""
    tpo_module, dpo_module = _perturbed_pair(tiny_llava_dir, scale=0.2)
    assert tpo_module.detach_weights is False  # the released behaviour is the default
    batch = first_batch(tpo_module, pairs_dir)
    reference = _dpo_with_tpo_margin_gradients(tpo_module, dpo_module, batch)
    default = _lora_gradients(tpo_module.model_step(batch, "val"), tpo_module)
    tpo_module.detach_weights = True
    detached = _lora_gradients(tpo_module.model_step(batch, "val"), tpo_module)
    assert reference.norm() > 0
    assert (detached - reference).norm() < 1e-4 * reference.norm()  # measured: 4e-7
    assert (default - reference).norm() > 0.05 * reference.norm()  # measured: 0.12
    # not just a rescaled DPO gradient: the direction differs too (measured cosine 0.994)
    assert torch.nn.functional.cosine_similarity(default, reference, dim=0) < 0.998


def test_weights_bounded_and_move_the_right_way():
    scores = torch.tensor([[1e4, 2.0, 0.0, -2.0, -1e4]] * 2)
    weights = row_weights(scores, num_chosen=1, margin=0.5)
    assert weights.min() >= 0.5 and weights.max() <= 1.5
    chosen, rejected = weights[0], weights[1]
    assert chosen[2] == 1 and rejected[2] == 1
    assert torch.all(chosen[:2] > 1) and torch.all(chosen[3:] < 1)  # image-grounded chosen tokens count more
    assert torch.all(rejected[:2] < 1) and torch.all(rejected[3:] > 1)  # image-grounded rejected ones less
    assert torch.all(chosen[:-1] >= chosen[1:])


class ImageSensitiveModel(torch.nn.Module):
    """Logits favour each next token by `boost` when it sees the clean pixels, not the corrupted ones."""

    def __init__(self, clean_pixels, vocab, boost=3.0):
        super().__init__()
        self.clean_pixels, self.vocab, self.boost = clean_pixels, vocab, boost

    def forward(self, input_ids, pixel_values, **kwargs):
        targets = torch.roll(input_ids, -1, dims=1)
        scale = self.boost if torch.equal(pixel_values, self.clean_pixels) else 0.0
        return SimpleNamespace(logits=torch.nn.functional.one_hot(targets, self.vocab).float() * scale)


def test_hand_built_case_grounded_tokens(tiny_llava_dir, pairs_dir):
    module = TPOModule(backbone(tiny_llava_dir))
    batch = first_batch(module, pairs_dir)
    corrupted = module.corrupted_view(batch)
    model = ImageSensitiveModel(batch["pixel_values"], len(module.backbone.tokenizer))
    _, scores = module.teacher_forced(model, batch, corrupted, grad=False)
    mask = batch["completion_mask"][:, 1:].bool()
    assert torch.allclose(scores[mask], torch.full_like(scores[mask], 3.0))
    weights = row_weights(scores, len(batch["ids"]), 0.5)
    n = len(batch["ids"])
    assert torch.all(weights[:n][mask[:n]] > 1.4) and torch.all(weights[n:][mask[n:]] < 0.6)


@pytest.mark.parametrize("four_bit", [False, True], ids=["fp32", "qlora4"])
def test_tpo_fit_few_steps(tmp_path, tiny_llava_dir, pairs_dir, four_bit):
    if four_bit:
        pytest.importorskip("bitsandbytes")
        from tests.tiny_models import tiny_llava

        tiny_llava_dir = tiny_llava(tmp_path / "llava")
    module = TPOModule(backbone(tiny_llava_dir, four_bit), optimizer=adamw)
    module.configure_model()
    if four_bit:  # bitsandbytes repacks 4-bit weights on the first forward: run one before snapshotting
        with torch.no_grad():
            module.model_step(first_batch(module, pairs_dir), "val")
    before = trainable_snapshot(module)
    trainer = fit(module, pairs_dir, max_steps=2)
    assert_all_changed(before, module)
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss"])
    for name in ("tpo/score_chosen", "tpo/weight_chosen", "tpo/score_rejected", "tpo/weight_rejected"):
        assert name in metrics
    assert 0.5 <= metrics["tpo/weight_chosen"] <= 1.5
