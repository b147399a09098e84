"""Hand-computed checks of the pairwise reward-model loss."""

import math

import pytest
import torch

from lightning_csr.losses.reward_model import pairwise_reward_loss


def test_hand_computed_loss_and_metrics() -> None:
    chosen = torch.tensor([1.0, 0.0])
    rejected = torch.tensor([0.0, 1.0])
    loss, metrics = pairwise_reward_loss(chosen, rejected, centering_weight=0.1)
    # margins 1, -1: (log(1+e^-1) + log(1+e^1)) / 2 = 0.8133; centering |mean(1, 1)| = 1 → + 0.1
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(1.0))) / 2 + 0.1
    assert loss.item() == pytest.approx(expected)
    assert metrics["accuracy"].item() == 0.5
    assert metrics["margin"].item() == 0.0
    assert metrics["mean_reward"].item() == 0.5


def test_centering_uses_absolute_mean() -> None:
    zeros = torch.zeros(2)
    loss, _ = pairwise_reward_loss(zeros - 2, zeros - 2, centering_weight=1e-3)
    assert loss.item() == pytest.approx(math.log(2) + 1e-3 * 4)  # |mean(-4)| = 4


def test_gradients_finite_and_directed() -> None:
    chosen = torch.tensor([0.3], requires_grad=True)
    rejected = torch.tensor([0.5], requires_grad=True)
    loss, _ = pairwise_reward_loss(chosen, rejected)
    loss.backward()
    assert torch.isfinite(chosen.grad).all() and chosen.grad.item() < 0 < rejected.grad.item()


def test_negative_weight_rejected() -> None:
    with pytest.raises(ValueError, match="centering_weight must be non-negative"):
        pairwise_reward_loss(torch.zeros(1), torch.zeros(1), centering_weight=-1.0)
