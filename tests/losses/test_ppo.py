"""Hand-computed checks of the PPO pieces."""

import math

import pytest
import torch

from lightning_csr.losses.masked import masked_whiten
from lightning_csr.losses.ppo import (
    AdaptiveKLController,
    FixedKLController,
    gae,
    kl_penalty,
    ppo_policy_loss,
    ppo_value_loss,
    shaped_rewards,
)

MASK = torch.tensor([[1, 1, 1, 0]])


def test_kl_is_zero_when_policies_agree() -> None:
    logp = torch.tensor([[-1.0, -2.0, -0.1]])
    for kind in ("k1", "k3", "k1_clamped"):
        assert torch.equal(kl_penalty(logp, logp.clone(), kind), torch.zeros_like(logp))


def test_kl_estimators_hand_computed() -> None:
    logp, ref = torch.tensor([-1.0, -1.0]), torch.tensor([-1.5, -0.5])  # log-ratios 0.5 and -0.5
    assert kl_penalty(logp, ref, "k1").tolist() == [0.5, -0.5]
    assert kl_penalty(logp, ref, "k1_clamped").tolist() == [0.5, 0.0]
    # k3 = r - 1 - log r with log r = ref - logp: e^-0.5 - 1 + 0.5 ≈ 0.1065; e^0.5 - 1 - 0.5 ≈ 0.1487
    expected = torch.tensor([math.exp(-0.5) - 0.5, math.exp(0.5) - 1.5])
    assert torch.allclose(kl_penalty(logp, ref, "k3"), expected)


def test_shaped_rewards_put_score_on_last_real_token() -> None:
    logp = torch.tensor([[-1.0, -1.0, -1.0, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5, 5.0]])  # k1 = 0.5, 0, -0.5, (padding)
    rewards = shaped_rewards(torch.tensor([2.0]), logp, ref, MASK, kl_coef=0.1)
    # -0.1·0.5 = -0.05; 0; -0.1·(-0.5) + 2 = 2.05; padding stays 0
    assert torch.allclose(rewards, torch.tensor([[-0.05, 0.0, 2.05, 0.0]]))
    clamped = shaped_rewards(torch.tensor([2.0]), logp, ref, MASK, kl_coef=0.1, kl_kind="k1_clamped")
    assert torch.allclose(clamped, torch.tensor([[-0.05, 0.0, 2.0, 0.0]]))
    with pytest.raises(ValueError, match="at least one real token"):
        shaped_rewards(torch.tensor([1.0]), logp, ref, torch.zeros_like(MASK), kl_coef=0.1)


def test_gae_hand_computed() -> None:
    rewards = torch.tensor([[0.0, 1.0, 0.0, 7.0]])
    values = torch.tensor([[0.5, 0.2, 0.1, 9.0]])
    advantages, returns = gae(rewards, values, MASK)
    # γ = λ = 1: A_2 = 0 - 0.1 = -0.1; A_1 = 1 + 0.1 - 0.2 + A_2 = 0.8; A_0 = 0 + 0.2 - 0.5 + 0.8 = 0.5
    assert torch.allclose(advantages, torch.tensor([[0.5, 0.8, -0.1, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[1.0, 1.0, 0.0, 0.0]]))  # A + V, padding 0
    advantages, returns = gae(rewards, values, MASK, gamma=0.9, lam=0.5)
    # δ_2 = -0.1; δ_1 = 1 + 0.9·0.1 - 0.2 = 0.89; δ_0 = 0.9·0.2 - 0.5 = -0.32
    # A_2 = -0.1; A_1 = 0.89 + 0.45·(-0.1) = 0.845; A_0 = -0.32 + 0.45·0.845 = 0.06025
    assert torch.allclose(advantages, torch.tensor([[0.06025, 0.845, -0.1, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[0.56025, 1.045, 0.0, 0.0]]))


def test_masked_whiten() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    # mean 2, unbiased variance ((1)² + 0 + (1)²)/2 = 1
    assert torch.allclose(masked_whiten(values, MASK), torch.tensor([[-1.0, 0.0, 1.0, 0.0]]), atol=1e-6)
    assert torch.allclose(masked_whiten(values, MASK, shift_mean=False), torch.tensor([[1.0, 2.0, 3.0, 0.0]]))
    with pytest.raises(ValueError, match="at least 2"):
        masked_whiten(values, torch.tensor([[1, 0, 0, 0]]))


def test_policy_loss_hand_computed() -> None:
    old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[1.5, 0.5, 7.0]])).requires_grad_(True)  # ratios 1.5, 0.5, (padding)
    advantages = torch.tensor([[1.0, 1.0, 1.0]])
    loss, clipfrac, approx_kl = ppo_policy_loss(logp, old, advantages, torch.tensor([[1, 1, 0]]))
    # ρ = 1.5: max(-1.5, -1.2) = -1.2 (clipped); ρ = 0.5: max(-0.5, -0.8) = -0.5 (unclipped) → mean -0.85
    assert loss.item() == pytest.approx(-0.85)
    assert clipfrac.item() == pytest.approx(0.5)
    assert approx_kl.item() == pytest.approx(0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2)
    loss.backward()
    # only the unclipped token has a gradient: d(-A·ρ)/dlogp = -ρ = -0.5, divided by 2 tokens
    assert torch.allclose(logp.grad, torch.tensor([[0.0, -0.25, 0.0]]))


def test_value_loss_hand_computed() -> None:
    values = torch.tensor([[1.5, 0.0, 0.5]])
    old_values = torch.tensor([[1.0, 0.0, 1.0]])
    returns = torch.tensor([[0.0, 1.0, 0.0]])
    loss, clipfrac = ppo_value_loss(values, old_values, returns, torch.ones(1, 3))
    # clipped V: 1.2, 0.0, 0.8 → errors max(2.25, 1.44), max(1, 1), max(0.25, 0.64) → 0.5·3.89/3
    assert loss.item() == pytest.approx(0.5 * 3.89 / 3)
    assert clipfrac.item() == pytest.approx(1 / 3)


def test_kl_controllers() -> None:
    fixed = FixedKLController(0.1)
    fixed.update(current_kl=100.0, n_steps=512)
    assert fixed.value == 0.1
    adaptive = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10000)
    adaptive.update(current_kl=12.0, n_steps=256)
    # error clip(12/6 - 1, ±0.2) = 0.2 → β = 0.1·(1 + 0.2·256/10000) = 0.100512
    assert adaptive.value == pytest.approx(0.100512)
    adaptive.update(current_kl=5.4, n_steps=1000)  # error -0.1 → ×0.99
    assert adaptive.value == pytest.approx(0.100512 * 0.99)


def test_unknown_kl_kind() -> None:
    with pytest.raises(ValueError, match="known estimators are"):
        kl_penalty(torch.zeros(1), torch.zeros(1), "k2")
