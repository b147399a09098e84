"""Hand-computed checks of the POVID loss and the shared noise-triggered tokens."""

import math

import pytest
import torch

from lightning_csr.losses.povid import noise_triggered_tokens, povid_loss

# β = 1. Chosen log-ratio = -1 - (-2) = 1; injected log-ratio = -3 - (-2) = -1 (Δ_text = 2);
# noise log-ratio = -2 - (-2) = 0 (Δ_noise = 1).
LOGPS = {
    "policy_chosen": torch.tensor([-1.0]),
    "policy_injected": torch.tensor([-3.0]),
    "policy_noise": torch.tensor([-2.0]),
    "ref_chosen": torch.tensor([-2.0]),
    "ref_injected": torch.tensor([-2.0]),
    "ref_noise": torch.tensor([-2.0]),
}
TEXT = math.log1p(math.exp(-2.0))  # -log σ(2) ≈ 0.1269
NOISE = math.log1p(math.exp(-1.0))  # -log σ(1) ≈ 0.3133


def test_stage_one_is_plain_dpo() -> None:
    loss, metrics = povid_loss(**{**LOGPS, "policy_noise": None, "ref_noise": None}, beta=1.0, stage=1)
    assert loss.item() == pytest.approx(TEXT)
    assert metrics["rewards/margins"].item() == pytest.approx(2.0)
    assert "loss/noise" not in metrics


def test_stage_two_mixes_text_and_noise() -> None:
    loss, metrics = povid_loss(**LOGPS, beta=1.0, noise_weight=0.5, stage=2)
    assert loss.item() == pytest.approx(0.5 * TEXT + 0.5 * NOISE)  # ≈ 0.2201
    assert metrics["loss/text"].item() == pytest.approx(TEXT)
    assert metrics["loss/noise"].item() == pytest.approx(NOISE)
    assert metrics["rewards/noise_margins"].item() == pytest.approx(1.0)
    assert metrics["rewards/noise_accuracies"].item() == 1.0
    weighted, _ = povid_loss(**LOGPS, beta=1.0, noise_weight=0.25)
    assert weighted.item() == pytest.approx(0.75 * TEXT + 0.25 * NOISE)


def test_gradients_finite() -> None:
    inputs = {name: value.clone().requires_grad_(name.startswith("policy")) for name, value in LOGPS.items()}
    loss, _ = povid_loss(**inputs)
    loss.backward()
    for name in ("policy_chosen", "policy_injected", "policy_noise"):
        assert torch.isfinite(inputs[name].grad).all()
    assert inputs["policy_chosen"].grad.item() < 0 < inputs["policy_noise"].grad.item()


def test_noise_triggered_tokens_are_masked_argmax() -> None:
    logits = torch.tensor([[[0.1, 2.0, 0.3], [5.0, 0.0, 1.0], [0.0, 0.0, 9.0]]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0]])
    tokens = noise_triggered_tokens(logits, mask)
    assert tokens.tolist() == [[1, 0, -100]]
    assert not tokens.requires_grad and tokens.dtype == torch.long


def test_errors() -> None:
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        povid_loss(**LOGPS, stage=3)
    with pytest.raises(ValueError, match="noise_weight must be in"):
        povid_loss(**LOGPS, noise_weight=1.5)
    with pytest.raises(ValueError, match="stage 2 needs policy_noise"):
        povid_loss(**{**LOGPS, "ref_noise": None})
