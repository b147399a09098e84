"""Hand-computed checks of the pairwise preference losses."""

import math

import pytest
import torch

from lightning_csr.losses.dpo import LOSS_TYPES, DPOLossSettings, preference_loss

# beta = 0.5; chosen log-ratio = -1 - (-2) = 1, rejected log-ratio = -3 - (-2) = -1, so Δ = 2 and βΔ = 1.
BETA = 0.5


def logps(requires_grad: bool = False) -> tuple[torch.Tensor, ...]:
    """Policy chosen/rejected and reference chosen/rejected summed log-probs for one pair."""
    policy_chosen = torch.tensor([-1.0], requires_grad=requires_grad)
    policy_rejected = torch.tensor([-3.0], requires_grad=requires_grad)
    return policy_chosen, policy_rejected, torch.tensor([-2.0]), torch.tensor([-2.0])


def softplus(x: float) -> float:
    """-log σ(-x) = log(1 + e^x)."""
    return math.log1p(math.exp(x))


def test_sigmoid_hand_computed_and_metrics() -> None:
    loss, metrics = preference_loss(*logps(), beta=BETA)
    assert loss.item() == pytest.approx(softplus(-1.0))  # -log σ(1) = log(1 + e^-1) ≈ 0.3133
    assert metrics["rewards/chosen"].item() == pytest.approx(0.5)  # β · 1
    assert metrics["rewards/rejected"].item() == pytest.approx(-0.5)  # β · -1
    assert metrics["rewards/margins"].item() == pytest.approx(1.0)
    assert metrics["rewards/accuracies"].item() == 1.0
    assert metrics["logps/chosen"].item() == -1.0
    assert metrics["logps/rejected"].item() == -3.0
    assert all(not value.requires_grad for value in metrics.values())


def test_sigmoid_at_zero_margin_is_log_two() -> None:
    zeros = torch.zeros(3)
    loss, metrics = preference_loss(zeros, zeros, zeros, zeros)
    assert loss.item() == pytest.approx(math.log(2))
    assert metrics["rewards/accuracies"].item() == 0.0  # ties are not counted as correct


def test_hinge_on_both_sides_of_the_kink() -> None:
    # policy chosen/rejected against a reference of -2 for both: βΔ = 0.5·(c - r)
    reference = torch.tensor([-2.0, -2.0, -2.0])
    policy_chosen = torch.tensor([-1.5, -1.0, 0.0])  # chosen log-ratios 0.5, 1, 2
    policy_rejected = torch.tensor([-2.5, -3.0, -4.0])  # rejected log-ratios -0.5, -1, -2: βΔ = 0.5, 1, 2
    per_pair = []
    for i in range(3):
        pair = (policy_chosen[i : i + 1], policy_rejected[i : i + 1], reference[:1], reference[:1])
        per_pair.append(preference_loss(*pair, beta=BETA, loss_type=["hinge"])[0].item())
    assert per_pair == pytest.approx([0.5, 0.0, 0.0])  # relu(1 - 0.5), relu(1 - 1), relu(1 - 2)
    batch, _ = preference_loss(
        policy_chosen, policy_rejected, reference, reference, beta=BETA, loss_type=["hinge"]
    )
    assert batch.item() == pytest.approx(0.5 / 3)


def test_hinge_and_ipo() -> None:
    hinge, _ = preference_loss(*logps(), beta=BETA, loss_type=["hinge"])
    assert hinge.item() == pytest.approx(0.0)  # relu(1 - 1)
    ipo, _ = preference_loss(*logps(), beta=BETA, loss_type=["ipo"])
    assert ipo.item() == pytest.approx(1.0)  # (2 - 1/(2·0.5))² = 1


def test_ipo_length_normalised() -> None:
    lengths = {"chosen_lengths": torch.tensor([2]), "rejected_lengths": torch.tensor([4])}
    ipo, _ = preference_loss(*logps(), beta=BETA, loss_type=["ipo"], **lengths)
    assert ipo.item() == pytest.approx(0.0625)  # Δ_norm = 1/2 - (-1/4) = 0.75; (0.75 - 1)² = 0.0625


def test_robust_hand_computed_and_unbiased() -> None:
    eps = 0.25
    robust, _ = preference_loss(*logps(), beta=BETA, loss_type=["robust"], label_smoothing=eps)
    # ((1-ε)·log(1+e^-1) - ε·log(1+e^1)) / (1-2ε) = (0.75·0.31326 - 0.25·1.31326) / 0.5 ≈ -0.18674
    expected = (0.75 * softplus(-1.0) - 0.25 * softplus(1.0)) / 0.5
    assert robust.item() == pytest.approx(expected)
    pc, pr, rc, rr = logps()
    flipped, _ = preference_loss(pr, pc, rr, rc, beta=BETA, loss_type=["robust"], label_smoothing=eps)
    clean, _ = preference_loss(*logps(), beta=BETA)
    # Chowdhury et al.: the expectation over label flips equals the clean DPO loss.
    assert ((1 - eps) * robust + eps * flipped).item() == pytest.approx(clean.item())


def test_sigmoid_with_label_smoothing_is_conservative_dpo() -> None:
    loss, _ = preference_loss(*logps(), beta=BETA, label_smoothing=0.1)
    assert loss.item() == pytest.approx(0.9 * softplus(-1.0) + 0.1 * softplus(1.0))


def test_weighted_combination_with_sft() -> None:
    nll = torch.tensor([0.7])
    loss, _ = preference_loss(
        *logps(), beta=BETA, loss_type=["sigmoid", "sft"], loss_weights=[0.8, 1.0], chosen_nll=nll
    )
    assert loss.item() == pytest.approx(0.8 * softplus(-1.0) + 0.7)


def test_gradients_finite_and_push_the_right_way() -> None:
    pc, pr, rc, rr = logps(requires_grad=True)
    loss, _ = preference_loss(pc, pr, rc, rr, beta=BETA, loss_type=list(LOSS_TYPES[:4]), label_smoothing=0.1)
    loss.backward()
    assert torch.isfinite(pc.grad).all() and torch.isfinite(pr.grad).all()
    pc2, pr2, _, _ = logps(requires_grad=True)
    sigmoid, _ = preference_loss(pc2, pr2, rc, rr, beta=BETA)
    sigmoid.backward()
    # d/dΔ of -log σ(βΔ) = -β·σ(-βΔ) = -0.5·σ(-1) ≈ -0.1345
    assert pc2.grad.item() == pytest.approx(-0.5 / (1 + math.e))
    assert pr2.grad.item() == pytest.approx(0.5 / (1 + math.e))


def test_errors() -> None:
    with pytest.raises(ValueError, match="known loss types are"):
        preference_loss(*logps(), loss_type=["kto"])
    with pytest.raises(ValueError, match="loss_weights has 1 entries"):
        preference_loss(*logps(), loss_type=["sigmoid", "ipo"], loss_weights=[1.0])
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 0.5\)"):
        preference_loss(*logps(), label_smoothing=0.5)
    with pytest.raises(ValueError, match="needs chosen_nll"):
        preference_loss(*logps(), loss_type=["sft"])
    with pytest.raises(ValueError, match="both chosen_lengths and rejected_lengths"):
        preference_loss(*logps(), loss_type=["ipo"], chosen_lengths=torch.tensor([2]))


def test_config_validates_and_forwards() -> None:
    config = DPOLossSettings(beta=BETA, loss_type="hinge")
    assert config.loss_type == ["hinge"]
    loss, _ = preference_loss(*logps(), **config.loss_kwargs())
    assert loss.item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="known loss types"):
        DPOLossSettings(loss_type=["dpo"])
    with pytest.raises(ValueError, match="beta must be positive"):
        DPOLossSettings(beta=0.0)


def test_dtype_and_batch_are_preserved() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs = [-torch.rand(5, dtype=torch.float64, generator=generator) for _ in range(4)]
    loss, metrics = preference_loss(*inputs, loss_type=["sigmoid", "ipo"])
    assert loss.dtype == torch.float64 and loss.shape == ()
    assert metrics["rewards/accuracies"].dtype == torch.float64
